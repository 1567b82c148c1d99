"""The Prometheus metrics, read back after real requests: requests by route template, method
and status, their latency, the in-flight gauge, the pool, database errors by kind, sync sizes;
and none of it on the API's own port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.deps import SessionDep
from app.core.config import Settings
from app.core.metrics import sample_pool
from app.db.database import Database
from app.main import create_app
from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.builders import create_family, create_owned_family, create_person
from tests.support.sync_client import sync_all


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_settings(database_url: str) -> Settings:
    return make_settings(database_url, metrics_port=9464)


@pytest.fixture
async def metered_client(
    metrics_settings: Settings, connection: AsyncConnection
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = app_on_connection(metrics_settings, connection)
    async with client_on_connection(app, connection) as client:
        yield app, client
    await app.state.database.dispose()


async def test_requests_are_counted_and_timed_by_route_template(
    metered_client: tuple[FastAPI, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    _, client = metered_client
    ada = await create_person(connection, "ada")
    families = [await create_family(connection, ada) for _ in range(2)]
    labels = {"route": "/v1/families/{family_id}", "method": "GET", "status": "200"}
    missing = {"route": "/v1/families/{family_id}", "method": "GET", "status": "404"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before = {
        "ok": sample("loopin_http_requests_total", **labels),
        "ok_timed": sample("loopin_http_request_duration_seconds_count", **labels),
        "missing": sample("loopin_http_requests_total", **missing),
        "unmatched": sample("loopin_http_requests_total", **unmatched),
    }

    for family_id in families:
        assert (await client.get(f"/v1/families/{family_id}", headers=ada.headers)).is_success
    gone = await client.get(f"/v1/families/{uuid.uuid4()}", headers=ada.headers)
    nowhere = await client.get("/v1/nowhere/42")

    assert (gone.status_code, nowhere.status_code) == (404, 404)
    assert sample("loopin_http_requests_total", **labels) == before["ok"] + 2
    assert sample("loopin_http_request_duration_seconds_count", **labels) == before["ok_timed"] + 2
    assert sample("loopin_http_request_duration_seconds_sum", **labels) > 0
    assert sample("loopin_http_requests_total", **missing) == before["missing"] + 1
    assert sample("loopin_http_requests_total", **unmatched) == before["unmatched"] + 1
    # No label ever holds a path with an id in it.
    for metric in REGISTRY.collect():
        for series in metric.samples:
            assert str(families[0]) not in str(series.labels)


async def test_made_up_methods_make_up_no_series(
    metered_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = metered_client

    def others() -> float:
        return sum(
            sample("loopin_http_requests_total", route=route, method="_OTHER", status=status)
            for route in ("unmatched", "/v1/me")
            for status in ("404", "405")
        )

    before = others()

    for method in ("BREW", "WHEN", "XYZZY"):
        answer = await client.request(method, "/v1/me")
        assert answer.status_code in (404, 405)

    labels = {
        series.labels.get("method")
        for metric in REGISTRY.collect()
        for series in metric.samples
        if series.name == "loopin_http_requests_total"
    }
    assert labels.isdisjoint({"BREW", "WHEN", "XYZZY"})
    assert others() == before + 3


async def test_in_flight_counts_the_request_being_served(
    metered_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = metered_client

    async def peek() -> dict[str, float]:
        return {"in_flight": sample("loopin_http_requests_in_flight")}

    app.add_api_route("/v1/test/peek", peek)
    idle = sample("loopin_http_requests_in_flight")

    during = (await client.get("/v1/test/peek")).json()["in_flight"]

    assert during == idle + 1
    assert sample("loopin_http_requests_in_flight") == idle


async def test_database_errors_are_counted_by_kind(
    metered_client: tuple[FastAPI, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    app, client = metered_client
    ada = await create_person(connection, "ada")  # every request's transaction has a user

    async def missing_table(session: SessionDep) -> None:
        await session.execute(text("select * from no_such_table"))

    async def division_by_zero(session: SessionDep) -> None:
        await session.execute(text("select 1 / (select 0)"))

    app.add_api_route("/v1/test/missing-table", missing_table)
    app.add_api_route("/v1/test/division", division_by_zero)
    before = {kind: sample("loopin_db_errors_total", kind=kind) for kind in ("unexpected", "data")}

    assert (await client.get("/v1/test/missing-table", headers=ada.headers)).status_code == 500
    assert (await client.get("/v1/test/division", headers=ada.headers)).status_code == 422
    assert (await client.get("/v1/test/division", headers=ada.headers)).status_code == 422

    assert sample("loopin_db_errors_total", kind="unexpected") == before["unexpected"] + 1
    assert sample("loopin_db_errors_total", kind="data") == before["data"] + 2


@pytest.fixture
async def metered_live_client(
    metrics_settings: Settings, live_connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """Committing for real (sync pages follow committed transaction ids); truncated after."""
    app = create_app(metrics_settings)
    url = metrics_settings.runtime_url
    assert url is not None
    app.state.database = Database(metrics_settings, url)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.database.dispose()


async def test_sync_page_and_batch_sizes(
    metered_live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    client = metered_live_client
    parent, family_id = await create_owned_family(live_connection, "parent")
    await live_connection.commit()
    family = (await client.get(f"/v1/families/{family_id}", headers=parent.headers)).json()
    today = datetime.now(UTC).date()
    habit = await client.post(
        f"/v1/families/{family_id}/habits",
        json={
            "name": "Read",
            "assignee_id": family["my_member_id"],
            "schedule": {"kind": "daily"},
            "start_date": str(today - timedelta(days=10)),
        },
        headers=parent.headers,
    )
    assert habit.status_code == 201, habit.text
    items = [
        {"habit_id": habit.json()["id"], "date": str(today - timedelta(days=n)), "status": "done"}
        for n in range(3)
    ]
    batches = sample("loopin_sync_batch_items_count")
    batch_items = sample("loopin_sync_batch_items_sum")
    pages = sample("loopin_sync_page_changes_count")
    page_changes = sample("loopin_sync_page_changes_sum")

    written = await client.post("/v1/sync/checkins", json={"items": items}, headers=parent.headers)
    synced, _ = await sync_all(client, parent, limit=3)

    assert written.status_code == 200, written.text
    assert sample("loopin_sync_batch_items_count") == batches + 1
    assert sample("loopin_sync_batch_items_sum") == batch_items + 3
    # The family, its member, the habit and its version, three check-ins: several pages.
    assert len(synced) >= 7
    assert sample("loopin_sync_page_changes_count") >= pages + 3
    assert sample("loopin_sync_page_changes_sum") == page_changes + len(synced)


async def test_pool_gauges_and_checkout_time(metrics_settings: Settings) -> None:
    url = metrics_settings.runtime_url
    assert url is not None
    database = Database(metrics_settings, url)
    checkouts = sample("loopin_db_pool_checkout_seconds_count")
    try:
        async with database.engine.connect() as one, database.engine.connect() as two:
            await one.execute(text("select 1"))
            await two.execute(text("select 1"))
            sample_pool(database.engine)
            assert sample("loopin_db_pool_checked_out") == 2
            assert sample("loopin_db_pool_size") == metrics_settings.database_pool_size
            assert sample("loopin_db_pool_overflow") == 0
        sample_pool(database.engine)
        assert sample("loopin_db_pool_checked_out") == 0
        assert sample("loopin_db_pool_checkout_seconds_count") == checkouts + 2
    finally:
        await database.dispose()


async def test_metrics_are_not_served_by_the_api(
    metered_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = metered_client

    for path in ("/metrics", "/v1/metrics"):
        assert (await client.get(path)).status_code == 404
