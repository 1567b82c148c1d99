"""The today board (the caller's due habits and routines across their families) and a
family's board (every member's progress); both run a fixed number of SQL statements (one more
when some streak goes back past the recent days), whatever the number of families, members,
habits or days of history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from app.services import boards
from app.services.boards import RECENT_DAYS
from tests.conftest import StatementLog
from tests.support.builders import (
    Person,
    add_member,
    create_family,
    create_owned_family,
    create_person,
)
from tests.support.habits import (
    Household,
    Measure,
    add_habit_version,
    create_checkin,
    create_habit,
    create_routine,
    days_ago,
    fill_checkins,
    last_weekday,
    local_today,
    member_id_of,
    set_timezone,
)
from tests.support.tenancy import assert_problem

TUESDAY = 2
MON_WED_FRI = {"kind": "weekdays", "weekdays": [1, 3, 5]}


def by_name(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {habit["name"]: habit for habit in board["habits"]}


@dataclass
class TwoFamilyTeen:
    """The household's teen, who also owns a second family, with habits in both."""

    person: Person
    tuesday: date
    second_family: uuid.UUID
    habits: dict[str, uuid.UUID]
    routine: uuid.UUID


@pytest.fixture
async def teen_in_two_families(connection: AsyncConnection, household: Household) -> TwoFamilyTeen:
    teen = household.teen
    second_family = await create_family(connection, teen, name="Band")
    band_member = await member_id_of(connection, second_family, teen.user_id)
    tuesday = last_weekday(TUESDAY, before=local_today())
    start = tuesday - timedelta(days=20)
    ours = household.family_id

    async def habit(family: uuid.UUID, member: uuid.UUID, name: str, **extra: Any) -> uuid.UUID:
        return await create_habit(connection, family, member, name=name, start_date=start, **extra)

    habits = {
        "Read": await habit(ours, household.teen_member, "Read", sort_order=1),
        "Run": await habit(ours, household.teen_member, "Run", measure=Measure.numeric(5, "km")),
        "Piano": await habit(ours, household.teen_member, "Piano", schedule=MON_WED_FRI),
        "Water": await habit(second_family, band_member, "Water"),
        "Stretch": await habit(second_family, band_member, "Stretch", sort_order=-1),
        # Never on the teen's board:
        "Kid's": await habit(ours, household.kid_member, "Kid's"),
        "Archived": await habit(ours, household.teen_member, "Archived", archived=True),
        "Future": await create_habit(
            connection,
            ours,
            household.teen_member,
            name="Future",
            start_date=tuesday + timedelta(1),
        ),
        "Outsider's": await habit(
            household.outsider_family_id, household.outsider_member, "Outsider's"
        ),
    }
    for days in (0, 1, 2):
        await create_checkin(connection, habits["Read"], tuesday - timedelta(days=days))
    await create_checkin(connection, habits["Run"], tuesday, value=2)
    await create_checkin(connection, habits["Run"], tuesday - timedelta(days=1), value=6)
    await create_checkin(connection, habits["Water"], tuesday, status="skipped")
    await create_checkin(connection, habits["Water"], tuesday - timedelta(days=1))
    await create_checkin(connection, habits["Kid's"], tuesday)
    routine = await create_routine(
        connection,
        ours,
        household.teen_member,
        [habits["Read"], habits["Run"]],
        effective_from=start,
    )
    return TwoFamilyTeen(teen, tuesday, second_family, habits, routine)


