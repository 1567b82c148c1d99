"""`loopin migrate` as replicas run it: started together, on a busy database, and what
`loopin doctor` says before it runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command

from app.core.config import DatabaseUrl
from app.db.migrations import (
    MIGRATION_LOCK_KEY,
    alembic_config,
    head_revision,
    pending_revisions,
)
from tests.support.databases import TestServer, fetch, scratch_database
from tests.support.processes import clean_env, loopin


def env_for(direct_url: str, **extra: str) -> dict[str, str]:
    return clean_env(DIRECT_URL=direct_url, **extra)


def start_migrate(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def fresh_database(test_server: TestServer) -> Iterator[str]:
    """An empty database of its own on the test server, shaped like the test database:
    migrated from nothing, and its advisory locks seen by no other test."""
    with scratch_database(test_server, "loopin_migrate") as url:
        yield url


def all_revisions(url: str) -> list[str]:
    return pending_revisions(DatabaseUrl(url), None)


def test_two_replicas_started_together_apply_each_migration_once(fresh_database: str) -> None:
    head = head_revision(DatabaseUrl(fresh_database))

    async def race() -> list[tuple[int, str]]:
        # The test holds the lock first, so both commands are certainly waiting for it when
        # it is released: they then contend for it at the same instant.
        holder = await asyncpg.connect(fresh_database)
        try:
            await holder.execute("select pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            processes = [start_migrate(env_for(fresh_database)) for _ in range(2)]
            deadline = time.monotonic() + 60
            waiting = (
                "select count(*) from pg_locks where locktype = 'advisory' and not granted and"
                " database = (select oid from pg_database where datname = current_database())"
            )
            while await holder.fetchval(waiting) < 2:
                assert time.monotonic() < deadline, "the two commands never waited for the lock"
                assert all(p.poll() is None for p in processes), "a command exited early"
                await asyncio.sleep(0.1)
            await holder.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        finally:
            await holder.close()
        results = []
        for process in processes:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=120)
            results.append((process.returncode, stderr))
        return results

    results = asyncio.run(race())

    assert [code for code, _ in results] == [0, 0], results
    outputs = [stderr for _, stderr in results]
    assert all("another `loopin migrate` holds the lock; waiting" in out for out in outputs)
    migrated = [out for out in outputs if "migrated from an empty database" in out]
    assert len(migrated) == 1, outputs
    assert f"to {head}: applied {', '.join(all_revisions(fresh_database))}" in migrated[0]
    [other] = [out for out in outputs if out is not migrated[0]]
    assert f"already at head ({head}) (after waiting for another migrate)" in other
    versions = fetch(fresh_database, "select version_num from alembic_version")
    assert [row["version_num"] for row in versions] == [head]


def test_at_head_says_so_and_changes_nothing(fresh_database: str) -> None:
    first = loopin("migrate", env=env_for(fresh_database), timeout=120)
    again = loopin("migrate", env=env_for(fresh_database), timeout=120)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert "already at head" in again.stderr
    assert "waiting" not in again.stderr


def test_ddl_behind_live_traffic_gives_up_after_the_lock_timeout(fresh_database: str) -> None:
    command.upgrade(alembic_config(DatabaseUrl(fresh_database)), "0003")

    async def migrate_while_a_write_is_open() -> tuple[int, str, float]:
        # An open writing transaction on families: 0004's CREATE TRIGGER needs a lock that
        # conflicts with it, and would otherwise wait (and make later writes wait) forever.
        traffic = await asyncpg.connect(fresh_database)
        try:
            transaction = traffic.transaction()
            await transaction.start()
            await traffic.execute("lock table public.families in row exclusive mode")
            started = time.monotonic()
            process = start_migrate(env_for(fresh_database, MIGRATION_LOCK_TIMEOUT_MS="300"))
            _, stderr = await asyncio.to_thread(process.communicate, timeout=60)
            elapsed = time.monotonic() - started
            await transaction.rollback()
        finally:
            await traffic.close()
        return process.returncode, stderr, elapsed

    code, stderr, elapsed = asyncio.run(migrate_while_a_write_is_open())

    assert code == 1
    assert "migration failed" in stderr
    assert "lock timeout" in stderr
    assert "Traceback" not in stderr
    assert elapsed < 30
    versions = fetch(fresh_database, "select version_num from alembic_version")
    assert [row["version_num"] for row in versions] == ["0003"]


def test_doctor_lists_pending_migrations(fresh_database: str) -> None:
    command.upgrade(alembic_config(DatabaseUrl(fresh_database)), "0002")

    result = loopin(
        "doctor",
        env=env_for(fresh_database, DATABASE_URL=fresh_database, SUPABASE_JWT_SECRET="x" * 40),
        timeout=60,
    )

    assert result.returncode == 1
    pending = all_revisions(fresh_database)[2:]
    assert (
        f"[FAIL] migrations: database at 0002, {len(pending)} pending: {', '.join(pending)}"
        in result.stdout
    )
    assert "fix: run `loopin migrate`" in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres.ref:pw@pooler.example.test:6543/postgres",
        "postgresql://u:pw@127.0.0.1:5432/db?pgbouncer=true",
    ],
)
def test_refuses_a_transaction_mode_pooler(url: str) -> None:
    result = loopin("migrate", env=env_for(url), timeout=60)

    assert result.returncode == 1
    assert "looks like a transaction-mode pooler" in result.stderr
    assert "set DIRECT_URL" in result.stderr
    assert "pw" not in result.stderr
