"""The request transaction: the one place where a request's database work is opened, set up
for its user, committed and rolled back, whatever the route.

`request_transaction` checks a connection out of the engine's pool (`app.db.sql`: liveness
retry, 503 when the database cannot serve), begins on the asyncpg connection itself, runs as
the token's user (`USER_SETUP`: RLS claims, request role, timeouts, one round trip), and
commits when the block ends without an error, before the response is sent.

Both ways the code reaches the database use that one transaction: the hot paths' hand-written
SQL takes the asyncpg connection (`RequestTransaction.sql`); ORM code takes
`RequestTransaction.session`, an `AsyncSession` made on first use over the very same pooled
connection, with the driver adapter in autocommit so that SQLAlchemy never begins or commits
on its own (its savepoints still nest inside the request's transaction; `session.commit()`
flushes). Why this way round rather than an SQLAlchemy `AsyncConnection` owning the
transaction: measured on the embedded Postgres (`open, set up, one select, commit`), opening
through SQLAlchemy's connection and its lazy BEGIN roughly doubles the owner's own Python
cost per request, and building the session objects costs about as much again; the hot
routes, which never need a session, pay neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import Settings
from app.db.deadlines import database_deadline
from app.db.roles import REQUEST_ROLE
from app.domain.actor import Actor

if TYPE_CHECKING:
    from app.db.database import Database
    from app.db.sql import BorrowedConnection

# A transaction's context, set with `set_config(..., true)` (= SET LOCAL): it ends with the
# transaction, so it is safe on a transaction-mode pooler. The system form (maintenance
# commands) sets the timeouts only; a user's adds their JWT claims and the request role, so
# Postgres RLS checks the same tenancy as the services. Positional parameters: the asyncpg
# form, which SQLAlchemy's asyncpg dialect accepts too (`exec_driver_sql`).
_TIMEOUTS = "select set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)"
SYSTEM_SETUP = _TIMEOUTS
USER_SETUP = (
    _TIMEOUTS + ", set_config('request.jwt.claims', $3, true),"
    f" set_config('role', '{REQUEST_ROLE}', true)"
)


def setup_arguments(settings: Settings, claims_json: str | None = None) -> tuple[str, ...]:
    timeouts = (f"{settings.statement_timeout_ms}ms", f"{settings.lock_timeout_ms}ms")
    return timeouts if claims_json is None else (*timeouts, claims_json)


async def configure_transaction(
    target: AsyncSession | AsyncConnection,
    settings: Settings,
    *,
    claims_json: str | None = None,
) -> None:
    """Set the context of a transaction that SQLAlchemy opened outside a request (the CLI's
    maintenance, tests): the same statement `request_transaction` sends."""
    connection = await target.connection() if isinstance(target, AsyncSession) else target
    statement = SYSTEM_SETUP if claims_json is None else USER_SETUP
    await connection.exec_driver_sql(statement, setup_arguments(settings, claims_json))


class RequestTransaction:
    """One request's transaction, as its user: the asyncpg connection for hand-written SQL,
    an ORM session on the same connection on demand, the actor and the settings."""

    __slots__ = ("_borrowed", "_session", "actor", "settings", "sql")

    def __init__(self, borrowed: BorrowedConnection, actor: Actor, settings: Settings) -> None:
        self._borrowed = borrowed
        self._session: AsyncSession | None = None
        self.sql: Any = borrowed.driver
        self.actor = actor
        self.settings = settings

    @property
    def session(self) -> AsyncSession:
        """The ORM's view of this transaction, made on first use (the hot paths never ask)."""
        if self._session is None:
            self._session = self._borrowed.open_session()
        return self._session

    async def _finish_session(self, *, succeeded: bool) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if succeeded:
            try:
                await session.commit()  # flushes what is pending; the owner commits
            finally:
                await session.close()
            return
        # Already failing: the request's own error is the one to answer. (In autocommit the
        # session's rollback sends nothing; the owner rolls the transaction back.)
        with contextlib.suppress(Exception):
            await session.close()


@asynccontextmanager
async def request_transaction(
    database: Database, actor: Actor
) -> AsyncIterator[RequestTransaction]:
    """The request's transaction as `actor`: committed when the block ends without an error,
    rolled back otherwise, the connection returned (or discarded) either way; all of it under
    the request's database deadline (`app.db.deadlines`)."""
    settings = database.settings
    async with database_deadline(settings), database.driver_connections.transaction() as borrowed:
        await borrowed.driver.execute(USER_SETUP, *setup_arguments(settings, actor.claims_json))
        transaction = RequestTransaction(borrowed, actor, settings)
        try:
            yield transaction
        except BaseException:
            await transaction._finish_session(succeeded=False)
            raise
        await transaction._finish_session(succeeded=True)
