"""The engine and its pool. Nothing here runs at import time: the app's lifespan builds a
`Database` from the settings and disposes it on shutdown."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from sqlalchemy import event, text
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from app.core.config import DatabaseUrl, PoolMode, Settings
from app.db.disconnects import means_unavailable
from app.db.sql import DriverConnections, PooledDriverConnections


def _unique_statement_name() -> str:
    # Behind a transaction-mode pooler two clients may share one server connection; asyncpg's
    # default counter-based names would then collide ("prepared statement already exists").
    return f"__asyncpg_{uuid4().hex}__"


def _connect(
    dialect: Dialect, _record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
) -> DBAPIConnection:
    """Connect as SQLAlchemy would, but report "the database is not there" as the driver's
    `OperationalError`. SQLAlchemy only wraps DBAPI errors raised while connecting; asyncpg's
    own (`ConnectionRefusedError`, `CannotConnectNowError` while Postgres starts up or recovers
    from a crash, `TooManyConnectionsError`) would reach the API unwrapped and answer `500`."""
    dbapi = dialect.loaded_dbapi
    try:
        connection: DBAPIConnection = dbapi.connect(*cargs, **cparams)
    except dbapi.Error:
        raise
    except Exception as error:
        if means_unavailable(error):
            raise dbapi.OperationalError(f"{type(error).__name__}: {error}") from error
        raise
    return connection


def _on_database_error(context: ExceptionContext) -> BaseException | None:
    """A connection the server ended (`57P01 terminating connection due to administrator
    command` after a restart, ...) or that timed out mid-statement is a disconnect even while
    asyncpg still thinks it is open: SQLAlchemy then drops it and the pool's other connections
    to the old server, instead of handing them out again, and the API answers
    `503 database_unavailable`. asyncpg's own `TimeoutError` (the command timeout) is not a
    DBAPI error, so SQLAlchemy would not wrap it: it becomes an `OperationalError` here."""
    error = context.original_exception
    if not (means_unavailable(error) or means_unavailable(error.__cause__)):
        return None
    context.is_disconnect = True
    if context.sqlalchemy_exception is None and isinstance(error, Exception):
        return OperationalError(
            context.statement, context.parameters, error, connection_invalidated=True
        )
    return None


def build_engine(settings: Settings, url: DatabaseUrl, *, pool_mode: PoolMode) -> AsyncEngine:
    # No asyncpg `command_timeout`: requests bound their database work with one deadline
    # each (app.db.deadlines).
    connect_args: dict[str, Any] = {"timeout": settings.database_connect_timeout}
    sqlalchemy_url = url.sqlalchemy_url
    if pool_mode is PoolMode.TRANSACTION:
        # PgBouncer/Supavisor in transaction mode hand each transaction any server connection,
        # so nothing may be cached per connection across transactions.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
        separator = "&" if "?" in sqlalchemy_url else "?"
        sqlalchemy_url += f"{separator}prepared_statement_cache_size=0"
    else:
        # Startup parameters are only safe on a direct/session connection: PgBouncer rejects
        # the ones it does not know. In transaction mode they are set per transaction instead.
        connect_args["server_settings"] = {"application_name": "loopin"}
    pool_options: dict[str, Any] = {}
    if settings.metrics_port is not None:
        from app.core.metrics import TimedQueuePool  # after PROMETHEUS_MULTIPROC_DIR is set

        pool_options["poolclass"] = TimedQueuePool
    engine = create_async_engine(
        sqlalchemy_url,
        **pool_options,
        # A client-side QueuePool in front of the pooler too (not NullPool): it saves a TCP+TLS
        # handshake per request, and the pooler still multiplexes our transactions.
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=settings.database_pool_recycle,
        pool_pre_ping=settings.database_pool_pre_ping,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    event.listen(engine.sync_engine, "handle_error", _on_database_error)
    return engine


class Database:
    """The runtime engine, where requests get their connections (`driver_connections`),
    and the settings their transactions apply."""

    def __init__(self, settings: Settings, url: DatabaseUrl) -> None:
        self.settings = settings
        self.url = url
        self.pool_mode = settings.pool_mode
        self.engine = build_engine(settings, url, pool_mode=self.pool_mode)
        # Where every request's connection and transaction come from (app.db.sql).
        self.driver_connections: DriverConnections = PooledDriverConnections(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()

    def pool_status(self) -> dict[str, Any]:
        pool = self.engine.pool
        status: dict[str, Any] = {"mode": self.pool_mode.value}
        if isinstance(pool, QueuePool):
            status.update(
                size=pool.size(),
                checked_out=pool.checkedout(),
                idle=pool.checkedin(),
                overflow=pool.overflow(),
            )
        return status

    async def ping(self, within_seconds: float) -> None:
        """One round trip, bounded in time; raises on failure or timeout."""
        async with asyncio.timeout(within_seconds):
            async with self.engine.connect() as connection:
                await connection.execute(text("select 1"))
