"""`python -m bench.seed --scale S|M [--database-url URL]`: families at scale, loaded with COPY.

Each family has four members (an owner, an admin and a member with logins, and a managed kid),
five habits per member (daily / weekdays / per-period, boolean and numeric), a routine per
member and `--history-days` of check-ins with realistic gaps (adherence that differs per habit,
streaks that carry momentum, vacations, skipped days). Rows go in with asyncpg's binary COPY;
the check-ins table's indexes and constraints are dropped for the load and rebuilt after it
(exactly as they were), which is several times faster than maintaining them row by row.

Without `--database-url` it seeds the bench's own embedded cluster (bench/.data/pg), database
`bench_<scale>`. It writes the ids file the load generator reads (bench/.data/ids-<S>.json):
every login with a token, its family, its habits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import asyncpg

from app.core.config import REPO_ROOT, DatabaseUrl
from app.core.security import mint_token
from app.db.migrations import upgrade_to_head
from bench.cluster import (
    JWT_ISSUER,
    bench_cluster,
    database_name,
    ensure_database,
    ids_path,
    jwt_secret,
    recreate_database,
)
from bench.cluster import start_cluster as start_bench_cluster

SCALES = {"S": 1_000, "M": 10_000}
HISTORY_DAYS = 180
TOKEN_SECONDS = 30 * 24 * 3600
TIMEZONES = ("UTC", "UTC", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo")


@dataclass(frozen=True, slots=True)
class HabitKind:
    name: str
    schedule: dict[str, Any]
    target: int | None = None  # numeric habits only
    unit: str | None = None
    direction: str | None = None

    @property
    def type(self) -> str:
        return "boolean" if self.target is None else "numeric"


# Each member takes five consecutive kinds (starting at a different one), so every family
# has a mix of schedules and types.
MENU = (
    HabitKind("Brush teeth", {"kind": "daily"}),
    HabitKind("Homework", {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 5]}),
    HabitKind("Exercise", {"kind": "per_period", "times": 3, "period": "week"}),
    HabitKind("Drink water", {"kind": "daily"}, 8, "glasses", "at_least"),
    HabitKind("Read", {"kind": "weekdays", "weekdays": [1, 3, 5]}, 20, "minutes", "at_least"),
    HabitKind("Screen time", {"kind": "daily"}, 60, "minutes", "at_most"),
    HabitKind("Tidy room", {"kind": "per_period", "times": 10, "period": "month"}),
    HabitKind("Practice piano", {"kind": "weekdays", "weekdays": [2, 4, 6]}),
)
ROLES = ("owner", "admin", "member", "member")  # the last one is the managed kid


@dataclass(slots=True)
class SeededHabit:
    id: uuid.UUID
    family_id: uuid.UUID
    kind: HabitKind
    start_date: date
    logged_by: uuid.UUID
    adherence: float


@dataclass(slots=True)
class Login:
    user_id: uuid.UUID
    email: str
    role: str
    family_id: uuid.UUID
    member_id: uuid.UUID
    timezone: str
    day_start_hour: int
    habits: list[SeededHabit] = field(default_factory=list)
    managed_habits: list[SeededHabit] = field(default_factory=list)  # the kid's, for admins


@dataclass
class Plan:
    """Every row but the check-ins, which are generated while they stream into COPY."""

    today: date
    history_days: int
    auth_users: list[tuple[Any, ...]] = field(default_factory=list)
    users: list[tuple[Any, ...]] = field(default_factory=list)
    families: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    habits: list[tuple[Any, ...]] = field(default_factory=list)
    habit_versions: list[tuple[Any, ...]] = field(default_factory=list)
    routines: list[tuple[Any, ...]] = field(default_factory=list)
    routine_versions: list[tuple[Any, ...]] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    seeded_habits: list[SeededHabit] = field(default_factory=list)


def plan_families(count: int, history_days: int, rng: random.Random, today: date) -> Plan:
    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    plan = Plan(today=today, history_days=history_days)
    for number in range(count):
        family_id, timezone = new_id(), rng.choice(TIMEZONES)
        day_start = 4 if rng.random() < 0.1 else 0
        people = []
        for seat, role in enumerate(ROLES):
            member_id = new_id()
            managed = seat == len(ROLES) - 1
            login = None
            if not managed:
                email = f"{role}{seat}-{number}@bench.loopin.test"
                login = Login(new_id(), email, role, family_id, member_id, timezone, day_start)
                plan.auth_users.append((login.user_id, email))
                plan.users.append(
                    (login.user_id, email, f"{role.title()} {number}", timezone, day_start)
                )
                plan.logins.append(login)
            people.append((member_id, login, seat))
        owner = people[0][1]
        assert owner is not None
        plan.families.append((family_id, f"Family {number}", timezone, owner.user_id))
        for member_id, login, seat in people:
            name = f"Kid {number}" if login is None else f"{login.role.title()} {number}"
            plan.members.append(
                (
                    member_id,
                    family_id,
                    login.user_id if login else None,
                    name,
                    ROLES[seat] if login else "member",
                )
            )
            habits = plan_habits(
                plan, family_id, member_id, login or owner, number + seat, rng, new_id
            )
            if login is not None:
                login.habits = habits
            else:  # the owner and the admin log the kid's habits
                for adult in (people[0][1], people[1][1]):
                    assert adult is not None
                    adult.managed_habits = habits
            routine_id = new_id()
            plan.routines.append(
                (
                    routine_id,
                    family_id,
                    member_id,
                    "Morning routine",
                    clock_time(7, 30),
                    (login or owner).user_id,
                )
            )
            plan.routine_versions.append(
                (
                    routine_id,
                    family_id,
                    1,
                    today - timedelta(days=history_days),
                    [habit.id for habit in habits[:3]],
                )
            )
    return plan


def plan_habits(
    plan: Plan,
    family_id: uuid.UUID,
    member_id: uuid.UUID,
    logger: Login,
    offset: int,
    rng: random.Random,
    new_id: Any,
) -> list[SeededHabit]:
    habits = []
    for position in range(5):
        kind = MENU[(offset + position) % len(MENU)]
        # Most habits run for the whole history; some were started later.
        age = plan.history_days if rng.random() < 0.85 else rng.randint(30, plan.history_days)
        start = plan.today - timedelta(days=age)
        habit = SeededHabit(
            new_id(), family_id, kind, start, logger.user_id, rng.uniform(0.45, 0.97)
        )
        habits.append(habit)
        plan.seeded_habits.append(habit)
        plan.habits.append(
            (habit.id, family_id, member_id, kind.name, start, position, logger.user_id)
        )
        plan.habit_versions.append(
            (
                habit.id,
                family_id,
                1,
                start,
                kind.type,
                kind.target,
                kind.unit,
                kind.direction,
                json.dumps(kind.schedule),
            )
        )
        if kind.target is not None and age > 90 and rng.random() < 0.2:
            # A raised target from 60 days ago: a second version, as users change their goals.
            plan.habit_versions.append(
                (
                    habit.id,
                    family_id,
                    2,
                    plan.today - timedelta(days=60),
                    kind.type,
                    kind.target + kind.target // 4,
                    kind.unit,
                    kind.direction,
                    json.dumps(kind.schedule),
                )
            )
    return habits


def checkin_rows(plan: Plan, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """(habit_id, family_id, date, status, value, logged_by) for every habit's history."""
    first_day = plan.today - timedelta(days=plan.history_days)
    days = [first_day + timedelta(days=n) for n in range(plan.history_days + 1)]
    weekdays = [day.isoweekday() for day in days]
    for habit in plan.seeded_habits:
        kind, p = habit.kind, habit.adherence
        schedule = kind.schedule
        due_days = set(schedule.get("weekdays", range(1, 8)))
        if schedule["kind"] == "per_period":
            per_day = schedule["times"] / (7 if schedule["period"] == "week" else 30)
        else:
            per_day = 1.0
        momentum, away_until = True, -1
        for index in range((habit.start_date - first_day).days, len(days)):
            if index == len(days) - 1 and rng.random() < 0.7:
                break  # today: most people have not logged yet
            if index <= away_until:
                continue
            if rng.random() < 0.006:  # a trip, a sick week: nothing logged for days
                away_until = index + rng.randint(3, 10)
                momentum = False
                continue
            if weekdays[index] not in due_days:
                continue
            chance = min(0.98, p + 0.08) if momentum else max(0.05, p - 0.25)
            roll = rng.random()
            if roll >= chance * per_day:
                momentum = False
                continue
            momentum = True
            if roll < 0.02 * per_day:
                yield habit.id, habit.family_id, days[index], "skipped", None, habit.logged_by
            elif kind.target is None:
                yield habit.id, habit.family_id, days[index], "done", None, habit.logged_by
            else:
                value = round(kind.target * rng.uniform(0.55, 1.35))
                yield habit.id, habit.family_id, days[index], "done", value, habit.logged_by


