"""Check-ins: one per habit and local date, written idempotently by the assignee or an admin
on their behalf; dates judged by the habit owner's local today (their timezone and
day_start_hour; a managed kid lives by the family's timezone)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.sql import PooledDriverConnections
from app.models.enums import MemberRole
from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.api_calls import check_in, checkin_path
from tests.support.builders import (
    add_member,
    create_family,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.habits import (
    Household,
    Measure,
    create_checkin,
    create_habit,
    days_ago,
    local_today,
    set_timezone,
)
from tests.support.tenancy import assert_problem, scalar

# UTC+14 and UTC-11: 25 hours apart, so Kiritimati's date is always after Pago Pago's.
EARLIEST_ZONE = "Pacific/Kiritimati"
LATEST_ZONE = "Pacific/Pago_Pago"


async def stored_checkins(connection: AsyncConnection, habit_id: uuid.UUID) -> list[Any]:
    rows = await connection.execute(
        text(
            "select date, status::text, value, note, logged_by from checkins"
            " where habit_id = :habit order by date"
        ),
        {"habit": habit_id},
    )
    return [tuple(row) for row in rows]


class TestPutCheckin:
    async def test_first_put_creates_a_repeat_replaces_the_same_row(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(20, "pages"),
        )
        created = await check_in(
            client, habit_id, days_ago(1), household.teen, value=12, note="bus"
        )
        replaced = await check_in(client, habit_id, days_ago(1), household.teen, value=25)

        assert created.status_code == 201, created.text
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["id"] == created.json()["id"]
        assert created.json()["value"] == 12
        assert created.json()["note"] == "bus"
        # The last write wins entirely: the note it left out is gone.
        assert replaced.json()["value"] == 25
        assert replaced.json()["note"] is None
        assert replaced.json()["date"] == str(days_ago(1))
        assert replaced.json()["logged_by"] == str(household.teen.user_id)
        assert await stored_checkins(connection, habit_id) == [
            (days_ago(1), "done", 25, None, household.teen.user_id)
        ]

    async def test_same_put_twice_answers_the_same(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        path = checkin_path(habit_id, local_today())
        body = {"status": "done", "note": "before school"}

        first = await client.put(path, json=body, headers=household.teen.headers)
        second = await client.put(path, json=body, headers=household.teen.headers)

        assert (first.status_code, second.status_code) == (201, 200)
        keys = ("id", "habit_id", "date", "status", "value", "note", "logged_by", "created_at")
        assert {k: first.json()[k] for k in keys} == {k: second.json()[k] for k in keys}
        assert len(await stored_checkins(connection, habit_id)) == 1

    async def test_skipped_replaces_done(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        await check_in(client, habit_id, days_ago(2), household.teen)
        skipped = await check_in(
            client, habit_id, days_ago(2), household.teen, "skipped", note="sick"
        )

        assert skipped.status_code == 200
        assert skipped.json()["status"] == "skipped"
        assert await stored_checkins(connection, habit_id) == [
            (days_ago(2), "skipped", None, "sick", household.teen.user_id)
        ]

    @pytest.mark.parametrize("parent", ["owner", "admin"])
    async def test_parent_logging_for_a_managed_kid_is_recorded_as_the_parent(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        parent: str,
    ) -> None:
        person = household.owner if parent == "owner" else household.admin
        habit_id = await create_habit(connection, household.family_id, household.kid_member)

        response = await check_in(client, habit_id, days_ago(1), person)

        assert response.status_code == 201, response.text
        assert response.json()["logged_by"] == str(person.user_id)
        assert (await stored_checkins(connection, habit_id))[0][4] == person.user_id

    async def test_admin_logs_for_a_member_with_a_login(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(client, habit_id, days_ago(1), household.admin)

        assert response.status_code == 201
        assert response.json()["logged_by"] == str(household.admin.user_id)

    async def test_numeric_skip_needs_no_value(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, measure=Measure.numeric(3)
        )

        response = await check_in(client, habit_id, days_ago(1), household.teen, "skipped")

        assert response.status_code == 201, response.text
        assert response.json()["value"] is None

    async def test_fractional_value_round_trips(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, measure=Measure.numeric(5)
        )

        response = await check_in(client, habit_id, days_ago(1), household.teen, value=2.75)

        assert response.status_code == 201, response.text
        assert response.json()["value"] == 2.75


class TestPutCheckinRefusals:
    async def test_future_date_of_the_owners_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(
            client, habit_id, local_today() + timedelta(days=1), household.teen
        )

        assert_problem(response, 422, "date_in_future")
        assert await stored_checkins(connection, habit_id) == []

    async def test_before_the_habit_starts(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(3)
        )

        before = await check_in(client, habit_id, days_ago(4), household.teen)
        first_day = await check_in(client, habit_id, days_ago(3), household.teen)

        assert_problem(before, 422, "before_start")
        assert first_day.status_code == 201

    async def test_backfill_window_is_30_days(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(90)
        )

        too_old = await check_in(client, habit_id, days_ago(31), household.teen)
        oldest = await check_in(client, habit_id, days_ago(30), household.teen)

        assert_problem(too_old, 422, "outside_backfill_window")
        assert oldest.status_code == 201, oldest.text
        assert [row[0] for row in await stored_checkins(connection, habit_id)] == [days_ago(30)]

    async def test_numeric_done_needs_a_value(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, measure=Measure.numeric(8)
        )

        response = await check_in(client, habit_id, days_ago(1), household.teen)

        assert_problem(response, 422, "value_required")
        assert await stored_checkins(connection, habit_id) == []

    async def test_boolean_takes_no_value(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(client, habit_id, days_ago(1), household.teen, value=1)

        assert_problem(response, 422, "value_not_allowed")
        assert await stored_checkins(connection, habit_id) == []

    async def test_value_rule_follows_the_version_of_that_day(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        # Boolean until 3 days ago, numeric since.
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(10)
        )
        change = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"type": "numeric", "target_value": 5, "effective_from": str(days_ago(3))},
            headers=household.teen.headers,
        )
        assert change.status_code == 200, change.text

        old_day = await check_in(client, habit_id, days_ago(5), household.teen, value=5)
        new_day = await check_in(client, habit_id, days_ago(2), household.teen)

        assert_problem(old_day, 422, "value_not_allowed")
        assert_problem(new_day, 422, "value_required")

    @pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "2026-13-01", "20260101"])
    async def test_invalid_date_in_the_path(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household, day: str
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(client, habit_id, day, household.teen)

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["path", "date"]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"status": "maybe"},
            {"status": "done", "value": -1},
            {"status": "done", "mood": "great"},
            {"status": "done", "note": "x" * 1001},
        ],
        ids=["no-status", "bad-status", "negative", "unknown-field", "long-note"],
    )
    async def test_invalid_body(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        body: dict[str, Any],
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, measure=Measure.numeric(3)
        )

        response = await client.put(
            checkin_path(habit_id, days_ago(1)), json=body, headers=household.teen.headers
        )

        assert_problem(response, 422, "validation_error")
        assert await stored_checkins(connection, habit_id) == []

    async def test_archived_habit_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, archived=True
        )

        response = await check_in(client, habit_id, days_ago(1), household.teen)

        assert_problem(response, 409, "habit_archived")
        assert await stored_checkins(connection, habit_id) == []

    @pytest.mark.parametrize("habit_of", ["parent", "kid"])
    async def test_member_cannot_check_in_someone_elses_habit(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        habit_of: str,
    ) -> None:
        assignee = household.owner_member if habit_of == "parent" else household.kid_member
        habit_id = await create_habit(connection, household.family_id, assignee)

        response = await check_in(client, habit_id, days_ago(1), household.teen)

        assert_problem(response, 403, "not_assignee")
        assert await stored_checkins(connection, habit_id) == []

    async def test_outsider_gets_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        hidden = await check_in(client, habit_id, days_ago(1), household.outsider)
        missing = await check_in(client, uuid.uuid4(), days_ago(1), household.outsider)

        assert_problem(hidden, 404, "habit_not_found")
        assert hidden.json() == missing.json()
        assert await stored_checkins(connection, habit_id) == []

    async def test_deleted_habit_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        deleted = await client.delete(f"/v1/habits/{habit_id}", headers=household.teen.headers)
        assert deleted.status_code == 204

        response = await check_in(client, habit_id, days_ago(1), household.teen)

        assert_problem(response, 404, "habit_not_found")


@pytest.fixture
async def week_window_client(
    database_url: str, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with `CHECKIN_BACKFILL_DAYS=7`, on the test's connection."""
    app = app_on_connection(make_settings(database_url, checkin_backfill_days=7), connection)
    async with client_on_connection(app, connection) as client:
        yield client
    await app.state.database.dispose()