class TestTodayBoard:
    async def test_due_habits_of_both_families_with_their_status(
        self, client: httpx.AsyncClient, teen_in_two_families: TwoFamilyTeen
    ) -> None:
        teen = teen_in_two_families

        response = await client.get(
            "/v1/me/today", params={"date": str(teen.tuesday)}, headers=teen.person.headers
        )

        assert response.status_code == 200, response.text
        board = response.json()
        assert board["date"] == str(teen.tuesday)
        assert board["timezone"] == "UTC"
        habits = by_name(board)
        # Piano (Mon/Wed/Fri) is not due on a Tuesday; the others are not the teen's.
        assert set(habits) == {"Read", "Run", "Water", "Stretch"}
        assert len(board["habits"]) == 4
        assert {name: h["status"] for name, h in habits.items()} == {
            "Read": "done",
            "Run": "partial",
            "Water": "skipped",
            "Stretch": "missed",  # a past day without a check-in
        }
        assert (habits["Run"]["value"], habits["Run"]["target_value"], habits["Run"]["unit"]) == (
            2,
            5,
            "km",
        )
        assert habits["Water"]["family_id"] == str(teen.second_family)
        assert habits["Read"]["habit_id"] == str(teen.habits["Read"])

    async def test_streaks(
        self, client: httpx.AsyncClient, teen_in_two_families: TwoFamilyTeen
    ) -> None:
        teen = teen_in_two_families

        response = await client.get(
            "/v1/me/today", params={"date": str(teen.tuesday)}, headers=teen.person.headers
        )

        streaks = {name: h["current_streak"] for name, h in by_name(response.json()).items()}
        assert streaks == {
            "Read": 3,  # Sunday to Tuesday
            "Run": 1,  # Monday met; Tuesday's partial leaves the board's day open
            "Water": 1,  # Monday met, Tuesday skipped: kept, not extended
            "Stretch": 0,
        }

    async def test_mon_wed_fri_habit_is_there_on_monday(
        self, client: httpx.AsyncClient, teen_in_two_families: TwoFamilyTeen
    ) -> None:
        teen = teen_in_two_families
        monday = teen.tuesday - timedelta(days=1)

        response = await client.get(
            "/v1/me/today", params={"date": str(monday)}, headers=teen.person.headers
        )

        habits = by_name(response.json())
        assert habits["Piano"]["status"] == "missed"
        assert habits["Run"]["status"] == "done"

    async def test_today_by_default_with_pending(
        self, client: httpx.AsyncClient, teen_in_two_families: TwoFamilyTeen
    ) -> None:
        teen = teen_in_two_families

        response = await client.get("/v1/me/today", headers=teen.person.headers)

        assert response.status_code == 200, response.text
        board = response.json()
        assert board["date"] == str(local_today())
        statuses = {h["name"]: h["status"] for h in board["habits"]}
        assert statuses["Read"] == "pending"
        assert statuses["Stretch"] == "pending"
        assert "Future" in statuses  # started after Tuesday, due today

    @pytest.mark.parametrize(
        ("timezone", "day_start_hour"),
        [("Pacific/Kiritimati", 0), ("Pacific/Pago_Pago", 0), ("UTC", 23)],
    )
    async def test_default_date_is_the_callers_local_today(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        timezone: str,
        day_start_hour: int,
    ) -> None:
        await set_timezone(connection, household.teen.user_id, timezone, day_start_hour)

        response = await client.get("/v1/me/today", headers=household.teen.headers)

        assert response.json()["date"] == str(local_today(timezone, day_start_hour))
        assert response.json()["timezone"] == timezone

    async def test_ordered_by_sort_order(
        self, client: httpx.AsyncClient, teen_in_two_families: TwoFamilyTeen
    ) -> None:
        teen = teen_in_two_families

        response = await client.get(
            "/v1/me/today", params={"date": str(teen.tuesday)}, headers=teen.person.headers
        )

        names = [h["name"] for h in response.json()["habits"]]
        assert names[0] == "Stretch"  # sort_order -1
        assert names[-1] == "Read"  # sort_order 1

    async def test_routine_counts_use_the_version_in_force(
        self,
        client: httpx.AsyncClient,
        household: Household,
        teen_in_two_families: TwoFamilyTeen,
    ) -> None:
        teen = teen_in_two_families
        monday = teen.tuesday - timedelta(days=1)
        # From Tuesday on, the routine is only "Run".
        changed = await client.patch(
            f"/v1/routines/{teen.routine}",
            json={"habit_ids": [str(teen.habits["Run"])], "effective_from": str(teen.tuesday)},
            headers=teen.person.headers,
        )
        assert changed.status_code == 200, changed.text

        on_monday = await client.get(
            "/v1/me/today", params={"date": str(monday)}, headers=teen.person.headers
        )
        on_tuesday = await client.get(
            "/v1/me/today", params={"date": str(teen.tuesday)}, headers=teen.person.headers
        )

        [before] = on_monday.json()["routines"]
        [after] = on_tuesday.json()["routines"]
        # Monday, version 1: Read done, Run done (6 of 5 km).
        assert (before["version"], before["done_count"], before["total_count"]) == (1, 2, 2)
        assert before["habit_ids"] == [str(teen.habits["Read"]), str(teen.habits["Run"])]
        # Tuesday, version 2: Run partial (2 of 5 km).
        assert (after["version"], after["done_count"], after["total_count"]) == (2, 0, 1)
        assert after["habit_ids"] == [str(teen.habits["Run"])]
        assert after["routine_id"] == str(teen.routine)
        assert after["member_id"] == str(household.teen_member)

    async def test_per_week_habit_leaves_the_board_once_the_week_is_done(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        tuesday = last_weekday(TUESDAY, before=local_today())
        habit = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            name="Swim",
            schedule={"kind": "per_period", "times": 1, "period": "week"},
            start_date=tuesday - timedelta(days=14),
        )
        await create_checkin(connection, habit, tuesday - timedelta(days=1))

        on_monday = await client.get(
            "/v1/me/today",
            params={"date": str(tuesday - timedelta(days=1))},
            headers=household.teen.headers,
        )
        on_tuesday = await client.get(
            "/v1/me/today", params={"date": str(tuesday)}, headers=household.teen.headers
        )

        assert [h["status"] for h in on_monday.json()["habits"]] == ["done"]
        assert on_tuesday.json()["habits"] == []

    async def test_someone_without_families_gets_an_empty_board(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        loner = await create_person(connection, "loner")

        response = await client.get("/v1/me/today", headers=loner.headers)

        assert response.status_code == 200, response.text
        assert response.json()["habits"] == []
        assert response.json()["routines"] == []

    @pytest.mark.parametrize("day", ["2026-02-30", "today", "0001-01-01", "9999-12-31"])
    async def test_invalid_date_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household, day: str
    ) -> None:
        # A weekly habit: its week around 9999-12-31 would end after the last `date`.
        await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            schedule={"kind": "per_period", "times": 2, "period": "week"},
        )

        today = await client.get(
            "/v1/me/today", params={"date": day}, headers=household.teen.headers
        )
        family = await client.get(
            f"/v1/families/{household.family_id}/board",
            params={"date": day},
            headers=household.teen.headers,
        )

        assert assert_problem(today, 422, "validation_error")["errors"][0]["loc"] == [
            "query",
            "date",
        ]
        assert_problem(family, 422, "validation_error")

    async def test_requires_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/me/today")

        assert_problem(response, 401, "missing_token")


