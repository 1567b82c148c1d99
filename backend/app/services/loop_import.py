"""Importing a Loop Habit Tracker backup into one member's habits, in the request's
transaction: all of it or nothing, and the same file (or a habit already imported from an
earlier backup) twice creates nothing new.

How Loop's habits become Loopin's (the facts of the format are `loop_backup`'s):
- name, question and description (joined), color (palette index → `#rrggbb`), archived
  state, position → sort order; a reminder is reported (Loopin stores none);
- frequency num/den: 1/1 daily, N/7 N per week, N/30 (or 31) N per month; anything else the
  closest of those, reported;
- numerical habits: numeric, unit, target, at least / at most; values / 1000; a target Loopin
  cannot hold (0 or less) becomes the smallest it can (0.001), reported;
- entries: a yes (YES_MANUAL) is a done check-in, SKIP a skipped one, amounts of numerical
  habits done check-ins with their value; Loop's NO and automatic marks are days without a
  check-in, as in Loopin; notes come along;
- the habit starts on its first entry (today without any); the check-in backfill window
  does not apply; entries after the member's today are reported and left out.

The rows are written by `app.repositories.loop_import`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.clock import Clock
from app.models.enums import CheckinStatus, HabitType, TargetDirection
from app.repositories import loop_import as imports_repo
from app.repositories.families import family_of_member
from app.services.habit_context import load_assignee
from app.services.loop_backup import (
    SKIP,
    YES_MANUAL,
    LoopEntry,
    LoopHabit,
    read_loop_backup,
)
from app.services.members import MemberNotFound
from app.services.scope import InsufficientRole, may_manage, require_membership

# What the API accepts for a habit's name, description and unit and a check-in's note.
NAME_MAX, DESCRIPTION_MAX, UNIT_MAX, NOTE_MAX = 200, 2000, 32, 1000
SMALLEST_TARGET = Decimal("0.001")  # Numeric(14, 3)
LARGEST_TARGET = Decimal("99999999999.999")


@dataclass
class ImportSummary:
    habits_created: int = 0
    checkins_created: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    created: bool = True

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({"what": what, "why": why})


def schedule_of(num: int, den: int) -> tuple[dict[str, Any], str | None]:
    """Loop's frequency as a Loopin schedule, and why it is not exact when it is not."""
    daily: dict[str, Any] = {"kind": "daily"}
    if num <= 0 or den <= 0:
        return daily, f"{num} times in {den} days is no frequency; imported as daily"
    if num >= den:
        exact = num == den
        return daily, None if exact else f"{num} times in {den} days; imported as daily"
    if den == 7:
        return {"kind": "per_period", "times": num, "period": "week"}, None
    if den in (30, 31):
        return {"kind": "per_period", "times": num, "period": "month"}, None
    wanted = num / den
    candidates: list[tuple[float, dict[str, Any], str]] = [(1.0, daily, "daily")]
    weekly = round(wanted * 7)
    if 1 <= weekly <= 6:
        schedule = {"kind": "per_period", "times": weekly, "period": "week"}
        candidates.append((weekly / 7, schedule, f"{weekly} times per week"))
    monthly = max(1, round(wanted * 30))
    if monthly < 30:
        schedule = {"kind": "per_period", "times": monthly, "period": "month"}
        candidates.append((monthly / 30, schedule, f"{monthly} times per month"))
    _, schedule, label = min(candidates, key=lambda candidate: abs(candidate[0] - wanted))
    return schedule, (
        f"{num} times in {den} days has no Loopin schedule (daily, N per week or N per "
        f"month); imported as {label}"
    )


def file_key(data: bytes) -> str:
    return "loop-file:" + hashlib.sha256(data).hexdigest()


def habit_key(habit: LoopHabit, data: bytes) -> str:
    """Loop's habit uuid (24.sql on); before it, the habit's id within this very file."""
    if habit.uuid:
        return f"loop-habit:{habit.uuid[:64]}"
    return f"loop-habit:{hashlib.sha256(data).hexdigest()}:{habit.id}"


