"""Reading a Loop Habit Tracker backup (a SQLite database file) into plain records.

Pure input parsing: no Loopin database, no I/O but a temporary file for `sqlite3`. Every fact
about the format comes from Loop's published source (uhabits, `uhabits-core`):

- schema: the migrations `src/jvmMain/resources/migrations/09.sql` … `25.sql`; the file's
  `user_version` is the last one applied. 09 creates `Habits(id, archived, color,
  description, freq_den, freq_num, highlight, name, position, reminder_hour, reminder_min)`
  and `Repetitions(id, habit, timestamp)`; 11 adds `reminder_days`; 16 adds `Habits.type`
  (0 yes/no, 1 numerical: `HabitType.kt`) and `Repetitions.value` (default 2); 18 adds
  `target_type` (0 at least, 1 at most: `NumericalHabitType.kt`), `target_value`, `unit`;
  22 drops repetitions without a habit or timestamp and keeps the first of duplicates
  (min rowid per habit and timestamp); 23 adds `question` and moves the old description
  into it; 24 adds `uuid`; 25 adds `Repetitions.notes`. Columns are read by what the file
  has, so every version from 09 on reads alike.
- colors: before 14 an ARGB int, which 14.sql maps to a 13-color palette index (anything
  else to 0); 21.sql maps that palette to today's 20 colors (anything else to 0); the
  20 colors are `PaletteUtils.kt`'s `toFixedAndroidColor`.
- entries (`models/Entry.kt`): `YES_MANUAL = 2`, `SKIP = 3`, `YES_AUTO = 1`, `NO = 0`,
  `UNKNOWN = -1`; a numerical habit stores its amount x 1000 (`ScoreList.kt` divides by
  1000) and uses `SKIP` for a skipped day. A repetition's `timestamp` is milliseconds at
  UTC midnight of its day (`models/Timestamp.kt`).
- a file Loop itself would read has both tables (`io/LoopDBImporter.kt`, `canHandle`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.core.errors import Unprocessable

SQLITE_HEADER = b"SQLite format 3\x00"
FIRST_LOOP_VERSION = 9  # migrations/09.sql creates Habits and Repetitions

YES_MANUAL, YES_AUTO, NO, SKIP, UNKNOWN = 2, 1, 0, 3, -1

# PaletteUtils.kt, toFixedAndroidColor: the 20 colors by palette index.
PALETTE = (
    "#d32f2f", "#e64a19", "#f57c00", "#ff8f00", "#f9a825", "#afb42b", "#7cb342", "#388e3c",
    "#00897b", "#00acc1", "#039be5", "#1976d2", "#303f9f", "#5e35b1", "#8e24aa", "#d81b60",
    "#5d4037", "#303030", "#757575", "#aaaaaa",
)  # fmt: skip
# 14.sql: the ARGB ints of the first palette, by their 13-color index.
ARGB_TO_OLD_INDEX = {
    -2937041: 0, -1684967: 1, -415707: 2, -5262293: 3, -13070788: 4, -16742021: 5,
    -16732991: 6, -16540699: 7, -10603087: 8, -7461718: 9, -2614432: 10, -13619152: 11,
    -5592406: 12,
}  # fmt: skip
# 21.sql: the 13-color index to today's 20-color one.
OLD_INDEX_TO_INDEX = {
    0: 0, 1: 1, 2: 4, 3: 5, 4: 7, 5: 8, 6: 9, 7: 10, 8: 13, 9: 14, 10: 15, 11: 17, 12: 19,
}  # fmt: skip


class NotALoopBackup(Unprocessable):
    code = "not_a_loop_backup"
    title = "Not a Loop Habit Tracker backup"


@dataclass(frozen=True, slots=True)
class LoopEntry:
    day: date
    value: int  # as Loop stores it: a mark for yes/no habits, the amount x 1000 otherwise
    notes: str | None = None


@dataclass(slots=True)
class LoopHabit:
    id: int
    name: str
    question: str
    description: str
    color_index: int  # into PALETTE, already mapped from older files
    archived: bool
    position: int
    freq_num: int
    freq_den: int
    numerical: bool
    target_type: int
    target_value: float
    unit: str
    uuid: str | None
    reminder: tuple[int, int] | None  # (hour, minute)
    entries: list[LoopEntry] = field(default_factory=list)

    @property
    def color(self) -> str:
        return PALETTE[self.color_index]

    def amount(self, entry: LoopEntry) -> Decimal:
        return Decimal(entry.value) / 1000


@dataclass(frozen=True, slots=True)
class LoopBackup:
    version: int
    habits: list[LoopHabit]
    unreadable_entries: int  # repetitions whose timestamp is no date


def palette_index(color: Any, version: int) -> int:
    """A stored color as today's palette index, by the migrations the file has not had."""
    if not isinstance(color, int):
        return 0
    if version < 14:
        color = ARGB_TO_OLD_INDEX.get(color, 0)
    if version < 21:
        color = OLD_INDEX_TO_INDEX.get(color, 0)
    return color if 0 <= color < len(PALETTE) else 0


def read_loop_backup(data: bytes) -> LoopBackup:
    """The habits and entries of a Loop backup, or NotALoopBackup saying what is wrong."""
    if not data.startswith(SQLITE_HEADER):
        raise NotALoopBackup("The file is not an SQLite database, so not a Loop backup.")
    _check_complete(data)
    with _opened(data) as db:
        try:
            return _read(db)
        except sqlite3.DatabaseError as error:
            raise NotALoopBackup(f"The database cannot be read: {error}.") from None