async def copy(connection: asyncpg.Connection, table: str, columns: list[str], rows: Any) -> int:
    schema, _, name = table.rpartition(".")
    result = await connection.copy_records_to_table(
        name, schema_name=schema or "public", columns=columns, records=rows
    )
    return int(result.split()[-1])


async def rebuild_after(connection: asyncpg.Connection, table: str) -> list[str]:
    """Drop the table's indexes and key constraints; return the statements that recreate them
    exactly (same names and definitions)."""
    constraints = await connection.fetch(
        "select conname, contype, pg_get_constraintdef(oid) as definition from pg_constraint"
        " where conrelid = $1::regclass and contype in ('p', 'u', 'f')"
        " order by case contype when 'p' then 0 when 'u' then 1 else 2 end",
        table,
    )
    owned = {row["conname"] for row in constraints}
    indexes = await connection.fetch(
        "select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as definition"
        " from pg_index where indrelid = $1::regclass",
        table,
    )
    recreate = [row["definition"] for row in indexes if row["name"].split(".")[-1] not in owned]
    recreate += [
        f'alter table {table} add constraint "{row["conname"]}" {row["definition"]}'
        for row in constraints
    ]
    for row in reversed(constraints):
        await connection.execute(f'alter table {table} drop constraint "{row["conname"]}"')
    for row in indexes:
        if row["name"].split(".")[-1] not in owned:
            await connection.execute(f"drop index {row['name']}")
    return recreate