class TestBackfillWindowSetting:
    async def test_window_follows_the_setting(
        self,
        week_window_client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(60)
        )

        too_old = await check_in(week_window_client, habit_id, days_ago(8), household.teen)
        oldest = await check_in(week_window_client, habit_id, days_ago(7), household.teen)

        body = assert_problem(too_old, 422, "outside_backfill_window")
        assert "7 days" in body["detail"]
        assert oldest.status_code == 201, oldest.text


class TestOwnersLocalToday:
    """The owner's clock decides; the writer's does not."""

    async def test_user_ahead_of_utc_may_log_their_own_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, EARLIEST_ZONE)
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        their_today = local_today(EARLIEST_ZONE)
        assert their_today >= local_today("UTC")

        allowed = await check_in(client, habit_id, their_today, household.teen)
        refused = await check_in(client, habit_id, their_today + timedelta(days=1), household.teen)

        assert allowed.status_code == 201, allowed.text
        assert_problem(refused, 422, "date_in_future")

    async def test_user_behind_utc_may_not_log_a_date_of_kiritimati(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, LATEST_ZONE)
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(client, habit_id, local_today(EARLIEST_ZONE), household.teen)
        theirs = await check_in(client, habit_id, local_today(LATEST_ZONE), household.teen)

        assert_problem(response, 422, "date_in_future")
        assert theirs.status_code == 201

    async def test_admin_logs_by_the_members_clock_not_their_own(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.admin.user_id, EARLIEST_ZONE)
        await set_timezone(connection, household.teen.user_id, LATEST_ZONE)
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await check_in(client, habit_id, local_today(EARLIEST_ZONE), household.admin)

        assert_problem(response, 422, "date_in_future")

    async def test_day_start_hour_moves_the_date(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, "UTC", day_start_hour=23)
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(5)
        )
        their_today = local_today("UTC", day_start_hour=23)

        allowed = await check_in(client, habit_id, their_today, household.teen)
        refused = await check_in(client, habit_id, their_today + timedelta(days=1), household.teen)

        assert allowed.status_code == 201, allowed.text
        # Before 23:00 UTC this is the UTC date itself: still tomorrow for them.
        assert_problem(refused, 422, "date_in_future")

    @pytest.mark.parametrize(("family_zone", "status"), [(EARLIEST_ZONE, 201), (LATEST_ZONE, 422)])
    async def test_managed_kid_lives_by_the_familys_timezone(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        family_zone: str,
        status: int,
    ) -> None:
        parent = await create_person(connection, "parent")
        # The parent's own clock is the other extreme: it must not matter.
        other_zone = LATEST_ZONE if family_zone == EARLIEST_ZONE else EARLIEST_ZONE
        await set_timezone(connection, parent.user_id, other_zone)
        family_id = await create_family(connection, parent, timezone=family_zone)
        kid = await add_member(connection, family_id, None, MemberRole.MEMBER, display_name="Kid")
        habit_id = await create_habit(connection, family_id, kid)

        response = await check_in(client, habit_id, local_today(EARLIEST_ZONE), parent)

        assert response.status_code == status, response.text
        if status == 422:
            assert_problem(response, 422, "date_in_future")

    async def test_family_timezone_change_moves_the_kids_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.kid_member)
        kids_today = local_today(EARLIEST_ZONE)
        moved = await client.patch(
            f"/v1/families/{household.family_id}",
            json={"timezone": LATEST_ZONE},
            headers=household.owner.headers,
        )
        assert moved.status_code == 200, moved.text
        refused = await check_in(client, habit_id, kids_today, household.owner)
        moved = await client.patch(
            f"/v1/families/{household.family_id}",
            json={"timezone": EARLIEST_ZONE},
            headers=household.owner.headers,
        )
        assert moved.status_code == 200, moved.text

        allowed = await check_in(client, habit_id, kids_today, household.owner)

        assert_problem(refused, 422, "date_in_future")
        assert allowed.status_code == 201, allowed.text


