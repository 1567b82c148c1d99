"""GET /v1/sync for a family with years of history: a first sync comes in bounded pages
(entities and bytes), and a page costs the same statements at the start as at the end.

Committing mode (the cursor follows committed transaction ids). The check-ins are written by
one INSERT ... SELECT, not through the API: a family of four with ten habits each, for seven
years."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.support.builders import (
    add_member,
    create_member,
    create_owned_family,
)
from tests.support.habits import create_habit, local_today
from tests.support.sync_client import applied as _applied

HABITS = 40
DAYS = 2_600
CHECKINS = HABITS * DAYS  # 104,000
PAGE = 1_000
ONE_MB = 1_048_576


@contextmanager
def statements_per_request(app: FastAPI) -> Iterator[list[int]]:
    """Counts the statements of each request the app serves (one entry per request)."""
    counts: list[int] = []
    engine = app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            counts[-1] += 1

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_family_with_years_of_checkins_syncs_from_zero_in_bounded_pages(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    _, family_id = await create_owned_family(live_connection, "parent")
    member_id = await add_member(live_connection, family_id, None, display_name="Kid")
    start = local_today() - timedelta(days=DAYS)
    for number in range(HABITS):
        await create_habit(
            live_connection, family_id, member_id, name=f"Habit {number}", start_date=start
        )
    await live_connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status)"
            " select habits.id, habits.family_id, cast(:start as date) + day, 'done'"
            " from habits, generate_series(0, cast(:days as integer) - 1) as day"
            " where habits.family_id = :family"
        ),
        {"start": start, "days": DAYS, "family": family_id},
    )
    # The grandparent joins years later and syncs from zero.
    grandpa, _ = await create_member(live_connection, family_id, "grandpa", MemberRole.ADMIN)
    await live_connection.commit()

    changes: list[dict[str, Any]] = []
    cursor: str | None = None
    with statements_per_request(live_app) as counts:
        while True:
            counts.append(0)
            params: dict[str, Any] = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            response = await live_client.get("/v1/sync", params=params, headers=grandpa.headers)
            assert response.status_code == 200, response.text[:500]
            assert len(response.content) <= ONE_MB
            page = response.json()
            assert len(page["changes"]) <= PAGE
            changes += page["changes"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break

    state = _applied(changes)
    kinds = [kind for kind, _ in state]
    assert kinds.count("checkin") == CHECKINS
    assert kinds.count("habit") == HABITS
    assert kinds.count("habit_version") == HABITS
    assert kinds.count("member") == 3
    assert kinds.count("family") == 1
    # Each entity comes at most twice (its log row before the join, and the family's
    # snapshot), so the whole first sync is linear in the family's size.
    assert len(changes) <= 2 * len(state) + PAGE
    # Whatever the page (the log's first, the snapshot's last), the same few statements.
    assert max(counts) <= 12, counts


async def test_pages_of_large_entities_stop_short_of_a_megabyte(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    """Check-ins with 1000-character notes (4 bytes each in UTF-8): a page of 1000 would be
    4 MB. Through the log (the parent) and the joined family's snapshot (the grandparent),
    every page stays under 1 MB and every check-in arrives."""
    parent, family_id = await create_owned_family(live_connection, "parent")
    member_id = await add_member(live_connection, family_id, None, display_name="Kid")
    start = local_today() - timedelta(days=1_200)
    habit_id = await create_habit(live_connection, family_id, member_id, start_date=start)
    await live_connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status, note)"
            " select :habit, :family, cast(:start as date) + day, 'done', repeat('🧸', 1000)"
            " from generate_series(0, 1199) as day"
        ),
        {"habit": habit_id, "family": family_id, "start": start},
    )
    grandpa, _ = await create_member(live_connection, family_id, "grandpa", MemberRole.ADMIN)
    await live_connection.commit()

    for person in (parent, grandpa):
        changes: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            response = await live_client.get("/v1/sync", params=params, headers=person.headers)
            assert response.status_code == 200
            assert len(response.content) <= ONE_MB
            page = response.json()
            changes += page["changes"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        notes = [data["note"] for (kind, _), data in _applied(changes).items() if kind == "checkin"]
        assert len(notes) == 1_200
        assert all(note == "🧸" * 1000 for note in notes)
