"""The `loopin` command as an operator meets it: one clear line, never a traceback wall."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.core.security import TokenClaims, TokenVerifier
from app.db.embedded_db import EmbeddedPostgres, free_port
from app.services.demo_family import DEMO_FAMILY_ID, DEMO_FAMILY_NAME, DEMO_MEMBERS
from tests.support.databases import fetch
from tests.support.processes import clean_env, loopin, start_serve


def run_loopin(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class TestDoctor:
    def test_reports_unreachable_database_with_a_fix(self) -> None:
        result = run_loopin(
            "doctor", env={"DATABASE_URL": f"postgresql://u:pw@127.0.0.1:{free_port()}/db"}
        )
        assert result.returncode == 1
        assert "[FAIL] database reachable" in result.stdout
        assert "refused the connection" in result.stdout
        assert "fix:" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr

    def test_healthy_setup_passes(self, database_url: str) -> None:
        result = run_loopin(
            "doctor",
            env={
                "DATABASE_URL": database_url,
                "SUPABASE_JWT_SECRET": "x" * 40,
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "console",
            },
        )
        assert result.returncode == 0, result.stdout
        assert "[ok] migrations" in result.stdout
        assert "[ok] pooler mode: session" in result.stdout
        assert "[ok] data API exposure" in result.stdout
        assert "[ok] request role" in result.stdout

    def test_flags_what_the_data_api_can_reach(self, database_url: str) -> None:
        """A grant to a Data API role, as a dashboard click would add it, fails the check."""

        async def run(sql: str) -> None:
            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        asyncio.run(run("grant select on public.checkins to authenticated"))
        try:
            result = run_loopin(
                "doctor", env={"DATABASE_URL": database_url, "SUPABASE_JWT_SECRET": "x" * 40}
            )
        finally:
            asyncio.run(run("revoke select on public.checkins from authenticated"))

        assert result.returncode == 1, result.stdout
        assert "[FAIL] data API exposure" in result.stdout
        assert "authenticated: SELECT on checkins" in result.stdout
        assert "revoke all on <object> from anon, authenticated" in result.stdout
        assert "[ok] request role" in result.stdout
        assert "[ok] observability: logs console at INFO; no metrics; no traces" in result.stdout

    def test_reports_logs_metrics_and_traces(self, database_url: str) -> None:
        result = run_loopin(
            "doctor",
            env={
                "DATABASE_URL": database_url,
                "SUPABASE_JWT_SECRET": "x" * 40,
                "ENVIRONMENT": "production",
                "SUPABASE_URL": "https://loopin-test.supabase.co",
                "JWT_ISSUER": "https://loopin-test.supabase.co/auth/v1",
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "json",
                "METRICS_PORT": "9464",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.internal:4318",
                "OTEL_SDK_DISABLED": "false",
            },
        )

        assert result.returncode == 0, result.stdout
        assert (
            "[ok] observability: logs json at INFO; metrics on port 9464; "
            "traces to http://collector.internal:4318"
        ) in result.stdout

    def test_bad_setting_is_one_line(self) -> None:
        result = run_loopin("doctor", env={"DATABASE_URL": "mysql://x/y"})
        assert result.returncode == 1
        assert "setting DATABASE_URL: must start with postgresql://" in result.stdout


class TestServeWithBadDatabase:
    def test_one_line_at_start_and_503_from_ready(self) -> None:
        port = free_port()
        bad_url = f"postgresql://u:pw@127.0.0.1:{free_port()}/db"
        process = start_serve(
            port, env={**os.environ, "DATABASE_URL": bad_url, "SUPABASE_JWT_SECRET": "x" * 40}
        )
        try:
            response = _wait_for(f"http://127.0.0.1:{port}/health/ready")
            assert response.status_code == 503
            assert response.json()["code"] == "database_unavailable"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=20)
        assert "refused the connection" in output
        assert "Traceback" not in output


def _wait_for(url: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --- local auth and demo data ---------------------------------------------------------------

CLI_SECRET = "cli-test-secret-with-at-least-32-bytes-of-entropy"
# A complete production configuration, spelled as an operator might (any case).
PRODUCTION = {
    "SUPABASE_JWT_SECRET": CLI_SECRET,
    "SUPABASE_URL": "https://abcd.supabase.co",
    "JWT_ISSUER": "https://abcd.supabase.co/auth/v1",
    "ENVIRONMENT": "Production",
}


def verify(token: str, secret: str, issuer: str | None = None) -> TokenClaims:
    """What the API itself would accept."""
    return asyncio.run(TokenVerifier(jwt_secret=secret, jwks_url=None, issuer=issuer).verify(token))


class TestToken:
    @pytest.fixture
    def email(self, database_url: str) -> Iterator[str]:
        """A fresh address; its login is committed by the command, so deleted afterwards."""
        email = f"cli-{uuid.uuid4().hex[:8]}@loopin.test"
        yield email
        fetch(database_url, "delete from auth.users where lower(email) = $1", email)

    def test_prints_only_a_token_that_the_api_accepts(self, database_url: str, email: str) -> None:
        issuer = "https://example.supabase.co/auth/v1"
        env = clean_env(
            DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET, JWT_ISSUER=issuer
        )

        result = loopin("token", "--email", email, env=env)

        assert result.returncode == 0, result.stderr
        [token] = result.stdout.splitlines()
        claims = verify(token, CLI_SECRET, issuer=issuer)
        assert claims.email == email
        logins = fetch(database_url, "select email from auth.users where id = $1", claims.sub)
        assert [row["email"] for row in logins] == [email]
        assert token not in result.stderr

    def test_same_email_is_the_same_user(self, database_url: str, email: str) -> None:
        env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

        first = loopin("token", "--email", email, env=env)
        second = loopin(
            "token", "--email", email.upper(), "--name", "Cleo Line", "--expires-in", "60", env=env
        )

        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr
        one = verify(first.stdout.strip(), CLI_SECRET)
        two = verify(second.stdout.strip(), CLI_SECRET)
        assert one.sub == two.sub
        assert two.claims["user_metadata"] == {"full_name": "Cleo Line"}
        assert two.claims["exp"] - two.claims["iat"] == 60
        count = fetch(
            database_url, "select count(*) from auth.users where lower(email) = $1", email
        )
        assert count[0][0] == 1

    def test_refused_in_production(self, database_url: str) -> None:
        env = clean_env(DATABASE_URL=database_url, **PRODUCTION)

        result = loopin("token", "--email", "prod@loopin.test", env=env)

        assert result.returncode == 1
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert "refuses to run with ENVIRONMENT=production" in line

    def test_with_database_url_the_secret_must_be_configured(self, database_url: str) -> None:
        result = loopin(
            "token", "--email", "x@loopin.test", env=clean_env(DATABASE_URL=database_url)
        )

        assert result.returncode == 1
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert "set SUPABASE_JWT_SECRET" in line

    def test_rejects_what_is_no_email(self) -> None:
        result = loopin("token", "--email", "not-an-address", env=clean_env())

        assert result.returncode == 2
        assert "is not an email address" in result.stderr
        assert result.stdout == ""


class TestSeedCommand:
    @pytest.fixture
    def cleanup_demo(self, database_url: str) -> Iterator[None]:
        yield
        fetch(database_url, "delete from public.families where id = $1", DEMO_FAMILY_ID)
        emails = [member.email for member in DEMO_MEMBERS if member.email]
        fetch(database_url, "delete from auth.users where email = any($1::text[])", emails)

    @pytest.mark.usefixtures("cleanup_demo")
    def test_twice_leaves_one_demo_family_with_four_members(self, database_url: str) -> None:
        env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

        first = loopin("seed", env=env)
        second = loopin("seed", env=env)

        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr
        assert "created" in first.stderr
        assert "already there" in second.stderr
        families = fetch(database_url, "select id from families where name = $1", DEMO_FAMILY_NAME)
        assert [row["id"] for row in families] == [DEMO_FAMILY_ID]
        members = fetch(
            database_url, "select count(*) from family_members where family_id = $1", DEMO_FAMILY_ID
        )
        assert members[0][0] == 4

    def test_refused_in_production(self, database_url: str) -> None:
        env = clean_env(DATABASE_URL=database_url, **PRODUCTION)

        result = loopin("seed", env=env)

        assert result.returncode == 1
        assert "refuses to run with ENVIRONMENT=production" in result.stderr


class TestMaintainCommand:
    def test_compacts_the_change_log_and_is_idempotent(self, database_url: str) -> None:
        family_id = uuid.uuid4()
        fetch(database_url, "insert into families (id, name) values ($1, 'Gone')", family_id)
        fetch(database_url, "delete from families where id = $1", family_id)
        env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

        first = loopin("maintain", env=env)
        second = loopin("maintain", "--retention-days", "30", env=env)

        assert first.returncode == 0, first.stderr
        assert "change log compacted (retention 90 days)" in first.stderr
        left = fetch(
            database_url, "select count(*) from sync_changes where family_id = $1", family_id
        )
        assert left[0][0] == 0
        assert second.returncode == 0, second.stderr
        assert "removed 0 rows of deleted families" in second.stderr

    def test_drops_stale_rate_limit_counters(self, database_url: str) -> None:
        stale, fresh = uuid.uuid4(), uuid.uuid4()
        fetch(
            database_url,
            "insert into rate_limits (user_id, bucket, window_start, hits) values"
            " ($1, 'sync', now() - interval '2 hours', 5), ($2, 'sync', now(), 5)",
            stale,
            fresh,
        )
        env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

        result = loopin("maintain", env=env)

        assert result.returncode == 0, result.stderr
        left = fetch(
            database_url,
            "select user_id from rate_limits where user_id = any($1::uuid[])",
            [stale, fresh],
        )
        assert [row["user_id"] for row in left] == [fresh]
        fetch(database_url, "delete from rate_limits where user_id = $1", fresh)

    def test_rejects_what_is_no_number_of_days(self) -> None:
        result = loopin("maintain", "--retention-days", "0", env=clean_env())

        assert result.returncode == 2
        assert "is not a positive number of days" in result.stderr


class TestEmbeddedDevelopment:
    """`make run` and `make token` on a fresh data folder: no auth settings, no database."""

    def test_local_secret_token_serve_seed_and_stop(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        env = clean_env(LOOPIN_DATA_DIR=str(data_dir), EMBEDDED_PORT=str(free_port()))

        # `loopin token` starts the database for itself and stops it again.
        minted = loopin("token", "--email", "dev@loopin.test", env=env)
        assert minted.returncode == 0, minted.stderr
        secret_file = data_dir / "jwt-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = secret_file.read_text().strip()
        dev = verify(minted.stdout.strip(), secret)
        port = int((data_dir / "port").read_text())
        assert not EmbeddedPostgres(data_dir=data_dir, port=port).is_running()

        api_port = free_port()
        log_path = tmp_path / "serve.log"
        with log_path.open("w") as log:
            process = start_serve(api_port, env=env, output=log)
        try:
            _wait_for(f"http://127.0.0.1:{api_port}/health")
            output = log_path.read_text()
            [curl] = [line.strip() for line in output.splitlines() if "curl -H" in line]
            token = curl.split("Bearer ", 1)[1].split('"', 1)[0]
            assert curl.endswith(f"http://127.0.0.1:{api_port}/v1/families")

            families = httpx.get(
                f"http://127.0.0.1:{api_port}/v1/families",
                headers={"Authorization": f"Bearer {token}"},
            )
            me = httpx.get(
                f"http://127.0.0.1:{api_port}/v1/me",
                headers={"Authorization": f"Bearer {minted.stdout.strip()}"},
            )
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)

        assert families.status_code == 200, families.text
        [family] = families.json()["items"]
        assert (family["name"], family["my_role"]) == (DEMO_FAMILY_NAME, "owner")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == str(dev.sub)
        assert process.returncode == 0
        assert "embedded Postgres stopped" in log_path.read_text()
        assert not EmbeddedPostgres(data_dir=data_dir, port=port).is_running()
        assert "Traceback" not in log_path.read_text()