class LoopImportService:
    def __init__(self, session: AsyncSession, actor: Actor, *, now: datetime | None = None):
        self.session = session
        self.actor = actor
        self.now = now or datetime.now(UTC)

    async def import_backup(
        self, family_id: uuid.UUID, member_id: uuid.UUID, data: bytes
    ) -> ImportSummary:
        """Admins import for any member of the family, members for themselves."""
        mine = await require_membership(self.session, self.actor, family_id)
        member, clock = await load_assignee(self.session, family_id, member_id)
        if not may_manage(mine.role, mine.id, member.id):
            raise InsufficientRole("Members import for themselves; admins for anyone.")
        return await import_loop_backup(
            self.session,
            family_id=family_id,
            member_id=member.id,
            clock=clock,
            data=data,
            user_id=self.actor.user_id,
            now=self.now,
        )


async def import_for_member(
    session: AsyncSession, member_id: uuid.UUID, data: bytes, *, now: datetime | None = None
) -> ImportSummary:
    """The operator's import (`loopin import-loop`): for any member, logged by nobody."""
    family_id = await family_of_member(session, member_id)
    if family_id is None:
        raise MemberNotFound("No member with this id.")
    _, clock = await load_assignee(session, family_id, member_id)
    return await import_loop_backup(
        session,
        family_id=family_id,
        member_id=member_id,
        clock=clock,
        data=data,
        user_id=None,
        now=now or datetime.now(UTC),
    )


async def import_loop_backup(
    session: AsyncSession,
    *,
    family_id: uuid.UUID,
    member_id: uuid.UUID,
    clock: Clock,
    data: bytes,
    user_id: uuid.UUID | None,
    now: datetime,
) -> ImportSummary:
    """Write a backup's habits for the member (the caller has checked who may): a fixed
    number of statements whatever the file holds."""
    # SQLite reads the file in a worker thread: the event loop keeps serving meanwhile.
    backup = await asyncio.to_thread(read_loop_backup, data)
    summary = ImportSummary()
    if not await imports_repo.claim_key(session, family_id, member_id, file_key(data)):
        summary.created = False
        summary.skip("this file", "already imported for this member; nothing was created")
        return summary
    keys = {habit.id: habit_key(habit, data) for habit in backup.habits}
    known = await imports_repo.known_keys(session, member_id, keys.values())
    today = clock.today(now)
    habits: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    checkins: list[dict[str, Any]] = []
    habit_keys: list[dict[str, Any]] = []
    for loop_habit in backup.habits:
        label = f"habit “{loop_habit.name or loop_habit.id}”"
        if keys[loop_habit.id] in known:
            summary.skip(label, "already imported for this member from an earlier backup")
            continue
        habit_id = uuid.uuid4()
        rows, version = _habit_rows(loop_habit, habit_id, family_id, member_id, today, summary)
        habits.append(
            {**rows, "created_by": user_id, "archived_at": now if loop_habit.archived else None}
        )
        versions.append(version)
        checkins += _checkin_rows(loop_habit, habit_id, family_id, today, user_id, summary)
        habit_keys.append(
            {
                "family_id": family_id,
                "member_id": member_id,
                "key": keys[loop_habit.id],
                "habit_id": habit_id,
            }
        )
    if backup.unreadable_entries:
        summary.skip(
            f"{backup.unreadable_entries} entries",
            "their timestamp is not a date Loop could have written",
        )
    await imports_repo.insert_imported(
        session, habits=habits, versions=versions, habit_keys=habit_keys, checkins=checkins
    )
    summary.habits_created, summary.checkins_created = len(habits), len(checkins)
    return summary


