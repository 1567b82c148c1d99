"""Every list and board query is served by an index: with a few thousand check-ins in the
database and fresh statistics, the statements the endpoints really send (captured with their
bound parameters, and explained as the same `authenticated` user with the same RLS policies)
never sequentially scan `checkins`, and the boards never sequentially scan `habits`.

The planner is left as it is (no `enable_seqscan = off`): a plan that needs that to look good
is the failure this test exists to catch."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.models.enums import MemberRole
from tests.support.builders import Person, add_member, create_family, create_person
from tests.support.habits import days_ago, fill_checkins, fill_habits, local_today

FAMILIES = 20
MEMBERS_PER_FAMILY = 5  # the owner and four managed profiles
HABITS_PER_MEMBER = 5
DAYS = 60
CHECKINS = FAMILIES * MEMBERS_PER_FAMILY * HABITS_PER_MEMBER * DAYS  # 30,000
TABLES = ("family_members", "habits", "habit_versions", "checkins", "routines", "routine_versions")


@dataclass
class Captured:
    statement: str
    parameters: Any


@dataclass
class Capture:
    """The statements the app sends, with their parameters, while `recording`."""

    statements: list[Captured] = field(default_factory=list)
    recording: bool = False

    def record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.recording:
            self.statements.append(Captured(statement, parameters))

    def record_driver(self, query: Any) -> None:
        """A statement the hot paths ran on asyncpg directly (`app.db.sql`)."""
        if self.recording:
            self.statements.append(Captured(query.query, tuple(query.args)))


@pytest.fixture
async def capture(connection: AsyncConnection) -> AsyncIterator[Capture]:
    log = Capture()
    target = connection.sync_connection
    assert target is not None
    driver = (await connection.get_raw_connection()).driver_connection
    event.listen(target, "before_cursor_execute", log.record)
    driver.add_query_logger(log.record_driver)
    yield log
    driver.remove_query_logger(log.record_driver)
    event.remove(target, "before_cursor_execute", log.record)


@dataclass
class World:
    caller: Person
    family_id: uuid.UUID  # one of the caller's three families
    habit_id: uuid.UUID  # one of the caller's habits there


@pytest.fixture
async def world(engine: AsyncEngine, connection: AsyncConnection) -> World:
    # Earlier tests rolled back their rows: clear those dead tuples, as autovacuum would in
    # production, so the planner costs this test's data and not the suite's leftovers.
    async with engine.connect() as maintenance:
        autocommit = await maintenance.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql(f"vacuum {', '.join(TABLES)}")
    return await build_world(connection, FAMILIES)


BULK_TABLES = ("habits", "habit_versions", "routines", "routine_versions", "checkins")


async def build_world(connection: AsyncConnection, families: int) -> World:
    caller = await create_person(connection, "caller")
    family_ids = []
    for number in range(families):
        owner = caller if number == 0 else await create_person(connection, f"owner{number}")
        family_id = await create_family(connection, owner, name=f"Family {number}")
        family_ids.append(family_id)
        for kid in range(MEMBERS_PER_FAMILY - 1):
            await add_member(connection, family_id, None, display_name=f"Kid {kid}")
    # The caller is also a member of two more families: the today board spans three.
    for family_id in family_ids[1:3]:
        await add_member(connection, family_id, caller, MemberRole.MEMBER)
    start = days_ago(DAYS + 10)
    # Bulk rows without the per-row triggers (the sync change log): only faster to build; the
    # queries explained below do not read what the triggers write. (Disabled per table by its
    # owner: `session_replication_role` is for superusers, which Supabase's `postgres` is not.)
    for table in BULK_TABLES:
        await connection.execute(text(f"alter table {table} disable trigger user"))
    habits = await fill_habits(connection, family_ids, per_member=HABITS_PER_MEMBER, start=start)
    # The two memberships of the caller added above bring their own habits.
    assert habits == (families * MEMBERS_PER_FAMILY + 2) * HABITS_PER_MEMBER
    await connection.execute(
        text(
            "insert into routines (family_id, assignee_id, name)"
            " select family_id, id, 'Morning' from family_members"
            " where family_id = any(:families)"
        ),
        {"families": family_ids},
    )
    await connection.execute(
        text(
            "insert into routine_versions (routine_id, family_id, number, effective_from,"
            " habit_ids)"
            " select r.id, r.family_id, 1, :start,"
            "  array(select h.id from habits h where h.assignee_id = r.assignee_id)"
            " from routines r where r.family_id = any(:families)"
        ),
        {"families": family_ids, "start": start},
    )
    written = await fill_checkins(connection, family_ids, days=DAYS, last=local_today())
    assert written == habits * DAYS
    for table in BULK_TABLES:
        await connection.execute(text(f"alter table {table} enable trigger user"))
    await connection.execute(text(f"analyze {', '.join(TABLES)}"))
    habit_id = await connection.scalar(
        text(
            "select h.id from habits h join family_members m on m.id = h.assignee_id"
            " where m.user_id = :caller and h.family_id = :family order by h.sort_order limit 1"
        ),
        {"caller": caller.user_id, "family": family_ids[0]},
    )
    assert isinstance(habit_id, uuid.UUID)
    return World(caller, family_ids[0], habit_id)


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(node type, relation) of every node of a plan tree."""
    yield plan["Node Type"], plan.get("Relation Name")
    for child in plan.get("Plans", []):
        yield from scans(child)


