"""The demo family's habits, a routine and three weeks of check-ins, so that a fresh
`make run` shows boards with streaks, a missed day here and there and a today still open.

Created once: habits live under fixed ids, and a habit's version and history are written only
by the run that created the habit, so restarting the server on a later day never fills in the
days the developer left open, and a habit they deleted stays deleted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.seed import DEMO_MEMBERS, DemoFamily, seed_demo_family

DEMO_HISTORY_DAYS = 21

_DAILY: dict[str, Any] = {"kind": "daily"}
_MON_WED_FRI: dict[str, Any] = {"kind": "weekdays", "weekdays": [1, 3, 5]}
_TWICE_A_WEEK: dict[str, Any] = {"kind": "per_period", "times": 2, "period": "week"}


def _demo_id(number: int) -> uuid.UUID:
    """Fixed ids beside the demo family's own (`app.seed`)."""
    return uuid.UUID(f"d3a0f00d-0000-4000-8000-{number:012d}")


@dataclass(frozen=True, slots=True)
class DemoHabit:
    habit_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    icon: str
    schedule: dict[str, Any]
    # Days back (1 = yesterday) with no check-in: where the streaks break.
    missed: frozenset[int] = frozenset()
    target_value: Decimal | None = None  # numeric habits only
    unit: str | None = None
    direction: str | None = None
    checked_in_today: bool = False

    @property
    def type(self) -> str:
        return "boolean" if self.target_value is None else "numeric"

    def logs_on(self, day: date, days_back: int) -> bool:
        """Whether the demo history has a check-in on `day`."""
        if days_back in self.missed:
            return False
        if self.schedule["kind"] == "weekdays":
            return day.isoweekday() in self.schedule["weekdays"]
        if self.schedule["kind"] == "per_period":
            return day.isoweekday() in (2, 6)  # Tuesdays and Saturdays
        return True


DANA, GUS, THEO, MIA = (member.member_id for member in DEMO_MEMBERS)

DEMO_HABITS = (
    DemoHabit(_demo_id(101), DANA, "Read 20 minutes", "book", _DAILY, frozenset({9, 16})),
    DemoHabit(
        _demo_id(102),
        DANA,
        "Morning run",
        "run",
        _MON_WED_FRI,
        target_value=Decimal(5),
        unit="km",
        direction="at_least",
    ),
    DemoHabit(
        _demo_id(103),
        GUS,
        "Walk",
        "walk",
        _DAILY,
        frozenset({4}),
        target_value=Decimal(6000),
        unit="steps",
        direction="at_least",
        checked_in_today=True,
    ),
    DemoHabit(_demo_id(104), GUS, "Call the grandkids", "phone", _TWICE_A_WEEK),
    DemoHabit(_demo_id(105), THEO, "Practice guitar", "guitar", _DAILY, frozenset({2, 3, 11})),
    DemoHabit(
        _demo_id(106),
        THEO,
        "Screen time",
        "phone",
        _DAILY,
        frozenset({6}),
        target_value=Decimal(120),
        unit="min",
        direction="at_most",
    ),
    DemoHabit(_demo_id(107), MIA, "Brush teeth", "tooth", _DAILY, checked_in_today=True),
    DemoHabit(_demo_id(108), MIA, "Tidy up toys", "toys", _DAILY, frozenset({5, 12})),
)
DEMO_ROUTINE_ID = _demo_id(201)
DEMO_ROUTINE_HABITS = [_demo_id(107), _demo_id(108)]  # Mia's bedtime

_HABIT = text(
    "insert into habits (id, family_id, assignee_id, name, icon, start_date, sort_order,"
    " created_by)"
    " select :id, m.family_id, m.id, :name, :icon, :start, :sort, :by from family_members m"
    " where m.id = :member and m.family_id = :family"
    " on conflict (id) do nothing returning id"
)
_VERSION = text(
    "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
    " target_value, unit, target_direction, schedule)"
    " values (:habit, :family, 1, :start, cast(:type as habit_type), :target, :unit,"
    " cast(:direction as target_direction), cast(:schedule as jsonb))"
)
_CHECKIN = text(
    "insert into checkins (habit_id, family_id, date, status, value, logged_by)"
    " values (:habit, :family, :day, 'done', :value, :by) on conflict do nothing"
)
_ROUTINE = text(
    "insert into routines (id, family_id, assignee_id, name, time_of_day, created_by)"
    " values (:id, :family, :member, 'Bedtime', :at, :by) on conflict (id) do nothing"
    " returning id"
)
_ROUTINE_VERSION = text(
    "insert into routine_versions (routine_id, family_id, number, effective_from, habit_ids)"
    " values (:routine, :family, 1, :start, :habits)"
)


async def seed_demo(connection: AsyncConnection) -> DemoFamily:
    """The demo family (`app.seed.seed_demo_family`) and the habits it never had."""
    family = await seed_demo_family(connection)
    today = datetime.now(UTC).date()  # the demo family and its logins live in UTC
    await seed_demo_habits(connection, family.family_id, family.owner.id, today)
    return family


async def seed_demo_habits(
    connection: AsyncConnection, family_id: uuid.UUID, owner_id: uuid.UUID, today: date
) -> int:
    """Create the demo habits that were never created, each with its history up to
    yesterday (and today, for a few); the number created."""
    start = today - timedelta(days=DEMO_HISTORY_DAYS)
    created: list[DemoHabit] = []
    for sort_order, habit in enumerate(DEMO_HABITS):
        inserted = await connection.scalar(
            _HABIT,
            {
                "id": habit.habit_id,
                "family": family_id,
                "member": habit.member_id,
                "name": habit.name,
                "icon": habit.icon,
                "start": start,
                "sort": sort_order,
                "by": owner_id,
            },
        )
        if inserted is not None:
            created.append(habit)
    if not created:
        return 0
    await connection.execute(
        _VERSION,
        [
            {
                "habit": habit.habit_id,
                "family": family_id,
                "start": start,
                "type": habit.type,
                "target": habit.target_value,
                "unit": habit.unit,
                "direction": habit.direction,
                "schedule": json.dumps(habit.schedule),
            }
            for habit in created
        ],
    )
    checkins = [
        {
            "habit": habit.habit_id,
            "family": family_id,
            "day": today - timedelta(days=back),
            "value": habit.target_value,
            "by": owner_id,
        }
        for habit in created
        for back in range(0 if habit.checked_in_today else 1, DEMO_HISTORY_DAYS + 1)
        if habit.logs_on(today - timedelta(days=back), back)
    ]
    await connection.execute(_CHECKIN, checkins)
    if {habit.habit_id for habit in created} >= set(DEMO_ROUTINE_HABITS):
        await _seed_routine(connection, family_id, owner_id, start)
    return len(created)


async def _seed_routine(
    connection: AsyncConnection, family_id: uuid.UUID, owner_id: uuid.UUID, start: date
) -> None:
    routine = await connection.scalar(
        _ROUTINE,
        {
            "id": DEMO_ROUTINE_ID,
            "family": family_id,
            "member": MIA,
            "at": time(19, 30),
            "by": owner_id,
        },
    )
    if routine is not None:
        await connection.execute(
            _ROUTINE_VERSION,
            {
                "routine": DEMO_ROUTINE_ID,
                "family": family_id,
                "start": start,
                "habits": DEMO_ROUTINE_HABITS,
            },
        )
