"""`loopin maintain`'s compaction of the sync change log: bounded under a year of writes,
idempotent, a cursor older than a removed tombstone told to resync (410), and no change a
client has not seen lost while writers and the compaction run at once.

Committing mode: the log is written by triggers of committed transactions."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.roles import REQUEST_ROLE
from app.services.change_log import compact_change_log
from tests.api.test_sync import _family_with_habit
from tests.support.api_calls import check_in
from tests.support.builders import Person
from tests.support.habits import local_today
from tests.support.sync_client import applied as _applied
from tests.support.sync_client import sync_all as _sync_all

NOW = timedelta(0)  # retention zero: everything committed is "old"


@pytest.fixture
async def reset_horizon(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with engine.begin() as connection:
        await connection.execute(text("update sync_log_state set resync_below_txid = 0"))


pytestmark = pytest.mark.usefixtures("reset_horizon")


async def _log_rows(connection: AsyncConnection) -> list[Any]:
    await connection.commit()  # a fresh snapshot
    return list(
        await connection.execute(
            text("select entity_type, entity_id, user_id, deleted from sync_changes")
        )
    )


async def test_a_year_of_writes_compacts_to_one_row_per_live_entity(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
    today = local_today()
    for day in range(365):  # the same check-in rewritten every day, the habit renamed monthly
        status = "done" if day % 2 else "skipped"
        put = await check_in(live_client, habit_id, today, parent, status)
        assert put.status_code in (200, 201)
        if day % 30 == 0:
            await live_client.patch(
                f"/v1/habits/{habit_id}", json={"name": f"Read {day}"}, headers=parent.headers
            )
    before = await _log_rows(live_connection)
    assert len(before) > 365

    first = await compact_change_log(engine, NOW)
    after = await _log_rows(live_connection)
    keys = [(row.entity_type, row.entity_id, row.user_id) for row in after]
    assert len(keys) == len(set(keys)), "one row per entity (and login, for access rows)"
    # family, member, the login's access row, habit, its version, the check-in
    assert len(after) == 6
    assert first.superseded == len(before) - 6
    assert first.remaining == 6

    again = await compact_change_log(engine, NOW)
    assert (again.of_deleted_families, again.superseded, again.tombstones) == (0, 0, 0)

    # A client syncing from zero after the compaction still gets everything, latest state.
    changes, _ = await _sync_all(live_client, parent)
    state = _applied(changes)
    assert state[("habit", habit_id)]["name"] == "Read 360"
    assert {key[0] for key in state} == {"family", "member", "habit", "habit_version", "checkin"}


async def test_a_cursor_older_than_a_removed_tombstone_must_resync(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
    _, before_delete = await _sync_all(live_client, parent)
    deleted = await live_client.delete(f"/v1/habits/{habit_id}", headers=parent.headers)
    assert deleted.status_code == 204
    seen, after_delete = await _sync_all(live_client, parent, before_delete)
    assert {"type": "habit", "id": habit_id, "deleted": True, "data": None} in seen

    done = await compact_change_log(engine, NOW)
    assert done.tombstones >= 1

    stale = await live_client.get(
        "/v1/sync", params={"cursor": before_delete}, headers=parent.headers
    )
    assert stale.status_code == 410
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["code"] == "resync_required"
    # The cursor that saw the tombstone carries on; a sync from zero works too.
    fine = await live_client.get(
        "/v1/sync", params={"cursor": after_delete}, headers=parent.headers
    )
    assert fine.status_code == 200
    fresh, _ = await _sync_all(live_client, parent)
    assert ("habit", habit_id) not in _applied(fresh)


async def test_a_pass_from_zero_overtaken_by_compaction_starts_over(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    """A phone pages a sync from zero, a page at a time, and holds a check-in from an early
    page; the check-in is deleted and compaction removes its tombstone before the phone reads
    on. Carrying on would never tell the phone: it must start over."""
    parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
    put = await live_client.put(
        f"/v1/habits/{habit_id}/checkins/{local_today()}",
        json={"status": "done"},
        headers=parent.headers,
    )
    checkin_id = put.json()["id"]
    cursor = None
    held: dict[Any, Any] = {}
    while ("checkin", checkin_id) not in held:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await live_client.get("/v1/sync", params=params, headers=parent.headers)).json()
        assert page["has_more"], "the pass is still going when the check-in is delivered"
        held |= _applied(page["changes"])
        cursor = page["next_cursor"]

    gone = await live_client.delete(
        f"/v1/habits/{habit_id}/checkins/{local_today()}", headers=parent.headers
    )
    assert gone.status_code == 204
    assert (await compact_change_log(engine, NOW)).tombstones >= 1

    statuses = []
    while cursor is not None:
        answer = await live_client.get(
            "/v1/sync", params={"limit": 1, "cursor": cursor}, headers=parent.headers
        )
        statuses.append(answer.status_code)
        cursor = answer.json()["next_cursor"] if answer.json().get("has_more") else None
    assert statuses[-1] == 410, statuses


async def test_rows_of_a_deleted_family_go_at_once_its_logins_tombstones_stay(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    parent, family_id, _, _ = await _family_with_habit(live_client, live_connection)
    _, cursor = await _sync_all(live_client, parent)
    gone = await live_client.delete(f"/v1/families/{family_id}", headers=parent.headers)
    assert gone.status_code == 204

    done = await compact_change_log(engine, timedelta(days=90))
    assert done.of_deleted_families > 0
    rows = await _log_rows(live_connection)
    assert all(row.user_id is not None for row in rows)
    # Within the retention period, the login still learns it lost the family.
    changes, _ = await _sync_all(live_client, parent, cursor)
    assert {"type": "family", "id": family_id, "deleted": True, "data": None} in changes


async def _client_copy(
    client: httpx.AsyncClient, person: Person, state: dict[Any, Any], cursor: str | None
) -> str | None:
    """One catch-up of an offline client: on 410 it drops its copy and starts over."""
    while True:
        params: dict[str, Any] = {"limit": 50} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/sync", params=params, headers=person.headers)
        if response.status_code == 410:
            state.clear()
            cursor = None
            continue
        assert response.status_code == 200, response.text
        page = response.json()
        state.update(_applied(page["changes"]))
        for change in page["changes"]:
            if change["deleted"]:
                state.pop((change["type"], change["id"]), None)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


async def test_no_unseen_change_is_lost_with_writers_and_compaction_at_once(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
    today = local_today()
    rng = random.Random(17)
    state: dict[Any, Any] = {}
    cursor = await _client_copy(live_client, parent, state, None)
    writing = True

    async def writer(offset: int) -> None:
        for step in range(40):
            day = today - timedelta(days=(offset + step) % 8)
            url = f"/v1/habits/{habit_id}/checkins/{day}"
            if rng.random() < 0.3:
                await live_client.delete(url, headers=parent.headers)
            else:
                status = rng.choice(["done", "skipped"])
                await live_client.put(url, json={"status": status}, headers=parent.headers)

    async def compactor() -> None:
        while writing:
            await compact_change_log(engine, NOW, batch=7)
            await asyncio.sleep(0)

    async def syncing_client() -> None:
        nonlocal cursor
        while writing:
            cursor = await _client_copy(live_client, parent, state, cursor)
            await asyncio.sleep(0)

    background = [asyncio.create_task(compactor()), asyncio.create_task(syncing_client())]
    await asyncio.gather(*(writer(offset) for offset in range(3)))
    writing = False
    await asyncio.gather(*background)
    await compact_change_log(engine, NOW)
    await _client_copy(live_client, parent, state, cursor)

    await live_connection.commit()
    stored = {
        str(row.id): row.status
        for row in await live_connection.execute(
            text("select id, status::text as status from checkins where habit_id = :habit"),
            {"habit": uuid.UUID(habit_id)},
        )
    }
    held = {key[1]: data["status"] for key, data in state.items() if key[0] == "checkin"}
    assert held == stored


async def test_only_the_owner_may_compact(connection: AsyncConnection) -> None:
    """Not the request role (the Data API's roles: `tests/test_data_api_matrix.py`)."""
    await connection.execute(text(f"set local role {REQUEST_ROLE}"))
    with pytest.raises(DBAPIError, match="permission denied"):
        await connection.execute(text("call public.compact_sync_changes('1 day')"))
