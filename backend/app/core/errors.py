"""Domain errors and their one rendering: RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.problem_codes import declare
from app.db.disconnects import means_disconnect

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://loopin.app/problems/"

logger = logging.getLogger(__name__)


class ProblemError(Exception):
    """Base of every error the API answers on purpose."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A new code joins the registry (and so the OpenAPI enum) by being declared here:
        its meaning is the class's docstring, else its title."""
        super().__init_subclass__(**kwargs)
        meaning = (cls.__doc__ or cls.title).strip().split("\n\n")[0]
        declare(cls.code, cls.status, meaning)

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)


class BadRequest(ProblemError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **kwargs)


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class UnreadableRecord(Conflict):
    """A stored row the code cannot interpret (a schedule of an unknown kind, say). The
    database's checks keep such rows out (migration 0006), so one that is there anyway was
    forced in around them: logged as an error, answered as a problem, never a crash."""

    code, title = "stored_data_unreadable", "Stored data cannot be read"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Stored data of this resource cannot be read ({what}); it has been reported."
        )
        self.what = what


class Gone(ProblemError):
    status, code, title = 410, "gone", "Gone"


class PreconditionFailed(ProblemError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class Unprocessable(ProblemError):
    status, code, title = 422, "validation_error", "Unprocessable content"


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class AuthUnavailable(ServiceUnavailable):
    """The token cannot be checked: the signing keys cannot be fetched and none is known.
    Our failure, so never a 401 (the app's cue to sign the user out)."""

    code = "auth_unavailable"
    title = "Service Unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "Service Unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database is not reachable right now; retry shortly.",
            headers={"Retry-After": "1"},
        )


def problem_body(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_of(error: ProblemError) -> dict[str, Any]:
    return problem_body(error.status, error.code, error.detail, title=error.title, **error.extra)


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, code, detail, title=title, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


_FRAMEWORK_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _handle_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
    )


async def _handle_unreadable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnreadableRecord)
    logger.error("unreadable stored data on %s %s: %s", request.method, request.url.path, exc.what)
    return await _handle_problem(request, exc)


def _allowed_methods(request: Request) -> str:
    """Every method the path takes, as the OpenAPI document lists them. The router's own 405
    names only the first route that matched the path, while each method of a path is a route
    of its own."""
    paths: list[tuple[re.Pattern[str], str]] | None = getattr(request.app.state, "allow", None)
    if paths is None:
        paths = [
            (
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$"),
                ", ".join(sorted(method.upper() for method in item)),
            )
            for path, item in request.app.openapi()["paths"].items()
        ]
        request.app.state.allow = paths
    return next((allow for pattern, allow in paths if pattern.match(request.url.path)), "")


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _FRAMEWORK_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        detail = f"{request.method} is not allowed here; this path takes {headers['Allow']}."
    return problem_response(exc.status_code, code, detail, headers=headers)


def _for_people(error: Any) -> str:
    """The validator's own words, without the library's "Value error, " prefix (pydantic
    puts it before every message a validator raises)."""
    message = str(error.get("msg", ""))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


async def _handle_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": _for_people(err), "type": err.get("type")}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "validation_error",
        "The request is not valid; see `errors`.",
        title="Unprocessable content",
        errors=errors,
    )


def _is_connection_failure(exc: DBAPIError) -> bool:
    """SQLAlchemy saw a disconnect, our connect hook reported an unreachable server (the only
    source of `OperationalError` with asyncpg), or the driver's error says the connection is
    gone. Not every `InterfaceError`: asyncpg raises those for bad statements too."""
    return (
        exc.connection_invalidated
        or isinstance(exc, OperationalError)
        or means_disconnect(_driver_error(exc))
    )


# Constraints whose violation is a client-facing rule, not a bug. Checked by the database so
# they hold under concurrency; usually caught earlier by a service with the same answer.
_CONSTRAINT_PROBLEMS = {
    "family_has_owner": (
        409,
        "last_owner",
        "A family always has an owner: make another member owner first, or delete the family.",
    ),
    "fk_users_id_users": (401, "user_not_found", "The token's user no longer exists."),
}
# SQLSTATEs that mean "try again": lock/statement timeouts, serialization failures, deadlocks.
_RETRYABLE_SQLSTATES = {"55P03", "57014", "40001", "40P01"}
# Both "permission denied for ..." and "new row violates row-level security policy".
_INSUFFICIENT_PRIVILEGE = "42501"
# Class 22 "data exception": a value Postgres cannot take (a NUL character in text, an integer
# out of range, ...). Bad input that slipped past validation, so the client's fault, not a 500.
_DATA_EXCEPTION_CLASS = "22"


