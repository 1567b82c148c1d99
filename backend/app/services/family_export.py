"""A family's data as a zip of CSV files, so a family can leave with it.

The files and their columns (documented in docs/export.md) follow Loop Habit Tracker's CSV
export where Loop has the same thing (`HabitList.writeCSV` for Habits.csv and
`HabitsCSVExporter.writeEntries` for Checkmarks.csv, in Loop's `uhabits-core`): the same
column names, `YES_MANUAL` / `SKIP` / the amount x 1000 as Loop's value, `yyyy-MM-dd`
dates, a frequency as numerator and denominator; Loopin's own facts (ids, assignees,
versions, schedules, routines) in columns and files of their own.

The rows are read in a fixed number of statements in the request's transaction (one
consistent snapshot, `app.repositories.family_export`); the zip is then compressed and sent
as it is written, a chunk at a time, never held whole in memory.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.clock import Clock
from app.models import Checkin, Habit, HabitVersion, Routine, RoutineVersion
from app.models.enums import CheckinStatus, HabitType, MemberRole, TargetDirection
from app.repositories.family_export import read_family
from app.services.habit_context import in_force
from app.services.scope import require_membership

HABITS_HEADER = (
    "Position", "Name", "Type", "Question", "Description", "FrequencyNumerator",
    "FrequencyDenominator", "Color", "Unit", "Target Type", "Target Value", "Archived?",
    "Habit Id", "Assignee", "Assignee Id", "Schedule", "Start Date", "Version", "Icon",
)  # fmt: skip
VERSIONS_HEADER = (
    "Habit Id", "Habit", "Version", "Effective From", "Type", "FrequencyNumerator",
    "FrequencyDenominator", "Schedule", "Unit", "Target Type", "Target Value",
)  # fmt: skip
CHECKINS_HEADER = (
    "Date", "Habit", "Value", "Notes", "Habit Id", "Assignee", "Status", "Amount",
)  # fmt: skip
ROUTINES_HEADER = (
    "Routine Id", "Name", "Assignee", "Assignee Id", "Time Of Day", "Version",
    "Effective From", "Habit Ids", "Habits", "Schedule",
)  # fmt: skip

# Loop's entry values (models/Entry.kt) and numerical scale (values x 1000).
YES_MANUAL, SKIP = "YES_MANUAL", "SKIP"
LOOP_SCALE = 1000
MONTH_DAYS = 30  # Loop's "N times per month" is N/30
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class FamilyData:
    today: date  # the family's: which version habits.csv shows
    members: dict[uuid.UUID, str]  # member id -> display name
    habits: Sequence[Habit]
    versions: Sequence[HabitVersion]
    checkins: Sequence[Checkin]
    routines: Sequence[tuple[Routine, RoutineVersion]]


async def load_family_data(
    session: AsyncSession, actor: Actor, family_id: uuid.UUID, *, now: datetime | None = None
) -> FamilyData:
    """Admins export the whole family; a member what is assigned to them."""
    mine = await require_membership(session, actor, family_id)
    own_only = not mine.role.at_least(MemberRole.ADMIN)
    rows = await read_family(session, family_id, assignee_id=mine.id if own_only else None)
    today = Clock(rows.timezone or "UTC", 0).today(now or datetime.now(UTC))
    return FamilyData(today, rows.members, rows.habits, rows.versions, rows.checkins, rows.routines)


def frequency(schedule: dict[str, Any]) -> tuple[int, int]:
    """A schedule as Loop's frequency numerator / denominator."""
    kind = schedule.get("kind")
    if kind == "weekdays":
        return len(schedule.get("weekdays", [])), 7
    if kind == "per_period":
        return int(schedule["times"]), 7 if schedule.get("period") == "week" else MONTH_DAYS
    return 1, 1


def schedule_text(schedule: dict[str, Any] | None) -> str:
    """A schedule in words a spreadsheet reader (and a parser) can take back."""
    if not schedule:
        return ""
    kind = schedule.get("kind")
    if kind == "weekdays":
        return "weekdays " + " ".join(str(day) for day in schedule.get("weekdays", []))
    if kind == "per_period":
        return f"{schedule['times']} per {schedule['period']}"
    return str(kind)


def _type(version: HabitVersion) -> str:
    return "NUMERICAL" if version.type == HabitType.NUMERIC else "YES_NO"


