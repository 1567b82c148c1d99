"""Loop Habit Tracker backups built by the tests, at any schema version Loop has shipped.

The schema is Loop's own: the structural statements of its migrations
(uhabits-core/src/jvmMain/resources/migrations/09.sql … 25.sql, transcribed below), applied
in order up to the version asked for, and `user_version` set as Loop's helper sets it.
(The migrations' data statements — color remaps, cache clean-ups — act on rows and are left
out: the tests write rows already in the shape of their version.)
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

LOOP_MIGRATIONS: dict[int, str] = {
    9: """
create table Habits (id integer primary key autoincrement, archived integer, color integer,
    description text, freq_den integer, freq_num integer, highlight integer, name text,
    position integer, reminder_hour integer, reminder_min integer);
create table Checkmarks (id integer primary key autoincrement,
    habit integer references habits(id), timestamp integer, value integer);
create table Repetitions (id integer primary key autoincrement,
    habit integer references habits(id), timestamp integer);
create table Streak (id integer primary key autoincrement, end integer,
    habit integer references habits(id), length integer, start integer);
create table Score (id integer primary key autoincrement,
    habit integer references habits(id), score integer, timestamp integer);
""",
    11: "alter table Habits add column reminder_days integer not null default 127;",
    13: """
create index idx_score_habit_timestamp on Score(habit, timestamp);
create index idx_checkmark_habit_timestamp on Checkmarks(habit, timestamp);
create index idx_repetitions_habit_timestamp on Repetitions(habit, timestamp);
create index idx_streak_habit_end on Streak(habit, end);
""",
    16: """
alter table Habits add column type integer not null default 0;
alter table Repetitions add column value integer not null default 2;
""",
    17: """
drop table Score;
create table Score (id integer primary key autoincrement,
    habit integer references habits(id), score real, timestamp integer);
create index idx_score_habit_timestamp on Score(habit, timestamp);
""",
    18: """
alter table Habits add column target_type integer not null default 0;
alter table Habits add column target_value real not null default 0;
alter table Habits add column unit text not null default "";
""",
    19: """
create table Events (id integer primary key autoincrement, timestamp integer,
    message text, server_id integer);
""",
    20: "drop table checkmarks; drop table streak; drop table score;",
    22: """
alter table Repetitions rename to RepetitionsBak;
create table Repetitions (id integer primary key autoincrement,
    habit integer not null references habits(id), timestamp integer not null,
    value integer not null);
drop index if exists idx_repetitions_habit_timestamp;
create unique index idx_repetitions_habit_timestamp on Repetitions(habit, timestamp);
insert into Repetitions select * from RepetitionsBak;
drop table RepetitionsBak;
""",
    23: "alter table Habits add column question text;",
    24: "alter table habits add column uuid text;",
    25: "alter table Repetitions add column notes text;",
}
LATEST = 25


def timestamp(day: date) -> int:
    """Loop's Timestamp: milliseconds at UTC midnight of the day."""
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)


def loop_backup(
    version: int,
    habits: Iterable[Mapping[str, Any]] = (),
    repetitions: Iterable[Mapping[str, Any]] = (),
) -> bytes:
    """A backup file at `version`: habits and repetitions as column → value (a repetition's
    `day` becomes its timestamp); columns the version does not have are left out."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Loop Habits Backup.db"
        db = sqlite3.connect(path)
        for number, script in sorted(LOOP_MIGRATIONS.items()):
            if number <= version:
                db.executescript(script)
        db.execute(f"pragma user_version = {int(version)}")
        _insert(db, "Habits", habits)
        _insert(
            db,
            "Repetitions",
            ({**row, "timestamp": timestamp(row["day"])} for row in repetitions),
        )
        db.commit()
        db.close()
        return path.read_bytes()


def _insert(db: sqlite3.Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    columns = {row[1] for row in db.execute(f"pragma table_info({table})")}
    for row in rows:
        kept = {name: value for name, value in row.items() if name in columns}
        names = ", ".join(kept)
        marks = ", ".join("?" for _ in kept)
        db.execute(f"insert into {table} ({names}) values ({marks})", list(kept.values()))


def loop_habit(**columns: Any) -> dict[str, Any]:
    """A row of Loop's Habits table: "Meditate", a yes/no habit due every day, with `columns`
    replacing or adding."""
    return {
        "id": 1,
        "name": "Meditate",
        "description": "Did you meditate?",
        "freq_num": 1,
        "freq_den": 1,
        "archived": 0,
        "position": 0,
        **columns,
    }