def _driver_error(exc: DBAPIError) -> BaseException | None:
    # SQLAlchemy's asyncpg adapter wraps asyncpg's exception; that one has the details.
    return exc.orig.__cause__ if exc.orig is not None else None


def _database_problem(
    driver_error: BaseException | None, *, integrity: bool, unavailable: bool
) -> JSONResponse:
    """The answer to a failed statement, by what asyncpg reported: a client-facing rule, bad
    input, a busy or unreachable database, or (only then) a bug."""
    constraint = getattr(driver_error, "constraint_name", None)
    sqlstate = getattr(driver_error, "sqlstate", None)
    kind = _error_kind(constraint, sqlstate, integrity=integrity, unavailable=unavailable)
    _count_database_error(kind)
    if kind == "constraint":
        status, code, detail = _CONSTRAINT_PROBLEMS[str(constraint)]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(status, code, detail, headers=headers)
    if integrity:
        logger.warning("unmapped integrity error on %s", constraint, extra={"kind": kind})
        return problem_response(409, "conflict", "The change conflicts with the current data.")
    if kind == "refused":
        # Postgres refused what a service let through (a policy's WITH CHECK, a column
        # grant): the request lacked the right, so it is answered like any other refusal.
        # Logged, since the service should have said so first.
        logger.warning("the database refused a request's statement: %s", driver_error)
        return problem_response(
            403, "permission_denied", "You are not allowed to make this change."
        )
    if kind == "data":
        logger.warning("data exception %s reached the database", sqlstate, extra={"kind": kind})
        return problem_response(
            422,
            "invalid_value",
            "A value in the request is out of range or cannot be stored.",
            errors=[{"loc": [], "msg": "out of range or not storable", "type": "value_error"}],
        )
    if sqlstate in _RETRYABLE_SQLSTATES:
        return problem_response(
            503,
            "database_busy",
            "The database could not finish in time; retry shortly.",
            headers={"Retry-After": "1"},
        )
    if unavailable:
        logger.warning(
            "database unavailable: %s", type(driver_error).__name__, extra={"kind": kind}
        )
        return problem_response(
            503,
            "database_unavailable",
            "The database is not reachable right now; retry shortly.",
            headers={"Retry-After": "1"},
        )
    logger.exception("unexpected database error", extra={"kind": kind, "sqlstate": sqlstate})
    return problem_response(500, "internal_error", "An unexpected error occurred.")


def _error_kind(constraint: object, sqlstate: object, *, integrity: bool, unavailable: bool) -> str:
    """The database error's kind, as the metrics and the logs name it."""
    if constraint in _CONSTRAINT_PROBLEMS:
        return "constraint"
    if integrity:
        return "integrity"
    if sqlstate == _INSUFFICIENT_PRIVILEGE:
        return "refused"
    if isinstance(sqlstate, str) and sqlstate.startswith(_DATA_EXCEPTION_CLASS):
        return "data"
    if sqlstate in _RETRYABLE_SQLSTATES:
        return "busy"
    if unavailable:
        return "unavailable"
    return "unexpected"


def _count_database_error(kind: str) -> None:
    # Imported here: the CLI imports this module before `loopin serve` sets up the metrics'
    # multiprocess folder (see app.core.metrics).
    from app.core import metrics

    metrics.database_error(kind)


async def _handle_database(_: Request, exc: Exception) -> JSONResponse:
    """A statement run through SQLAlchemy (the ORM session)."""
    assert isinstance(exc, DBAPIError)
    return _database_problem(
        _driver_error(exc) or exc.orig,
        integrity=isinstance(exc, IntegrityError),
        unavailable=_is_connection_failure(exc) or isinstance(exc.orig, TimeoutError | OSError),
    )


async def _handle_driver(_: Request, exc: Exception) -> JSONResponse:
    """A statement run on asyncpg directly (the hot paths, `app.db.sql`)."""
    return _database_problem(
        exc,
        integrity=isinstance(exc, asyncpg.IntegrityConstraintViolationError),
        unavailable=means_disconnect(exc),
    )


async def _handle_unexpected(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        logger.warning("dependency unavailable: %r", exc)
        return problem_response(
            503, "service_unavailable", "A dependency is not reachable; retry shortly."
        )
    logger.exception("unhandled error")
    return problem_response(500, "internal_error", "An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UnreadableRecord, _handle_unreadable)
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(DBAPIError, _handle_database)
    app.add_exception_handler(asyncpg.PostgresError, _handle_driver)
    app.add_exception_handler(asyncpg.InterfaceError, _handle_driver)
    app.add_exception_handler(Exception, _handle_unexpected)