class TestFamilyBoard:
    async def test_every_member_with_counts_including_the_managed_kid(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        yesterday = days_ago(1)
        f = household.family_id
        kid_done = await create_habit(connection, f, household.kid_member, name="Feed cat")
        await create_habit(connection, f, household.kid_member, name="Tidy")
        await create_habit(connection, f, household.kid_member, name="Sat", schedule=MON_WED_FRI)
        teen_done = await create_habit(connection, f, household.teen_member, name="Read")
        await create_checkin(connection, kid_done, yesterday, logged_by=household.admin.user_id)
        await create_checkin(connection, teen_done, yesterday)
        # The outsider's family stays out of it.
        await create_habit(connection, household.outsider_family_id, household.outsider_member)

        response = await client.get(
            f"/v1/families/{f}/board",
            params={"date": str(yesterday)},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        board = response.json()
        assert board["family_id"] == str(f)
        assert board["date"] == str(yesterday)
        members = {m["member_id"]: m for m in board["members"]}
        assert set(members) == {
            str(household.owner_member),
            str(household.admin_member),
            str(household.teen_member),
            str(household.kid_member),
        }
        kid = members[str(household.kid_member)]
        assert kid["is_managed"] is True
        assert kid["display_name"] == "Kid"
        kid_due = 3 if yesterday.isoweekday() in (1, 3, 5) else 2
        assert (kid["done_count"], kid["total_count"]) == (1, kid_due)
        assert {h["name"]: h["status"] for h in kid["habits"]}["Feed cat"] == "done"
        teen = members[str(household.teen_member)]
        assert (teen["done_count"], teen["total_count"], teen["is_managed"]) == (1, 1, False)
        owner = members[str(household.owner_member)]
        assert (owner["done_count"], owner["total_count"], owner["habits"]) == (0, 0, [])
        assert owner["role"] == "owner"

    async def test_default_date_is_the_familys_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        parent, family_id = await create_owned_family(
            connection, "parent", timezone="Pacific/Kiritimati"
        )

        response = await client.get(f"/v1/families/{family_id}/board", headers=parent.headers)

        assert response.status_code == 200
        assert response.json()["date"] == str(local_today("Pacific/Kiritimati"))
        assert response.json()["timezone"] == "Pacific/Kiritimati"

    async def test_routines_of_members(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        f = household.family_id
        first = await create_habit(connection, f, household.kid_member, name="Teeth")
        second = await create_habit(connection, f, household.kid_member, name="Pyjamas")
        await create_routine(connection, f, household.kid_member, [first, second], name="Bed")
        await create_checkin(connection, second, days_ago(1))

        response = await client.get(
            f"/v1/families/{f}/board",
            params={"date": str(days_ago(1))},
            headers=household.admin.headers,
        )

        members = {m["member_id"]: m for m in response.json()["members"]}
        [routine] = members[str(household.kid_member)]["routines"]
        assert (routine["name"], routine["done_count"], routine["total_count"]) == ("Bed", 1, 2)

    async def test_outsider_gets_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await create_habit(connection, household.family_id, household.kid_member, name="Secret")

        hidden = await client.get(
            f"/v1/families/{household.family_id}/board", headers=household.outsider.headers
        )
        missing = await client.get(
            f"/v1/families/{uuid.uuid4()}/board", headers=household.outsider.headers
        )

        assert_problem(hidden, 404, "family_not_found")
        assert hidden.json() == missing.json()
        assert "Secret" not in hidden.text


# --- statement budgets ---------------------------------------------------------------------

# transaction setup, caller + memberships, habits, versions, check-ins, routines
TODAY_STATEMENTS = 6
# setup, family + membership, members, habits, versions, check-ins, routines
FAMILY_BOARD_STATEMENTS = 7
# The older check-ins of the habits whose streak goes back past the recent days (one
# statement for all of them, only when there are such habits).
LONG_STREAKS = 1

KINDS: list[dict[str, Any]] = [
    {"name": "Read"},
    {"name": "Run", "measure": Measure.numeric(5, "km")},
    {"name": "Screen", "measure": Measure.numeric(60, "min", "at_most")},
    {"name": "Piano", "schedule": MON_WED_FRI},
    {"name": "Swim", "schedule": {"kind": "per_period", "times": 3, "period": "week"}},
]


async def build_big_world(connection: AsyncConnection, person: Person) -> list[uuid.UUID]:
    """3 families of the person, 4 members each (the person, two logins, a managed kid), 5
    habits of every kind per member (some with a second version), 60 days of check-ins, and a
    routine per member."""
    family_ids = []
    start = days_ago(70)
    for number in range(3):
        family_id = await create_family(connection, person, name=f"Family {number}")
        family_ids.append(family_id)
        members = [await member_id_of(connection, family_id, person.user_id)]
        for role in (MemberRole.ADMIN, MemberRole.MEMBER):
            someone = await create_person(connection, f"{role}{number}")
            members.append(await add_member(connection, family_id, someone, role))
        members.append(await add_member(connection, family_id, None, display_name="Kid"))
        for member in members:
            habits = []
            for kind in KINDS:
                habit = await create_habit(connection, family_id, member, start_date=start, **kind)
                habits.append(habit)
            await add_habit_version(
                connection,
                habits[1],
                number=2,
                effective_from=days_ago(20),
                measure=Measure.numeric(7, "km"),
            )
            await create_routine(connection, family_id, member, habits[:3], effective_from=start)
    written = await fill_checkins(connection, family_ids, days=60, last=local_today())
    assert written == 3 * 4 * 5 * 60
    return family_ids


async def count_statements(
    client: httpx.AsyncClient, sql_statements: StatementLog, path: str, person: Person
) -> int:
    sql_statements.reset()
    response = await client.get(path, headers=person.headers)
    assert response.status_code == 200, response.text
    return sql_statements.count


class TestStatementBudget:
    async def test_today_board_runs_a_fixed_number_of_statements(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        sql_statements: StatementLog,
    ) -> None:
        small, family = await create_owned_family(connection, "small")
        await create_habit(
            connection, family, await member_id_of(connection, family, small.user_id)
        )
        big = await create_person(connection, "big")
        await build_big_world(connection, big)

        few = await count_statements(client, sql_statements, "/v1/me/today", small)
        many = await count_statements(client, sql_statements, "/v1/me/today", big)

        # big's streaks all go back 60 days: the older check-ins are read too, once.
        assert few == TODAY_STATEMENTS, sql_statements.statements
        assert many == TODAY_STATEMENTS + LONG_STREAKS, sql_statements.statements
        board = (await client.get("/v1/me/today", headers=big.headers)).json()
        # Every habit of big's 3 profiles has today's check-in (at its current target).
        assert len(board["habits"]) == 15
        assert {h["status"] for h in board["habits"]} == {"done"}
        assert len({h["family_id"] for h in board["habits"]}) == 3
        assert [(r["done_count"], r["total_count"]) for r in board["routines"]] == [(3, 3)] * 3

    async def test_family_board_runs_a_fixed_number_of_statements(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        sql_statements: StatementLog,
    ) -> None:
        small, small_family = await create_owned_family(connection, "small")
        await create_habit(
            connection, small_family, await member_id_of(connection, small_family, small.user_id)
        )
        big = await create_person(connection, "big")
        big_family = (await build_big_world(connection, big))[0]

        few = await count_statements(
            client, sql_statements, f"/v1/families/{small_family}/board", small
        )
        many = await count_statements(
            client, sql_statements, f"/v1/families/{big_family}/board", big
        )

        assert few == FAMILY_BOARD_STATEMENTS, sql_statements.statements
        assert many == FAMILY_BOARD_STATEMENTS + LONG_STREAKS, sql_statements.statements
        board = (await client.get(f"/v1/families/{big_family}/board", headers=big.headers)).json()
        assert len(board["members"]) == 4
        assert [(m["done_count"], m["total_count"]) for m in board["members"]] == [(5, 5)] * 4
        assert {m["is_managed"] for m in board["members"]} == {True, False}


class TestRecentDaysFirst:
    """The boards read the recent weeks of check-ins, then older ones only for the streaks
    that go back further: the same answers as reading the whole look-back at once."""

    async def test_the_same_boards_as_reading_the_whole_look_back(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        big = await create_person(connection, "big")
        family_id = (await build_big_world(connection, big))[0]
        # Breaks at different depths: inside the recent days, just past them, and none.
        await connection.execute(
            text(
                "delete from checkins c using habits h where h.id = c.habit_id"
                " and h.family_id = :family and h.name = 'Read' and c.date = :recent"
            ),
            {"family": family_id, "recent": days_ago(10)},
        )
        await connection.execute(
            text(
                "delete from checkins c using habits h where h.id = c.habit_id"
                " and h.family_id = :family and h.name in ('Swim', 'Piano')"
                " and c.date between :older and :older + 6"
            ),
            {"family": family_id, "older": days_ago(RECENT_DAYS + 8)},
        )
        paths = ["/v1/me/today", f"/v1/families/{family_id}/board"]
        paths += [f"{path}?date={days_ago(3)}" for path in paths]

        answers = [(await client.get(path, headers=big.headers)).json() for path in paths]
        monkeypatch.setattr(boards, "RECENT_DAYS", boards.STREAK_LOOKBACK_DAYS)
        whole = [(await client.get(path, headers=big.headers)).json() for path in paths]

        assert answers == whole
        streaks = [h["current_streak"] for h in answers[0]["habits"]]
        assert max(streaks) > RECENT_DAYS  # some went past the recent days
        read = [h for h in answers[1]["members"][0]["habits"] if h["name"] == "Read"]
        assert read[0]["current_streak"] == 10  # broken 10 days ago: the last 10 days
