"""Telling "the database is not there" from "the statement was wrong", for asyncpg's errors
whichever way they arrive (through SQLAlchemy or from the driver directly)."""

from __future__ import annotations

import asyncpg

# SQLSTATEs that say the server (or the pooler in front of it) is going away, starting up or
# full, not that the statement was wrong: class 08 "connection exception", admin/crash
# shutdown, "cannot connect now", too many connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def means_unavailable(error: BaseException | None) -> bool:
    """The server (or the pooler in front of it) cannot serve us now; not a bad statement."""
    if isinstance(error, OSError | TimeoutError):  # refused, reset, unreachable, timed out
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    )


def means_disconnect(error: BaseException | None) -> bool:
    """A connection that raised this is unusable: the server went away, or a client-side
    timeout left the protocol in the middle of a statement.

    Only asyncpg's interface errors that say the connection is gone count: the others are
    our mistakes (more than 32,767 bind parameters, a wrong argument type, an operation on
    a busy connection). Taking those for an outage would answer a bug with 503 + Retry-After,
    and a client would retry it forever."""
    if means_unavailable(error) or isinstance(error, asyncpg.ConnectionDoesNotExistError):
        return True
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)
