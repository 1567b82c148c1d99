"""`loopin`: serve the API, check the setup, mint local tokens, seed demo data."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.core.config import DatabaseUrl, PoolMode, Settings, SettingsError, load_settings
from app.core.database import Database
from app.core.diagnostics import describe_connection_error
from app.core.embedded_db import EmbeddedPostgres, embedded_from_env
from app.core.migrations import current_revision, head_revision, upgrade_to_head


def say(message: str) -> None:
    print(f"loopin: {message}", file=sys.stderr, flush=True)


@contextmanager
def embedded_database(settings: Settings) -> Iterator[EmbeddedPostgres]:
    """Start the embedded Postgres, point this process (and its workers) at it, stop it after."""
    server = embedded_from_env(settings.loopin_data_dir, settings.embedded_port)
    say(f"starting embedded Postgres in {server.data_dir} (first start initialises it) ...")
    server.start()
    say(f"embedded Postgres is up: {server.url}")
    os.environ["DATABASE_URL"] = server.url
    os.environ.setdefault("DIRECT_URL", server.url)
    try:
        yield server
    finally:
        say("stopping embedded Postgres ...")
        server.stop()
        say("embedded Postgres stopped; data kept in " + str(server.data_dir))


async def _check_reachable(settings: Settings, url: DatabaseUrl) -> str | None:
    database = Database(settings, url)
    try:
        await database.ping(settings.health_timeout_seconds)
    except Exception as error:  # reported as one line by the caller
        return describe_connection_error(error, url)
    finally:
        await database.dispose()
    return None


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    with _maybe_embedded(settings) as embedded:
        settings = load_settings()
        url = settings.runtime_url
        assert url is not None
        if embedded is not None:
            say("applying migrations ...")
            upgrade_to_head(url)
        else:
            problem = asyncio.run(_check_reachable(settings, url))
            if problem:
                say(f"{problem}; serving anyway, /health/ready answers 503 until it is reachable")
        say(f"serving on http://{args.host}:{args.port} (docs: /docs); Ctrl+C stops")
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            access_log=args.access_log,
        )
    return 0


@contextmanager
def _maybe_embedded(settings: Settings) -> Iterator[EmbeddedPostgres | None]:
    if settings.database_url:
        yield None
        return
    with embedded_database(settings) as server:
        yield server


def doctor(_: argparse.Namespace) -> int:
    """Pre-flight checks, each with a plain-language fix."""
    failures = 0

    def check(name: str, ok: bool, detail: str, fix: str = "") -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(
            f"[{'ok' if ok else 'FAIL'}] {name}: {detail}" + ("" if ok else f"\n       fix: {fix}")
        )

    try:
        settings = load_settings()
    except SettingsError as error:
        check("settings", False, str(error), "correct that variable in the environment or .env")
        return 1
    check("settings", True, "parsed")

    url = settings.runtime_url
    if url is None:
        server = embedded_from_env(settings.loopin_data_dir, settings.embedded_port)
        running = server.is_running()
        check(
            "database",
            True,
            f"DATABASE_URL unset: embedded Postgres in {server.data_dir} "
            + ("(running)" if running else "(starts with `loopin serve`)"),
        )
        if not running:
            return _doctor_auth(settings, check, failures)
        url = DatabaseUrl(server.url)
    problem = asyncio.run(_check_reachable(settings, url))
    check(
        "database reachable",
        problem is None,
        problem or url.redacted(),
        "check host, port, password and database name in DATABASE_URL",
    )
    mode = settings.pool_mode
    reason = "set by DATABASE_POOL_MODE" if settings.database_pool_mode else "auto-detected"
    check(
        "pooler mode",
        True,
        f"{mode.value} ({reason})"
        + ("; prepared-statement caches off" if mode is PoolMode.TRANSACTION else ""),
    )
    if problem is None:
        migration_url = settings.migration_url or url
        current = asyncio.run(current_revision(migration_url))
        head = head_revision(migration_url)
        check(
            "migrations",
            current == head,
            f"database at {current}, code at {head}",
            "run `alembic upgrade head` with DIRECT_URL set (or `loopin serve` for embedded)",
        )
    return _doctor_auth(settings, check, failures)


def _doctor_auth(settings: Settings, check: Callable[..., None], failures: int) -> int:
    configured = bool(settings.supabase_url or settings.supabase_jwt_secret)
    detail = ", ".join(
        part
        for part in (
            f"JWKS at {settings.jwks_url}" if settings.jwks_url else "",
            "HS256 secret set" if settings.supabase_jwt_secret else "",
        )
        if part
    )
    check(
        "auth",
        configured or settings.database_url is None,
        detail or "no SUPABASE_URL / SUPABASE_JWT_SECRET (embedded dev uses a local secret)",
        "set SUPABASE_URL (JWKS) and/or SUPABASE_JWT_SECRET from the Supabase dashboard",
    )
    return 1 if failures or not (configured or settings.database_url is None) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loopin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser(
        "serve", help="serve the API (embedded Postgres if no DATABASE_URL)"
    )
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve_cmd.set_defaults(handler=serve)

    doctor_cmd = commands.add_parser("doctor", help="check settings, database, migrations, auth")
    doctor_cmd.set_defaults(handler=doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except SettingsError as error:
        say(str(error))
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
