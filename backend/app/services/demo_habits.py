"""The demo family's habits, a routine and three weeks of check-ins, so that a fresh
`make run` shows boards with streaks, a missed day here and there and a today still open.

Created once: habits live under fixed ids, and a habit's version and history are written only
by the run that created the habit, so restarting the server on a later day never fills in the
days the developer left open, and a habit they deleted stays deleted. The rows go through the
repositories the API writes them with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.session_driver import driver_connection
from app.models import Habit, HabitVersion, Routine, RoutineVersion
from app.models.enums import CheckinStatus, HabitType, TargetDirection
from app.repositories.checkins import CheckinWriteRow, upsert_checkins
from app.repositories.habits import insert_habit
from app.repositories.routines import insert_routine
from app.services.demo_family import DEMO_MEMBERS, DemoFamily, seed_demo_family

DEMO_HISTORY_DAYS = 21

_DAILY: dict[str, Any] = {"kind": "daily"}
_MON_WED_FRI: dict[str, Any] = {"kind": "weekdays", "weekdays": [1, 3, 5]}
_TWICE_A_WEEK: dict[str, Any] = {"kind": "per_period", "times": 2, "period": "week"}


def _demo_id(number: int) -> uuid.UUID:
    """Fixed ids beside the demo family's own (`app.services.demo_family`)."""
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
    direction: TargetDirection | None = None
    checked_in_today: bool = False

    @property
    def type(self) -> HabitType:
        return HabitType.BOOLEAN if self.target_value is None else HabitType.NUMERIC

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
        direction=TargetDirection.AT_LEAST,
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
        direction=TargetDirection.AT_LEAST,
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
        direction=TargetDirection.AT_MOST,
    ),
    DemoHabit(_demo_id(107), MIA, "Brush teeth", "tooth", _DAILY, checked_in_today=True),
    DemoHabit(_demo_id(108), MIA, "Tidy up toys", "toys", _DAILY, frozenset({5, 12})),
)
DEMO_ROUTINE_ID = _demo_id(201)
DEMO_ROUTINE_HABITS = [_demo_id(107), _demo_id(108)]  # Mia's bedtime


async def seed_demo(connection: AsyncConnection) -> DemoFamily:
    """The demo family (`seed_demo_family`) and the habits it never had."""
    family = await seed_demo_family(connection)
    today = datetime.now(UTC).date()  # the demo family and its logins live in UTC
    await seed_demo_habits(connection, family.family_id, family.owner.id, today)
    return family


async def seed_demo_habits(
    connection: AsyncConnection, family_id: uuid.UUID, owner_id: uuid.UUID, today: date
) -> int:
    """Create the demo habits that were never created, each with its history up to
    yesterday (and today, for a few); the number created. A habit whose id is taken (it
    exists, deleted or not) or whose member is gone is not created."""
    start = today - timedelta(days=DEMO_HISTORY_DAYS)
    # A session on the caller's connection joins its transaction and leaves committing to it.
    async with AsyncSession(bind=connection) as session:
        created: list[DemoHabit] = []
        for sort_order, habit in enumerate(DEMO_HABITS):
            if await insert_habit(
                session,
                Habit(
                    id=habit.habit_id,
                    family_id=family_id,
                    assignee_id=habit.member_id,
                    name=habit.name,
                    icon=habit.icon,
                    start_date=start,
                    sort_order=sort_order,
                    created_by=owner_id,
                ),
                HabitVersion(
                    habit_id=habit.habit_id,
                    family_id=family_id,
                    number=1,
                    effective_from=start,
                    type=habit.type,
                    target_value=habit.target_value,
                    unit=habit.unit,
                    target_direction=habit.direction,
                    schedule=habit.schedule,
                ),
            ):
                created.append(habit)
        checkins = [
            CheckinWriteRow(
                habit.habit_id,
                family_id,
                today - timedelta(days=back),
                CheckinStatus.DONE,
                habit.target_value,
                None,
            )
            for habit in created
            for back in range(0 if habit.checked_in_today else 1, DEMO_HISTORY_DAYS + 1)
            if habit.logs_on(today - timedelta(days=back), back)
        ]
        if checkins:
            await upsert_checkins(await driver_connection(session), checkins, owner_id)
        if {habit.habit_id for habit in created} >= set(DEMO_ROUTINE_HABITS):
            await insert_routine(
                session,
                Routine(
                    id=DEMO_ROUTINE_ID,
                    family_id=family_id,
                    assignee_id=MIA,
                    name="Bedtime",
                    time_of_day=time(19, 30),
                    created_by=owner_id,
                ),
                RoutineVersion(
                    routine_id=DEMO_ROUTINE_ID,
                    family_id=family_id,
                    number=1,
                    effective_from=start,
                    habit_ids=DEMO_ROUTINE_HABITS,
                ),
            )
    return len(created)
