"""GET /v1/sync: delta sync for offline-first clients. Committing mode: the change log is
filled by triggers of committed transactions, and the cursor follows transaction ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.models.enums import MemberRole
from tests.support.api_calls import accept_invitation, check_in, post_habit
from tests.support.builders import (
    Person,
    add_member,
    create_owned_family,
    create_person,
)
from tests.support.sync_client import applied as _applied
from tests.support.sync_client import sync_all as _sync_all

TODAY = datetime.now(UTC).date()


def _ids(changes: list[dict[str, Any]], kind: str) -> set[str]:
    return {change["id"] for change in changes if change["type"] == kind}


async def _family_with_habit(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> tuple[Person, str, str, str]:
    parent, family_id = await create_owned_family(connection, "parent")
    await connection.commit()
    family = (await client.get(f"/v1/families/{family_id}", headers=parent.headers)).json()
    habit = await post_habit(
        client,
        family_id,
        parent,
        {
            "name": "Read",
            "assignee_id": family["my_member_id"],
            "schedule": {"kind": "daily"},
            "start_date": str(TODAY - timedelta(days=10)),
        },
    )
    assert habit.status_code == 201
    return parent, str(family_id), family["my_member_id"], habit.json()["id"]


class TestFromScratch:
    async def test_everything_visible_once_in_latest_state(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, family_id, member_id, habit_id = await _family_with_habit(
            live_client, live_connection
        )
        for days_ago in (2, 1):
            await check_in(live_client, habit_id, TODAY - timedelta(days=days_ago), parent)
        await live_client.patch(
            f"/v1/habits/{habit_id}", json={"name": "Read more"}, headers=parent.headers
        )
        changes, _ = await _sync_all(live_client, parent)
        state = _applied(changes)
        assert {key for key in state if key[0] == "family"} == {("family", family_id)}
        assert {key for key in state if key[0] == "member"} == {("member", member_id)}
        assert {key for key in state if key[0] == "habit"} == {("habit", habit_id)}
        assert len([key for key in state if key[0] == "habit_version"]) == 1
        assert len([key for key in state if key[0] == "checkin"]) == 2
        habit = state[("habit", habit_id)]
        assert habit["name"] == "Read more"  # latest state
        direct = await live_client.get(f"/v1/habits/{habit_id}", headers=parent.headers)
        assert habit == direct.json()  # the resource as its own GET shows it

    async def test_outsider_sees_nothing(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        await _family_with_habit(live_client, live_connection)
        outsider = await create_person(live_connection, "outsider")
        await live_connection.commit()
        changes, _ = await _sync_all(live_client, outsider)
        assert changes == []


class TestIncremental:
    async def test_only_what_changed_since_the_cursor(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
        _, cursor = await _sync_all(live_client, parent)
        nothing, cursor = await _sync_all(live_client, parent, cursor)
        assert nothing == []
        await live_client.delete(f"/v1/habits/{habit_id}", headers=parent.headers)
        changes, _ = await _sync_all(live_client, parent, cursor)
        assert changes == [{"type": "habit", "id": habit_id, "deleted": True, "data": None}]

    async def test_small_pages_deliver_everything(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, _, _, habit_id = await _family_with_habit(live_client, live_connection)
        for days_ago in range(6):
            await check_in(live_client, habit_id, TODAY - timedelta(days=days_ago), parent)
        whole, _ = await _sync_all(live_client, parent)
        paged, _ = await _sync_all(live_client, parent, limit=2)
        assert {(c["type"], c["id"]) for c in paged} == {(c["type"], c["id"]) for c in whole}

    async def test_bad_cursor_is_422(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        person = await create_person(live_connection, "p")
        await live_connection.commit()
        response = await live_client.get(
            "/v1/sync", params={"cursor": "not-a-cursor"}, headers=person.headers
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_cursor"


class TestLateCommits:
    async def test_a_change_committed_late_by_a_long_transaction_is_not_skipped(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        parent, family_id, _, habit_id = await _family_with_habit(live_client, live_connection)
        _, cursor = await _sync_all(live_client, parent)
        async with engine.connect() as slow:
            # A transaction that starts first, writes, and commits after others have.
            await slow.begin()
            await slow.execute(
                text(
                    "insert into checkins (habit_id, family_id, date, status)"
                    " values (:habit, :family, :day, 'done')"
                ),
                {"habit": habit_id, "family": family_id, "day": TODAY - timedelta(days=3)},
            )
            quick = await check_in(live_client, habit_id, TODAY, parent)
            assert quick.status_code == 201
            during, cursor = await _sync_all(live_client, parent, cursor)
            await slow.commit()
        after, _ = await _sync_all(live_client, parent, cursor)
        delivered = _ids(during, "checkin") | _ids(after, "checkin")
        stored = await live_connection.scalar(
            text("select count(*) from checkins where habit_id = :habit"), {"habit": habit_id}
        )
        assert stored == 2
        assert len(delivered) == 2, "both check-ins reach the client, the late one included"


class TestAccess:
    async def test_losing_access_yields_a_family_tombstone_for_that_login_only(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, family_id, _, _ = await _family_with_habit(live_client, live_connection)
        teen = await create_person(live_connection, "teen")
        teen_member = await add_member(
            live_connection, uuid.UUID(family_id), teen, MemberRole.MEMBER
        )
        await live_connection.commit()
        _, teen_cursor = await _sync_all(live_client, teen)
        _, parent_cursor = await _sync_all(live_client, parent)
        removed = await live_client.delete(
            f"/v1/families/{family_id}/members/{teen_member}", headers=parent.headers
        )
        assert removed.status_code == 204
        teen_changes, _ = await _sync_all(live_client, teen, teen_cursor)
        assert {"type": "family", "id": family_id, "deleted": True, "data": None} in teen_changes
        parent_changes, _ = await _sync_all(live_client, parent, parent_cursor)
        assert {"type": "member", "id": str(teen_member), "deleted": True, "data": None} in (
            parent_changes
        )
        assert not any(c["type"] == "family" and c["deleted"] for c in parent_changes)

    async def test_joining_delivers_the_family_as_it_is(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, family_id, _, habit_id = await _family_with_habit(live_client, live_connection)
        grandpa = await create_person(live_connection, "grandpa")
        await live_connection.commit()
        _, cursor = await _sync_all(live_client, grandpa)
        invitation = await live_client.post(
            f"/v1/families/{family_id}/invitations", json={"role": "admin"}, headers=parent.headers
        )
        accepted = await accept_invitation(live_client, invitation.json()["token"], grandpa)
        assert accepted.status_code == 200
        changes, _ = await _sync_all(live_client, grandpa, cursor)
        assert _ids(changes, "family") == {family_id}
        assert habit_id in _ids(changes, "habit")
        assert len(_ids(changes, "member")) == 2
