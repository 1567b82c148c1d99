from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.db.embedded_db import free_port
from app.main import create_app
from tests.conftest import make_settings


async def _ready(app: FastAPI) -> httpx.Response:
    """`GET /health/ready` of an app started as a server starts it (its lifespan running)."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        return await client.get("/health/ready")


class TestLive:
    async def test_ok_without_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReady:
    async def test_ok_with_pool_status(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/ready")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"] == "ok"
        assert body["pool"]["mode"] == "session"
        assert "checked_out" in body["pool"]

    @pytest.mark.parametrize(
        ("url_template", "reason"),
        [
            ("postgresql://postgres@127.0.0.1:{port}/loopin", "refused the connection"),
            ("postgresql://postgres@no-such-host.invalid:5432/loopin", "cannot be resolved"),
        ],
    )
    async def test_503_problem_when_database_unreachable(
        self, url_template: str, reason: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = url_template.format(port=free_port())
        settings = make_settings(url, health_timeout_seconds=2)
        response = await _ready(create_app(settings))
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "database_unavailable"
        assert body["detail"] == "database unavailable"
        assert body["database"] == "unreachable"
        host = url.split("@")[1].split(":")[0]
        assert host not in response.text  # nothing about the database's whereabouts
        assert "postgres" not in response.text.replace("database_unavailable", "")
        assert reason in caplog.text  # the reason goes to the log

    async def test_503_when_database_missing(
        self, database_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = make_settings(database_url.rsplit("/", 1)[0] + "/no_such_database")
        response = await _ready(create_app(settings))
        assert response.status_code == 503
        assert response.json()["detail"] == "database unavailable"
        assert "no_such_database" not in response.text
        assert "does not exist" in caplog.text


class TestFrameworkErrorsAreProblems:
    async def test_unknown_path(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/nope")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "not_found"
        assert body["status"] == 404
        assert {"type", "title", "detail"} <= body.keys()

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/health")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
        assert response.headers["content-type"] == "application/problem+json"
