"""Who may do what with habits, check-ins, routines and the boards: every route of the habits
issue, called by each kind of caller. Admins manage every member's habits and routines; a
member manages their own; every member reads the family's; a family the caller is not in
answers 404 exactly like a missing resource; no token, 401.

Family A (see `two_families`) has an owner, an admin, a plain member who is the assignee of
`{habit}` and `{routine}`, a second plain member (`NON_ASSIGNEE`), and the login of a managed
profile who is the assignee of `{kid_habit}`. The outsider owns family B."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.family_roles import Subject, TwoFamilies
from tests.support.habits import create_checkin, create_habit, create_routine, days_ago
from tests.support.tenancy import assert_answer, assert_problem


class Caller(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    ASSIGNEE = "member-assignee"
    NON_ASSIGNEE = "member-non-assignee"
    MANAGED_LOGIN = "managed-login"
    OUTSIDER = "outsider"
    NO_TOKEN = "no-token"


SUBJECTS = {
    Caller.OWNER: Subject.OWNER,
    Caller.ADMIN: Subject.ADMIN,
    Caller.ASSIGNEE: Subject.MEMBER,
    Caller.MANAGED_LOGIN: Subject.MANAGED_LOGIN,
    Caller.OUTSIDER: Subject.OUTSIDER,
}


@dataclass(frozen=True)
class Expect:
    status: int
    code: str | None = None


FAMILY_404 = Expect(404, "family_not_found")
HABIT_404 = Expect(404, "habit_not_found")
ROUTINE_404 = Expect(404, "routine_not_found")
INSUFFICIENT = Expect(403, "insufficient_role")
NOT_ASSIGNEE = Expect(403, "not_assignee")
NO_TOKEN = Expect(401, "missing_token")


@dataclass(frozen=True)
class Row:
    """A route and what each caller gets. Placeholders: {family} family A; {habit} and
    {routine} the plain member's; {kid_habit} the managed profile's; {member} / {kid} their
    member ids; {yesterday}; {logged_day} a day with a check-in of {habit}."""

    route: str
    body: dict[str, Any] | None
    owner: Expect | int
    admin: Expect | int
    assignee: Expect | int
    non_assignee: Expect | int
    managed_login: Expect | int
    outsider: Expect | int

    @property
    def method(self) -> str:
        return self.route.split(" ")[0]

    def expect(self, caller: Caller) -> Expect:
        if caller is Caller.NO_TOKEN:
            return NO_TOKEN
        expected = {
            Caller.OWNER: self.owner,
            Caller.ADMIN: self.admin,
            Caller.ASSIGNEE: self.assignee,
            Caller.NON_ASSIGNEE: self.non_assignee,
            Caller.MANAGED_LOGIN: self.managed_login,
            Caller.OUTSIDER: self.outsider,
        }[caller]
        return expected if isinstance(expected, Expect) else Expect(expected)

    def changes_data(self, caller: Caller) -> bool:
        return self.method != "GET" and self.expect(caller).status < 300

    def __str__(self) -> str:
        body = ",".join(f"{key}={value}" for key, value in (self.body or {}).items())
        return f"{self.route} {body}".strip()


FAMILY = "/v1/families/{family}"
HABIT = "/v1/habits/{habit}"
ROUTINE = "/v1/routines/{routine}"
NEW_HABIT = {"name": "New", "assignee_id": "{member}", "schedule": {"kind": "daily"}}
KIDS_HABIT = {"name": "New", "assignee_id": "{kid}", "schedule": {"kind": "daily"}}
WEEKENDS = {"schedule": {"kind": "weekdays", "weekdays": [6, 7]}}

# fmt: off
MATRIX = [
    # route, body
    #       owner        admin        assignee     non-assignee  managed login  outsider
    Row(f"GET {FAMILY}/habits", None,
            200,         200,         200,         200,          200,           FAMILY_404),
    Row(f"POST {FAMILY}/habits", NEW_HABIT,
            201,         201,         201,         INSUFFICIENT, INSUFFICIENT,  FAMILY_404),
    Row(f"POST {FAMILY}/habits", KIDS_HABIT,
            201,         201,         INSUFFICIENT, INSUFFICIENT, 201,          FAMILY_404),
    Row(f"GET {HABIT}", None,
            200,         200,         200,         200,          200,           HABIT_404),
    Row(f"PATCH {HABIT}", {"name": "Renamed"},
            200,         200,         200,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"PATCH {HABIT}", {"archived": True},
            200,         200,         200,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"PATCH {HABIT}", WEEKENDS,
            200,         200,         200,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"DELETE {HABIT}", None,
            204,         204,         204,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"GET {HABIT}/versions", None,
            200,         200,         200,         200,          200,           HABIT_404),
    Row(f"GET {HABIT}/stats", None,
            200,         200,         200,         200,          200,           HABIT_404),
    Row(f"GET {HABIT}/history", None,
            200,         200,         200,         200,          200,           HABIT_404),
    Row(f"PUT {HABIT}/checkins/{{yesterday}}", {"status": "done"},
            201,         201,         201,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"DELETE {HABIT}/checkins/{{logged_day}}", None,
            204,         204,         204,         NOT_ASSIGNEE, NOT_ASSIGNEE,  HABIT_404),
    Row(f"GET {HABIT}/checkins", None,
            200,         200,         200,         200,          200,           HABIT_404),
    # The managed profile's login checks in its own habit.
    Row("PUT /v1/habits/{kid_habit}/checkins/{yesterday}", {"status": "done"},
            201,         201,         NOT_ASSIGNEE, NOT_ASSIGNEE, 201,           HABIT_404),
    Row(f"POST {FAMILY}/routines",
        {"name": "Morning", "assignee_id": "{member}", "habit_ids": ["{habit}"]},
            201,         201,         201,         INSUFFICIENT, INSUFFICIENT,  FAMILY_404),
    Row(f"GET {FAMILY}/routines", None,
            200,         200,         200,         200,          200,           FAMILY_404),
    Row(f"GET {ROUTINE}", None,
            200,         200,         200,         200,          200,           ROUTINE_404),
    Row(f"PATCH {ROUTINE}", {"name": "Evening"},
            200,         200,         200,         NOT_ASSIGNEE, NOT_ASSIGNEE,  ROUTINE_404),
    Row(f"PATCH {ROUTINE}", {"habit_ids": ["{habit}", "{habit2}"]},
            200,         200,         200,         NOT_ASSIGNEE, NOT_ASSIGNEE,  ROUTINE_404),
    Row(f"DELETE {ROUTINE}", None,
            204,         204,         204,         NOT_ASSIGNEE, NOT_ASSIGNEE,  ROUTINE_404),
    Row(f"GET {ROUTINE}/versions", None,
            200,         200,         200,         200,          200,           ROUTINE_404),
    Row(f"GET {ROUTINE}/versions/1", None,
            200,         200,         200,         200,          200,           ROUTINE_404),
    Row(f"GET {FAMILY}/board", None,
            200,         200,         200,         200,          200,           FAMILY_404),
    # Everyone has a today board: the outsider's shows their own family.
    Row("GET /v1/me/today", None,
            200,         200,         200,         200,          200,           200),
]
# fmt: on

CASES = [pytest.param(row, caller, id=f"{row} [{caller}]") for row in MATRIX for caller in Caller]
HIDDEN_FROM_OUTSIDER = [
    pytest.param(row, id=str(row)) for row in MATRIX if row.expect(Caller.OUTSIDER).status == 404
]


@dataclass(frozen=True)
class World:
    families: TwoFamilies
    habit: uuid.UUID
    habit2: uuid.UUID
    kid_habit: uuid.UUID
    routine: uuid.UUID
    secret: str  # in the names of family A's habits and routine: must never reach outsiders

    def headers(self, caller: Caller) -> dict[str, str]:
        if caller is Caller.NO_TOKEN:
            return {}
        if caller is Caller.NON_ASSIGNEE:
            return self.families.other.headers
        return self.families.headers(SUBJECTS[caller])

    def values(self, **overrides: uuid.UUID) -> dict[str, Any]:
        families = self.families
        values: dict[str, Any] = {
            "family": families.family_id,
            "habit": self.habit,
            "habit2": self.habit2,
            "kid_habit": self.kid_habit,
            "routine": self.routine,
            "member": families.member_ids[Subject.MEMBER],
            "kid": families.member_ids[Subject.MANAGED_LOGIN],
            "yesterday": days_ago(1),
            "logged_day": days_ago(2),
        }
        values.update(overrides)
        return values


@pytest.fixture
async def world(connection: AsyncConnection, two_families: TwoFamilies) -> World:
    family = two_families.family_id
    member = two_families.member_ids[Subject.MEMBER]
    kid = two_families.member_ids[Subject.MANAGED_LOGIN]
    secret = two_families.family_name
    habit = await create_habit(connection, family, member, name=f"{secret} habit")
    habit2 = await create_habit(connection, family, member, name=f"{secret} habit 2")
    kid_habit = await create_habit(connection, family, kid, name=f"{secret} kid habit")
    await create_checkin(connection, habit, days_ago(2), note=f"{secret} note")
    routine = await create_routine(connection, family, member, [habit], name=f"{secret} routine")
    return World(two_families, habit, habit2, kid_habit, routine, secret)


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


async def call(
    client: httpx.AsyncClient, world: World, row: Row, caller: Caller, **overrides: uuid.UUID
) -> httpx.Response:
    values = world.values(**overrides)
    method, path = row.route.split(" ", 1)
    body = _fill(row.body, values) if row.body is not None else None
    return await client.request(
        method, path.format(**values), json=body, headers=world.headers(caller)
    )


State = dict[str, list[tuple[Any, ...]]]


async def habit_state(connection: AsyncConnection, world: World) -> State:
    """Every row of the habit tables of both families, read as the owner role (no RLS)."""
    families = [world.families.family_id, world.families.outsider_family_id]
    queries = {
        "habits": "select id, name, archived_at, deleted_at, version from habits",
        "habit_versions": "select id, habit_id, number, schedule::text from habit_versions",
        "checkins": "select id, habit_id, date, status::text, value, note, logged_by,"
        " updated_at from checkins",
        "routines": "select id, name, deleted_at, version, current_version from routines",
        "routine_versions": "select id, routine_id, number, habit_ids from routine_versions",
    }
    state: State = {}
    for table, query in queries.items():
        rows = await connection.execute(
            text(f"{query} where family_id = any(:families) order by id"), {"families": families}
        )
        state[table] = [tuple(row) for row in rows]
    return state


class TestHabitsRoleMatrix:
    @pytest.mark.parametrize(("row", "caller"), CASES)
    async def test_answer_and_effect(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        world: World,
        row: Row,
        caller: Caller,
    ) -> None:
        expected = row.expect(caller)
        before = await habit_state(connection, world)

        response = await call(client, world, row, caller)

        assert_answer(response, expected.status, expected.code)
        if caller is Caller.OUTSIDER:
            assert world.secret not in response.text
        after = await habit_state(connection, world)
        if row.changes_data(caller):
            assert after != before
        else:
            assert after == before


class TestNoExistenceLeak:
    @pytest.mark.parametrize("row", HIDDEN_FROM_OUTSIDER)
    async def test_outsider_gets_exactly_the_404_of_a_missing_resource(
        self, client: httpx.AsyncClient, world: World, row: Row
    ) -> None:
        hidden = await call(client, world, row, Caller.OUTSIDER)
        missing = await call(
            client,
            world,
            row,
            Caller.OUTSIDER,
            family=uuid.uuid4(),
            habit=uuid.uuid4(),
            kid_habit=uuid.uuid4(),
            routine=uuid.uuid4(),
        )

        expected = row.expect(Caller.OUTSIDER)
        assert expected.code is not None
        assert_problem(hidden, 404, expected.code)
        assert hidden.json() == missing.json()
        assert hidden.headers["content-type"] == missing.headers["content-type"]


class TestOutsiderSeesOnlyTheirOwn:
    async def test_outsiders_today_board_has_none_of_family_a(
        self, client: httpx.AsyncClient, connection: AsyncConnection, world: World
    ) -> None:
        outsider_member = world.families.member_ids[Subject.OUTSIDER]
        await create_habit(
            connection, world.families.outsider_family_id, outsider_member, name="Own habit"
        )

        response = await client.get("/v1/me/today", headers=world.headers(Caller.OUTSIDER))

        assert [h["name"] for h in response.json()["habits"]] == ["Own habit"]
        assert world.secret not in response.text