def _target_type(version: HabitVersion) -> str:
    if version.type != HabitType.NUMERIC:
        return ""
    return "AT_MOST" if version.target_direction == TargetDirection.AT_MOST else "AT_LEAST"


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def habit_rows(data: FamilyData) -> Iterator[Sequence[object]]:
    versions: dict[uuid.UUID, list[HabitVersion]] = {}
    for version in data.versions:
        versions.setdefault(version.habit_id, []).append(version)
    for position, habit in enumerate(data.habits, start=1):
        version = in_force(versions[habit.id], data.today)
        numerator, denominator = frequency(version.schedule)
        yield (
            f"{position:03d}", habit.name, _type(version), "", habit.description or "",
            numerator, denominator, habit.color or "", version.unit or "",
            _target_type(version), _number(version.target_value),
            str(habit.archived_at is not None).lower(), habit.id,
            data.members.get(habit.assignee_id, ""), habit.assignee_id,
            schedule_text(version.schedule), habit.start_date.isoformat(), version.number,
            habit.icon or "",
        )  # fmt: skip


def version_rows(data: FamilyData) -> Iterator[Sequence[object]]:
    names = {habit.id: habit.name for habit in data.habits}
    for version in data.versions:
        numerator, denominator = frequency(version.schedule)
        yield (
            version.habit_id, names.get(version.habit_id, ""), version.number,
            version.effective_from.isoformat(), _type(version), numerator, denominator,
            schedule_text(version.schedule), version.unit or "", _target_type(version),
            _number(version.target_value),
        )  # fmt: skip


def checkin_rows(data: FamilyData) -> Iterator[Sequence[object]]:
    habits = {habit.id: habit for habit in data.habits}
    numeric: set[uuid.UUID] = set()
    for version in data.versions:
        if version.type == HabitType.NUMERIC:
            numeric.add(version.habit_id)
    for checkin in data.checkins:
        habit = habits[checkin.habit_id]
        yield (
            checkin.date.isoformat(),
            habit.name,
            _loop_value(checkin, checkin.habit_id in numeric),
            checkin.note or "",
            checkin.habit_id,
            data.members.get(habit.assignee_id, ""),
            checkin.status.value,
            _number(checkin.value),
        )


def _loop_value(checkin: Checkin, numeric: bool) -> str:
    """Loop's Checkmarks.csv value: YES_MANUAL, SKIP, or a numerical amount x 1000."""
    if checkin.status == CheckinStatus.SKIPPED:
        return SKIP
    if checkin.value is not None and numeric:
        return str(int(checkin.value * LOOP_SCALE))
    return YES_MANUAL


def routine_rows(data: FamilyData) -> Iterator[Sequence[object]]:
    names = {habit.id: habit.name for habit in data.habits}
    for routine, version in data.routines:
        yield (
            routine.id, routine.name, data.members.get(routine.assignee_id, ""),
            routine.assignee_id,
            routine.time_of_day.isoformat() if routine.time_of_day else "", version.number,
            version.effective_from.isoformat(), " ".join(str(h) for h in version.habit_ids),
            "; ".join(names.get(h, "") for h in version.habit_ids),
            schedule_text(version.schedule),
        )  # fmt: skip


def files_of(data: FamilyData) -> list[tuple[str, Sequence[str], Iterable[Sequence[object]]]]:
    return [
        ("habits.csv", HABITS_HEADER, habit_rows(data)),
        ("habit_versions.csv", VERSIONS_HEADER, version_rows(data)),
        ("checkins.csv", CHECKINS_HEADER, checkin_rows(data)),
        ("routines.csv", ROUTINES_HEADER, routine_rows(data)),
    ]


class _Sink(io.RawIOBase):
    """Where the zip writer puts its bytes until the response takes them. Not seekable, so
    `zipfile` writes sizes after each file's data instead of going back."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        taken = b"".join(self.chunks)
        self.chunks.clear()
        return taken


def zip_stream(data: FamilyData) -> Iterator[bytes]:
    """The zip, a chunk at a time. CSV files are UTF-8 with a byte order mark, so that
    spreadsheets read names with accents right."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, header, rows in files_of(data):
            with archive.open(name, "w") as entry:
                text = io.TextIOWrapper(entry, encoding="utf-8-sig", newline="")
                writer = csv.writer(text)
                writer.writerow(header)
                for row in rows:
                    writer.writerow(row)
                    if sum(len(chunk) for chunk in sink.chunks) >= CHUNK_BYTES:
                        text.flush()
                        yield sink.take()
                text.flush()
                text.detach()
            yield sink.take()
    yield sink.take()