def _check_complete(data: bytes) -> None:
    """The header's page count against the bytes there are: a cut-off upload or copy."""
    if len(data) < 100:
        raise NotALoopBackup("The file is truncated: it ends inside the SQLite header.")
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(data[28:32], "big")
    if page_size < 512 or len(data) < page_size * pages:
        raise NotALoopBackup("The file is truncated: the database ends before its last page.")


@contextlib.contextmanager
def _opened(data: bytes) -> Iterator[sqlite3.Connection]:
    handle, path = tempfile.mkstemp(prefix="loop-backup-", suffix=".db")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # Read-only and immutable: nothing in the upload (a journal, a WAL) is replayed.
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            # An upload is untrusted: no schema-defined functions, and a work budget so a
            # crafted file cannot keep a worker busy.
            db.execute("pragma trusted_schema = off")
            db.set_progress_handler(_over_budget(), PROGRESS_STEP)
            yield db
        finally:
            db.close()
    finally:
        os.unlink(path)


# Repetitions by the columns the file has (value: 16.sql, notes: 25.sql); before 16.sql every
# row is a yes. Ordered so that the first of duplicates comes first, as 22.sql keeps it.
_ENTRIES_WHERE = (
    " from repetitions where habit is not null and timestamp is not null"
    " order by habit, timestamp, rowid"
)
_ENTRIES = {
    (True, True): "select habit, timestamp, value, notes" + _ENTRIES_WHERE,
    (True, False): "select habit, timestamp, value, null" + _ENTRIES_WHERE,
    (False, True): f"select habit, timestamp, {YES_MANUAL}, notes" + _ENTRIES_WHERE,
    (False, False): f"select habit, timestamp, {YES_MANUAL}, null" + _ENTRIES_WHERE,
}


# SQLite calls the progress handler every PROGRESS_STEP virtual machine instructions; past
# WORK_BUDGET of them the statement is interrupted. Reading a real backup at the upload
# limit takes a small fraction of it.
PROGRESS_STEP = 10_000
WORK_BUDGET = 500_000_000


def _over_budget() -> Callable[[], int]:
    steps = 0

    def check() -> int:
        nonlocal steps
        steps += 1
        return int(steps * PROGRESS_STEP > WORK_BUDGET)

    return check


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1].lower() for row in db.execute(f"pragma table_info({table})")}


def _read(db: sqlite3.Connection) -> LoopBackup:
    if db.execute("pragma quick_check").fetchone() != ("ok",):
        raise NotALoopBackup("The database is damaged (SQLite's quick_check fails).")
    tables = {
        row[0].lower() for row in db.execute("select name from sqlite_master where type = 'table'")
    }
    if not {"habits", "repetitions"} <= tables:
        raise NotALoopBackup("The database has no Habits and Repetitions tables.")
    version = db.execute("pragma user_version").fetchone()[0]
    habit_columns = _columns(db, "habits")
    entry_columns = _columns(db, "repetitions")
    needed = {"id", "name", "freq_num", "freq_den"}
    if not needed <= habit_columns or not {"habit", "timestamp"} <= entry_columns:
        raise NotALoopBackup("The Habits or Repetitions table lacks Loop's columns.")
    habits = [_habit(row, version) for row in _habit_rows(db)]
    by_id = {habit.id: habit for habit in habits}
    unreadable = 0
    seen: set[tuple[int, date]] = set()
    query = _ENTRIES[("value" in entry_columns, "notes" in entry_columns)]
    for habit_id, timestamp, value, notes in db.execute(query):
        habit = by_id.get(habit_id)
        if habit is None:
            continue  # 22.sql drops repetitions of habits that are gone
        day = _day(timestamp)
        if day is None or not isinstance(value, int):
            unreadable += 1
            continue
        if (habit_id, day) in seen:
            continue  # 22.sql keeps the first of duplicates
        seen.add((habit_id, day))
        habit.entries.append(LoopEntry(day, value, notes or None))
    habits.sort(key=lambda habit: (habit.position, habit.id))
    return LoopBackup(version, habits, unreadable)


def _habit_rows(db: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    cursor = db.execute("select * from habits")
    names = [description[0].lower() for description in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _habit(row: dict[str, Any], version: int) -> LoopHabit:
    hour, minute = row.get("reminder_hour"), row.get("reminder_min")
    question = row.get("question")
    description = row.get("description") or ""
    if question is None:  # before 23.sql the description was the question
        question, description = description, ""
    target = row.get("target_value")
    return LoopHabit(
        id=int(row["id"]),
        name=str(row.get("name") or "").strip(),
        question=str(question or "").strip(),
        description=str(description).strip(),
        color_index=palette_index(row.get("color"), version),
        archived=bool(row.get("archived")),
        position=_int(row.get("position")),
        freq_num=_int(row.get("freq_num"), 1),
        freq_den=_int(row.get("freq_den"), 1),
        numerical=row.get("type") == 1,
        target_type=_int(row.get("target_type")),
        target_value=float(target) if isinstance(target, int | float) else 0.0,
        unit=str(row.get("unit") or "").strip(),
        uuid=str(row["uuid"]) if row.get("uuid") else None,
        reminder=(hour, minute) if isinstance(hour, int) and isinstance(minute, int) else None,
    )


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value if isinstance(value, int) else default


def _day(timestamp: Any) -> date | None:
    if not isinstance(timestamp, int):
        return None
    try:
        return datetime.fromtimestamp(timestamp / 1000, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None
