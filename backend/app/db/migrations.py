"""Run and inspect Alembic migrations from code (the CLI, the tests, `doctor`).

`migrate_under_lock` is what `loopin migrate` runs in production: several replicas may start
it at once, so it first takes a Postgres advisory lock on a connection of its own and only
then looks at the schema's revision. The first replica migrates; the others wait for the lock
and then find the database at head.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import REPO_ROOT, DatabaseUrl

ALEMBIC_INI = REPO_ROOT / "alembic.ini"

# The advisory lock every `loopin migrate` takes: one 64-bit key for "the schema of this
# database" (advisory locks are per database, so two databases on one server do not wait for
# each other). The value is arbitrary but fixed: it spells "loopinmg".
MIGRATION_LOCK_KEY = 0x6C6F6F70696E6D67


def alembic_config(url: DatabaseUrl, *, lock_timeout_ms: int | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url.libpq_url
    config.attributes["configure_logger"] = False
    if lock_timeout_ms is not None:
        config.attributes["lock_timeout_ms"] = lock_timeout_ms
    return config


def upgrade_to_head(url: DatabaseUrl) -> None:
    command.upgrade(alembic_config(url), "head")


def head_revision(url: DatabaseUrl) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def pending_revisions(url: DatabaseUrl, current: str | None) -> list[str]:
    """The revisions between `current` and head, oldest first (empty when at head)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    pending = [
        revision.revision for revision in script.iterate_revisions("heads", current or "base")
    ]
    return list(reversed(pending))


async def current_revision(url: DatabaseUrl) -> str | None:
    engine = create_async_engine(url.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("select to_regclass('public.alembic_version')"))
            if exists is None:
                return None
            revision: str | None = await connection.scalar(
                text("select version_num from alembic_version")
            )
            return revision
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class MigrationOutcome:
    before: str | None
    after: str | None
    applied: list[str]
    waited: bool

    def describe(self) -> str:
        if not self.applied:
            waited = " (after waiting for another migrate)" if self.waited else ""
            return f"already at head ({self.after}){waited}; nothing to do"
        return (
            f"migrated from {self.before or 'an empty database'} to {self.after}: "
            f"applied {', '.join(self.applied)}"
        )


async def migrate_under_lock(
    url: DatabaseUrl,
    *,
    lock_timeout_ms: int,
    on_wait: Callable[[], None] = lambda: None,
) -> MigrationOutcome:
    """`alembic upgrade head` while holding the migration advisory lock.

    The lock is session-level and lives on a dedicated connection, not on the migrations' own:
    Alembic commits once per migration, and a transaction-level lock would be released at the
    first commit. Waiting for it has no time limit (a replica may wait as long as another
    migrates); the migrations' statements do (`lock_timeout_ms`, see migrations/env.py), so a
    DDL statement that queues behind live traffic fails instead of blocking it."""
    # `statement_cache_size=0`: harmless on a direct connection, required if only a pooled
    # URL exists (a pooler in transaction mode would lose the advisory lock anyway: use
    # DIRECT_URL).
    lock_connection = await asyncpg.connect(url.libpq_url, statement_cache_size=0)
    try:
        taken = "select pg_try_advisory_lock($1)"
        waited = not await lock_connection.fetchval(taken, MIGRATION_LOCK_KEY)
        if waited:
            on_wait()
            await lock_connection.execute("select pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            before = await current_revision(url)
            applied = pending_revisions(url, before)
            if applied:
                config = alembic_config(url, lock_timeout_ms=lock_timeout_ms)
                # Alembic's env.py runs its own event loop: give it a thread of its own while
                # this loop keeps the lock's connection.
                await asyncio.to_thread(command.upgrade, config, "head")
            after = await current_revision(url)
        finally:
            await lock_connection.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await lock_connection.close()
    return MigrationOutcome(before=before, after=after, applied=applied, waited=waited)
