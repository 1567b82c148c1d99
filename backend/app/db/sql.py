"""Where a request's connection comes from: the engine's own pool, checked out as a pooled
asyncpg connection in a transaction (`app.db.transaction` owns that transaction).

The screens the app opens most (the today board, a family's board, a check-in, a habit's
stats) run a few fixed statements per request, and through the ORM each statement costs more
Python than Postgres spends answering it (statement construction, cache keys, greenlet
switches, entity loading). So the transaction is begun on the driver itself, hand-written SQL
talks to it directly (parameters by position, rows as asyncpg records), and ORM code gets an
`AsyncSession` over the same pooled connection only when it asks for one.

A connection the server dropped while pooled is replaced once before anything has run; one
that failed mid-request is invalidated, never handed out again; "the database cannot serve"
is answered `503 database_unavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.core.errors import DatabaseUnavailable
from app.db.disconnects import means_disconnect


@dataclass(frozen=True, slots=True)
class BorrowedConnection:
    """A connection inside its request's transaction: the asyncpg connection, and a factory
    for an ORM session on the same connection and transaction."""

    driver: Any  # asyncpg.Connection
    open_session: Callable[[], AsyncSession]


class DriverConnections(Protocol):
    """Where a request's transaction on an asyncpg connection comes from."""

    def transaction(self) -> AbstractAsyncContextManager[BorrowedConnection]: ...


# Errors after which the connection may still be in the middle of an operation (a cancelled
# request, a client-side timeout, and the "another operation is in progress" that a rollback
# then meets): never handed out again.
_LEAVES_PROTOCOL_BUSY = (asyncio.CancelledError, asyncpg.InternalClientError)
# What the API answers as "database unavailable" (503) rather than as the error itself.
_UNAVAILABLE = (OSError, asyncpg.InternalClientError)


def _driver(pooled: PoolProxiedConnection) -> Any:
    connection = pooled.driver_connection
    assert connection is not None
    return connection


def _causes(error: BaseException) -> list[BaseException]:
    """The error and the ones it was raised while handling (a failed rollback after a
    timeout reports the rollback's error, with the timeout as its context)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 5:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _raise_as_answered(error: BaseException) -> NoReturn:
    """Re-raise `error`, as `503 database_unavailable` when the database could not serve."""
    if any(isinstance(cause, _UNAVAILABLE) for cause in _causes(error)):
        raise DatabaseUnavailable() from error
    raise error


class PooledDriverConnections:
    """asyncpg connections from the engine's own pool: one pool for the ORM and the hot
    paths, sized once, and the pooler settings (no statement cache behind PgBouncer) apply
    to both."""

    def __init__(
        self, engine: AsyncEngine, *, query_logger: Callable[[Any], None] | None = None
    ) -> None:
        self.engine = engine
        # Told of every statement once it has run (asyncpg's `LoggedQuery`): the benchmark
        # records the SQL to replay, the tests the order in which concurrent writes landed.
        self.query_logger = query_logger

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[BorrowedConnection]:
        """A pooled connection in a transaction: committed when the block ends without an
        error, rolled back otherwise, the connection returned (or discarded) either way."""
        pooled, transaction = await self._begin()
        # Kept: an ORM session that meets a disconnect invalidates `pooled`, which then
        # forgets its driver connection.
        driver = _driver(pooled)
        try:
            try:
                yield BorrowedConnection(driver, lambda: self._session_on(pooled))
            except asyncio.CancelledError:
                raise  # mid-statement maybe: the connection is discarded, the server rolls back
            except BaseException:
                if not driver.is_closed():
                    await transaction.rollback()
                raise
            await transaction.commit()
        except BaseException as error:
            await self._discard_if_broken(pooled, driver, error)
            _raise_as_answered(error)
        finally:
            await self._checkin(pooled, driver)

    def _session_on(self, pooled: PoolProxiedConnection) -> AsyncSession:
        """An ORM session on the borrowed connection, inside the driver's transaction: the
        adapter in autocommit, so SQLAlchemy's BEGIN and COMMIT send nothing (savepoints
        still do), until the connection is checked in."""
        pooled.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        connection = AsyncConnection(self.engine, Connection(self.engine.sync_engine, pooled))
        return AsyncSession(bind=connection, expire_on_commit=False)

    async def _begin(self) -> tuple[PoolProxiedConnection, Any]:
        """Check a connection out and begin. The BEGIN doubles as the liveness check a
        pre-ping would spend three round trips on: a connection the server dropped while it
        sat in the pool fails it, and since nothing has happened yet, one fresh connection
        is tried instead of answering 503."""
        for attempt in (1, 2):
            pooled = await self._checkout()
            driver = _driver(pooled)
            try:
                transaction = driver.transaction()  # raises if it is closed already
                await transaction.start()
            except BaseException as error:
                stale = (
                    means_disconnect(error)
                    or isinstance(error, asyncpg.InternalClientError)
                    or driver.is_closed()
                )
                # Dropped while idle in the pool, most likely with every connection opened
                # before it (a restarted or failed-over server): all are replaced on their
                # next checkout, so the retry gets a fresh one.
                await self._discard_if_broken(pooled, driver, error, dropped=stale)
                await self._checkin(pooled, driver)
                if attempt == 2 or not stale:
                    _raise_as_answered(error)
                continue
            return pooled, transaction
        raise AssertionError("unreachable")

    async def _checkout(self) -> PoolProxiedConnection:
        try:
            pooled = await self.engine.raw_connection()
        except self.engine.dialect.loaded_dbapi.OperationalError as error:
            # Checking out bypasses SQLAlchemy's error wrapping: the database is not there
            # (see `database._connect`), which the ORM path answers as 503 too.
            raise DatabaseUnavailable() from error
        if self.query_logger is not None:
            _driver(pooled).add_query_logger(self.query_logger)
        return pooled

    async def _checkin(self, pooled: PoolProxiedConnection, driver: Any) -> None:
        if self.query_logger is not None:
            driver.remove_query_logger(self.query_logger)
        adapter = pooled.dbapi_connection
        if adapter is not None:  # None once invalidated
            adapter.autocommit = False
        # Closing a pooled connection returns it; the pool's reset may await the driver,
        # which SQLAlchemy only does inside its greenlet.
        await greenlet_spawn(pooled.close)

    async def _discard_if_broken(
        self,
        pooled: PoolProxiedConnection,
        driver: Any,
        error: BaseException,
        *,
        dropped: bool = False,
    ) -> None:
        causes = _causes(error)
        busy = any(isinstance(cause, _LEAVES_PROTOCOL_BUSY) for cause in causes)
        dropped = dropped or any(means_disconnect(cause) for cause in causes) or driver.is_closed()
        if busy or dropped:
            # Closed at once: SQLAlchemy's invalidation would first try a graceful close,
            # which a hung or vanished server never answers.
            driver.terminate()
        if dropped:
            # As SQLAlchemy does on a disconnect: this connection and every other one opened
            # before it (to the same, probably restarted, server) are replaced on their next
            # checkout, instead of failing one request each.
            await greenlet_spawn(self.engine.pool._invalidate, pooled, error)
        elif busy:
            await greenlet_spawn(pooled.invalidate, error)