def _habit_rows(
    loop_habit: LoopHabit,
    habit_id: uuid.UUID,
    family_id: uuid.UUID,
    member_id: uuid.UUID,
    today: date,
    summary: ImportSummary,
) -> tuple[dict[str, Any], dict[str, Any]]:
    label = f"habit “{loop_habit.name or loop_habit.id}”"
    days = [entry.day for entry in loop_habit.entries if entry.day <= today]
    start = min(days, default=today)
    text = "\n\n".join(part for part in (loop_habit.question, loop_habit.description) if part)
    schedule, inexact = schedule_of(loop_habit.freq_num, loop_habit.freq_den)
    if inexact:
        summary.skip(f"frequency of {label}", inexact)
    if loop_habit.reminder is not None:
        hour, minute = loop_habit.reminder
        summary.skip(
            f"reminder of {label} at {hour:02d}:{minute:02d}", "Loopin stores no reminders"
        )
    habit = {
        "id": habit_id,
        "family_id": family_id,
        "assignee_id": member_id,
        "name": (loop_habit.name or f"Loop habit {loop_habit.id}")[:NAME_MAX],
        "description": text[:DESCRIPTION_MAX] or None,
        "color": loop_habit.color,
        "start_date": start,
        "sort_order": loop_habit.position,
    }
    version: dict[str, Any] = {
        "habit_id": habit_id,
        "family_id": family_id,
        "number": 1,
        "effective_from": start,
        "type": HabitType.BOOLEAN,
        "target_value": None,
        "unit": None,
        "target_direction": None,
        "schedule": schedule,
    }
    if loop_habit.numerical:
        target = Decimal(str(loop_habit.target_value)).quantize(SMALLEST_TARGET)
        if not SMALLEST_TARGET <= target <= LARGEST_TARGET:
            summary.skip(
                f"target of {label}",
                f"Loop's target {loop_habit.target_value:g} is outside what Loopin holds;"
                f" imported as {min(max(target, SMALLEST_TARGET), LARGEST_TARGET)}",
            )
            target = min(max(target, SMALLEST_TARGET), LARGEST_TARGET)
        direction = TargetDirection.AT_MOST if loop_habit.target_type == 1 else None
        version.update(
            type=HabitType.NUMERIC,
            target_value=target,
            unit=loop_habit.unit[:UNIT_MAX] or None,
            target_direction=direction or TargetDirection.AT_LEAST,
        )
    return habit, version


def _checkin_rows(
    loop_habit: LoopHabit,
    habit_id: uuid.UUID,
    family_id: uuid.UUID,
    today: date,
    user_id: uuid.UUID | None,
    summary: ImportSummary,
) -> list[dict[str, Any]]:
    rows = []
    future = too_large = 0
    for entry in loop_habit.entries:
        status, value = _checkin_of(loop_habit, entry)
        if status is None:
            continue
        if entry.day > today:
            future += 1
            continue
        if value is not None and value > LARGEST_TARGET:
            too_large += 1
            continue
        rows.append(
            {
                "habit_id": habit_id,
                "family_id": family_id,
                "date": entry.day,
                "status": status,
                "value": value,
                "note": entry.notes[:NOTE_MAX] if entry.notes else None,
                "logged_by": user_id,
            }
        )
    if future:
        summary.skip(
            f"{future} entries of habit “{loop_habit.name or loop_habit.id}”",
            "dated after the member's today",
        )
    if too_large:
        summary.skip(
            f"{too_large} entries of habit “{loop_habit.name or loop_habit.id}”",
            f"amounts over {LARGEST_TARGET}, more than Loopin holds",
        )
    return rows


def _checkin_of(
    loop_habit: LoopHabit, entry: LoopEntry
) -> tuple[CheckinStatus | None, Decimal | None]:
    if entry.value == SKIP:
        return CheckinStatus.SKIPPED, None
    if loop_habit.numerical:
        if entry.value < 0:  # UNKNOWN
            return None, None
        return CheckinStatus.DONE, loop_habit.amount(entry)
    if entry.value == YES_MANUAL:
        return CheckinStatus.DONE, None
    return None, None  # NO, YES_AUTO, UNKNOWN: a day without a check-in