class TestDeleteCheckin:
    async def test_delete_removes_it_and_repeating_is_fine(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        await create_checkin(connection, habit_id, days_ago(1))
        await create_checkin(connection, habit_id, days_ago(2))
        path = checkin_path(habit_id, days_ago(1))

        first = await client.delete(path, headers=household.teen.headers)
        again = await client.delete(path, headers=household.teen.headers)

        assert first.status_code == 204
        assert again.status_code == 204
        listed = await client.get(f"/v1/habits/{habit_id}/checkins", headers=household.teen.headers)
        assert [c["date"] for c in listed.json()["items"]] == [str(days_ago(2))]

    async def test_member_cannot_undo_someone_elses(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.kid_member)
        await create_checkin(connection, habit_id, days_ago(1))

        denied = await client.delete(
            checkin_path(habit_id, days_ago(1)), headers=household.teen.headers
        )
        hidden = await client.delete(
            checkin_path(habit_id, days_ago(1)), headers=household.outsider.headers
        )

        assert_problem(denied, 403, "not_assignee")
        assert_problem(hidden, 404, "habit_not_found")
        assert len(await stored_checkins(connection, habit_id)) == 1

    async def test_admin_undoes_a_kids_checkin(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.kid_member)
        await create_checkin(connection, habit_id, days_ago(1))

        response = await client.delete(
            checkin_path(habit_id, days_ago(1)), headers=household.admin.headers
        )

        assert response.status_code == 204
        assert await stored_checkins(connection, habit_id) == []


class TestListCheckins:
    async def test_range_in_date_order(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(60)
        )
        for days in (45, 3, 10, 1):
            await create_checkin(connection, habit_id, days_ago(days), note=f"{days}")

        default = await client.get(
            f"/v1/habits/{habit_id}/checkins", headers=household.teen.headers
        )
        ranged = await client.get(
            f"/v1/habits/{habit_id}/checkins",
            params={"from": str(days_ago(50)), "to": str(days_ago(3))},
            headers=household.admin.headers,
        )

        assert default.status_code == 200, default.text
        assert [c["note"] for c in default.json()["items"]] == ["10", "3", "1"]
        assert [c["note"] for c in ranged.json()["items"]] == ["45", "10", "3"]

    async def test_outsider_gets_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        await create_checkin(connection, habit_id, days_ago(1), note="private")

        response = await client.get(
            f"/v1/habits/{habit_id}/checkins", headers=household.outsider.headers
        )

        assert_problem(response, 404, "habit_not_found")
        assert "private" not in response.text
        count = await scalar(
            connection, "select count(*) from checkins where habit_id = :h", h=habit_id
        )
        assert count == 1


@pytest.mark.committing
class TestConcurrentPuts:
    async def test_ten_writers_converge_on_one_row_holding_the_last_commit(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        live_app: FastAPI,
    ) -> None:
        mum, family_id = await create_owned_family(live_connection, "mum")
        dad, _ = await create_member(live_connection, family_id, "dad", MemberRole.ADMIN)
        kid, kid_member = await create_member(live_connection, family_id, "kid")
        habit_id = await create_habit(
            live_connection, family_id, kid_member, measure=Measure.numeric(10, "pages")
        )
        await live_connection.commit()
        writers = [mum, dad, kid]
        day = days_ago(1)

        # The order in which the upserts came back: each one waits for the row lock (or the
        # unique index entry) of the previous writer until that one commits, so the last to
        # come back is the last to commit.
        upserts: list[str] = []

        def record(query: Any) -> None:
            if "insert into checkins" in query.query:
                # The upsert takes its rows as arrays, one per column.
                values = [v for p in query.args for v in (p if isinstance(p, tuple) else [p])]
                upserts.append(
                    next(v for v in values if isinstance(v, str) and v.startswith("write "))
                )

        database = live_app.state.database
        database.driver_connections = PooledDriverConnections(database.engine, query_logger=record)
        answers = await asyncio.gather(
            *(
                check_in(
                    live_client,
                    habit_id,
                    day,
                    writers[index % 3],
                    value=index + 1,
                    note=f"write {index}",
                )
                for index in range(10)
            )
        )

        assert all(answer.status_code in (200, 201) for answer in answers), [
            answer.text for answer in answers
        ]
        assert [answer.status_code for answer in answers].count(201) == 1
        assert len({answer.json()["id"] for answer in answers}) == 1
        for index, answer in enumerate(answers):
            assert answer.json()["value"] == index + 1
            assert answer.json()["logged_by"] == str(writers[index % 3].user_id)
        rows = (
            await live_connection.execute(
                text("select value, note, logged_by from checkins where habit_id = :h"),
                {"h": habit_id},
            )
        ).all()
        await live_connection.commit()
        assert len(rows) == 1
        value, note, logged_by = rows[0]
        assert sorted(upserts) == sorted(f"write {index}" for index in range(10))
        last = int(upserts[-1].removeprefix("write "))
        # One whole write (not a mix of several), and the one that committed last.
        assert note == f"write {last}"
        assert value == last + 1
        assert logged_by == writers[last % 3].user_id
        assert answers[last].json()["note"] == note
