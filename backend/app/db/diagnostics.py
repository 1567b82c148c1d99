"""Turn a failed database connection into one line an operator can act on."""

from __future__ import annotations

import socket

import asyncpg

from app.core.config import DatabaseUrl


def describe_connection_error(error: BaseException, url: DatabaseUrl) -> str:
    where = url.redacted()
    cause: BaseException = error
    # SQLAlchemy wraps the driver's error; the driver's is the one that explains.
    while getattr(cause, "orig", None) is not None:
        cause = cause.orig  # type: ignore[attr-defined]
    # ... and SQLAlchemy's asyncpg adapter raises its DBAPI errors `from` asyncpg's own.
    if cause.__cause__ is not None and type(cause).__module__.startswith("sqlalchemy."):
        cause = cause.__cause__
    if isinstance(cause, TimeoutError):
        return f"database at {where} did not answer in time (host down or firewalled?)"
    if isinstance(cause, socket.gaierror):
        return f"database host {url.host!r} cannot be resolved (typo in DATABASE_URL?)"
    if isinstance(cause, ConnectionRefusedError):
        return f"database at {where} refused the connection (is Postgres running on that port?)"
    if isinstance(
        cause, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return f"database at {where} rejected the credentials: {cause}"
    if isinstance(cause, asyncpg.InvalidCatalogNameError):
        return f"database at {where} does not exist: {cause}"
    if isinstance(cause, OSError):
        return f"cannot reach database at {where}: {cause.strerror or cause}"
    message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return f"database at {where} is not usable: {message}"
