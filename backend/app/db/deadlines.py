"""One client-side deadline per request for its database work.

`statement_timeout` only bounds what reaches a live server; behind a pooler whose Postgres is
gone, a query waits in PgBouncer's queue (`query_wait_timeout`, 120 s by default) and the
request would hang with it. So every request's database work, whichever way it reaches the
database, runs under one asyncio deadline: the statement timeout plus a grace period, after
which it answers `503 database_unavailable`. One timer per request, not asyncpg's
`command_timeout` (a timer per round trip, which the hot paths would pay several times)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.core.config import Settings
from app.core.errors import DatabaseUnavailable

# How much longer than the server's statement_timeout the client waits: the server's own
# timeout (a clean `57014`, connection still usable) should win when it can fire.
GRACE_SECONDS = 2.0


def deadline_seconds(settings: Settings) -> float | None:
    """None (no deadline) when the statement timeout is off too."""
    if settings.statement_timeout_ms == 0:
        return None
    return settings.statement_timeout_ms / 1000 + GRACE_SECONDS


class DeadlinePassed(DatabaseUnavailable):
    """The request's database work ran out of time; its connection may be mid-statement."""


@asynccontextmanager
async def database_deadline(settings: Settings) -> AsyncIterator[None]:
    """Cancel what the block awaits once the deadline passes, and answer 503. The task's
    connection is then discarded (a cancelled statement may still be running)."""
    try:
        async with asyncio.timeout(deadline_seconds(settings)):
            yield
    except TimeoutError as error:
        raise DeadlinePassed() from error