async def plans_of(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    capture: Capture,
    path: str,
    world: World,
) -> list[tuple[str, list[tuple[str, str | None]], str]]:
    """Call the endpoint, then explain each of its SELECTs with the same parameters, as the
    same user (the request's own `set_config` statement replayed first): `(statement, scans,
    plan text)` per query."""
    capture.statements.clear()
    capture.recording = True
    response = await client.get(path, headers=world.caller.headers)
    capture.recording = False
    assert response.status_code == 200, response.text
    setup = [c for c in capture.statements if "set_config('role'" in c.statement]
    queries = [c for c in capture.statements if c.statement.lstrip().upper().startswith("SELECT")]
    queries = [c for c in queries if "set_config(" not in c.statement]
    assert setup
    assert queries
    explained = []
    async with connection.begin_nested() as savepoint:
        await connection.exec_driver_sql(setup[0].statement, setup[0].parameters)
        for query in queries:
            result = await connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + query.statement, query.parameters
            )
            raw = result.scalar_one()
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            explained.append((query.statement, list(scans(plan)), json.dumps(plan, indent=1)))
        await savepoint.rollback()
    await connection.execute(text("reset role"))
    return explained


def seq_scanned(
    explained: list[tuple[str, list[tuple[str, str | None]], str]], table: str
) -> list[str]:
    return [
        f"{statement}\n{plan}"
        for statement, nodes, plan in explained
        if ("Seq Scan", table) in nodes
    ]


def assert_no_seq_scan(
    explained: list[tuple[str, list[tuple[str, str | None]], str]], table: str
) -> None:
    found = seq_scanned(explained, table)
    assert not found, f"Seq Scan on {table}:\n" + "\n\n".join(found)


def touching(
    explained: list[tuple[str, list[tuple[str, str | None]], str]], table: str
) -> list[tuple[str, str | None]]:
    return [node for _, nodes, _ in explained for node in nodes if node[1] == table]


BOARD_PATHS = ["/v1/me/today", "/v1/me/today?date={yesterday}", "/v1/families/{family}/board"]
LIST_PATHS = [
    "/v1/families/{family}/habits",
    "/v1/families/{family}/habits?assignee_id={member}",
    "/v1/families/{family}/routines",
    "/v1/habits/{habit}/checkins",
    "/v1/habits/{habit}/history",
    "/v1/habits/{habit}/stats",
    "/v1/habits/{habit}/versions",
]


async def fill_path(connection: AsyncConnection, world: World, path: str) -> str:
    member = await connection.scalar(
        text("select id from family_members where family_id = :f and user_id = :u"),
        {"f": world.family_id, "u": world.caller.user_id},
    )
    return path.format(
        family=world.family_id,
        habit=world.habit_id,
        member=member,
        yesterday=local_today() - timedelta(days=1),
    )


class TestBoardQueryPlans:
    @pytest.mark.parametrize("path", BOARD_PATHS)
    async def test_no_sequential_scan_of_checkins_or_habits(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        capture: Capture,
        world: World,
        path: str,
    ) -> None:
        explained = await plans_of(
            client, connection, capture, await fill_path(connection, world, path), world
        )

        assert touching(explained, "checkins"), "the board reads check-ins"
        assert touching(explained, "habits"), "the board reads habits"
        assert_no_seq_scan(explained, "checkins")
        assert_no_seq_scan(explained, "habits")


class TestListQueryPlans:
    @pytest.mark.parametrize("path", LIST_PATHS)
    async def test_no_sequential_scan_of_checkins(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        capture: Capture,
        world: World,
        path: str,
    ) -> None:
        explained = await plans_of(
            client, connection, capture, await fill_path(connection, world, path), world
        )

        assert_no_seq_scan(explained, "checkins")
        assert_no_seq_scan(explained, "habits")