# What the check-ins' `log_sync_change` trigger (migration 0004) writes for each new row.
SYNC_LOG_OF_CHECKINS = """
insert into public.sync_changes (family_id, entity_type, entity_id, deleted)
select family_id, 'checkin', id, false from public.checkins order by date, habit_id
"""


@dataclass
class SeedReport:
    scale: str
    families: int
    history_days: int
    rows: dict[str, int]
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 1)


async def load(
    url: str, plan: Plan, rng: random.Random, *, reset: bool
) -> tuple[dict[str, int], dict[str, float]]:
    connection = await asyncpg.connect(DatabaseUrl(url).libpq_url)
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    try:
        if await connection.fetchval("select exists (select 1 from public.families)"):
            if not reset:
                raise SystemExit(
                    "bench.seed: the database already has families; pass --reset to empty it"
                )
            await connection.execute("truncate auth.users cascade")
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute("set local maintenance_work_mem = '1GB'")
            rows["auth.users"] = await copy(
                connection, "auth.users", ["id", "email"], plan.auth_users
            )
            rows["users"] = await copy(
                connection,
                "public.users",
                ["id", "email", "full_name", "timezone", "day_start_hour"],
                plan.users,
            )
            rows["families"] = await copy(
                connection,
                "public.families",
                ["id", "name", "timezone", "created_by"],
                plan.families,
            )
            rows["family_members"] = await copy(
                connection,
                "public.family_members",
                ["id", "family_id", "user_id", "display_name", "role"],
                plan.members,
            )
            rows["habits"] = await copy(
                connection,
                "public.habits",
                [
                    "id",
                    "family_id",
                    "assignee_id",
                    "name",
                    "start_date",
                    "sort_order",
                    "created_by",
                ],
                plan.habits,
            )
            rows["habit_versions"] = await copy(
                connection,
                "public.habit_versions",
                [
                    "habit_id",
                    "family_id",
                    "number",
                    "effective_from",
                    "type",
                    "target_value",
                    "unit",
                    "target_direction",
                    "schedule",
                ],
                plan.habit_versions,
            )
            rows["routines"] = await copy(
                connection,
                "public.routines",
                ["id", "family_id", "assignee_id", "name", "time_of_day", "created_by"],
                plan.routines,
            )
            rows["routine_versions"] = await copy(
                connection,
                "public.routine_versions",
                ["routine_id", "family_id", "number", "effective_from", "habit_ids"],
                plan.routine_versions,
            )
            # The bulk of the rows: no index or row trigger maintained per row; the sync
            # change log those triggers would have written is filled in one statement below.
            recreate = await rebuild_after(connection, "public.checkins")
            await connection.execute("alter table public.checkins disable trigger user")
            rows["checkins"] = await copy(
                connection,
                "public.checkins",
                ["habit_id", "family_id", "date", "status", "value", "logged_by"],
                checkin_rows(plan, rng),
            )
            await connection.execute("alter table public.checkins enable trigger user")
            seconds["copy"] = time.perf_counter() - started
            started = time.perf_counter()
            for statement in recreate:
                await connection.execute(statement)
            if await connection.fetchval("select to_regclass('public.sync_changes') is not null"):
                recreate = await rebuild_after(connection, "public.sync_changes")
                await connection.execute(SYNC_LOG_OF_CHECKINS)
                for statement in recreate:
                    await connection.execute(statement)
            seconds["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("vacuum (analyze)")
        seconds["vacuum_analyze"] = time.perf_counter() - started
        # The load's dirty pages written out now, not by a checkpoint during the first runs.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await connection.execute("checkpoint")
    finally:
        await connection.close()
    return rows, seconds


def migrations_digest() -> str:
    """Which schema the data was loaded into: migrations are sometimes edited in place, and
    a database built from older ones must be seeded again."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def write_ids(path: Path, plan: Plan, report: SeedReport, url: str, secret: str) -> None:
    expires_at = int(time.time()) + TOKEN_SECONDS

    def habit(entry: SeededHabit) -> dict[str, Any]:
        return {"id": str(entry.id), "type": entry.kind.type, "target": entry.kind.target}

    users = [
        {
            "user_id": str(login.user_id),
            "email": login.email,
            "role": login.role,
            "family_id": str(login.family_id),
            "member_id": str(login.member_id),
            "timezone": login.timezone,
            "day_start_hour": login.day_start_hour,
            "token": mint_token(
                secret=secret,
                sub=login.user_id,
                email=login.email,
                expires_in_seconds=TOKEN_SECONDS,
                issuer=JWT_ISSUER,
                extra_claims={"user_metadata": {"full_name": login.email.split("@")[0]}},
            ),
            "habits": [habit(h) for h in login.habits],
            "managed_habits": [habit(h) for h in login.managed_habits],
        }
        for login in plan.logins
    ]
    document = {
        "scale": report.scale,
        "families": report.families,
        "history_days": report.history_days,
        "database": DatabaseUrl(url).redacted(),
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed_seconds": report.seconds,
        "migrations": migrations_digest(),
        "rows": report.rows,
        "tokens_expire_at": expires_at,
        "users": users,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")))


def seed(
    url: str,
    scale: str,
    *,
    history_days: int,
    families: int | None = None,
    reset: bool = False,
    out: Path | None = None,
    rng_seed: int = 6,
) -> SeedReport:
    """Migrate, load and write the ids file; the report says how long each step took."""
    count = families or SCALES[scale]
    started = time.perf_counter()
    upgrade_to_head(DatabaseUrl(url))
    migrate = time.perf_counter() - started
    rng = random.Random(rng_seed)
    started = time.perf_counter()
    plan = plan_families(count, history_days, rng, datetime.now(UTC).date())
    planned = time.perf_counter() - started
    rows, seconds = asyncio.run(load(url, plan, rng, reset=reset))
    report = SeedReport(
        scale,
        count,
        history_days,
        rows,
        {k: round(v, 1) for k, v in {"migrate": migrate, "plan": planned, **seconds}.items()},
    )
    write_ids(out or ids_path(scale), plan, report, url, jwt_secret())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="S")
    parser.add_argument("--database-url", help="seed this database instead of the bench cluster")
    parser.add_argument("--families", type=int, help="override the scale's family count")
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS)
    parser.add_argument("--reset", action="store_true", help="start from an empty database")
    parser.add_argument("--out", type=Path, help="ids file (default bench/.data/ids-<scale>.json)")
    args = parser.parse_args(argv)
    server = None
    url = args.database_url
    if url is None:
        server = bench_cluster()
        was_running = server.is_running()
        asyncio.run(start_bench_cluster(server))
        create = recreate_database if args.reset else ensure_database
        url = asyncio.run(create(server, database_name(args.scale)))
    try:
        report = seed(
            url,
            args.scale,
            history_days=args.history_days,
            families=args.families,
            reset=args.reset,
            out=args.out,
        )
    finally:
        if server is not None and not was_running:
            server.stop()
    print(
        f"bench.seed: scale {report.scale}: {report.families} families, "
        f"{report.rows['checkins']:,} check-ins in {report.total_seconds} s {report.seconds}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
