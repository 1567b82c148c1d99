"""Reading Loop Habit Tracker backups (app.services.loop_backup) of every schema shape Loop
has shipped, built by tests/support/loop_backups.py from Loop's migrations, and refusing
files that are not one. And Loop's frequencies as Loopin schedules (loop_import)."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.services import loop_backup as loop_backup_module
from app.services.loop_backup import NotALoopBackup, palette_index, read_loop_backup
from app.services.loop_import import schedule_of
from tests.support.loop_backups import LATEST, loop_backup, loop_habit

MONDAY = date(2024, 3, 4)
GREEN_ARGB = -13070788  # 14.sql: color 4 of the first palette
GREEN = "#388e3c"  # PaletteUtils.kt: index 7, where 21.sql moved old index 4


class TestSchemaShapes:
    def test_version_12_argb_colors_every_row_a_yes_description_is_the_question(self) -> None:
        data = loop_backup(
            12,
            [loop_habit(color=GREEN_ARGB, reminder_hour=7, reminder_min=30)],
            [{"habit": 1, "day": MONDAY}, {"habit": 1, "day": date(2024, 3, 5)}],
        )
        backup = read_loop_backup(data)
        [habit] = backup.habits
        assert backup.version == 12
        assert (habit.color, habit.question, habit.description) == (
            GREEN,
            "Did you meditate?",
            "",
        )
        assert habit.reminder == (7, 30)
        assert [(e.day, e.value) for e in habit.entries] == [
            (MONDAY, 2),
            (date(2024, 3, 5), 2),
        ]

    def test_version_17_old_palette_values_and_types(self) -> None:
        data = loop_backup(
            17,
            [loop_habit(color=4, freq_num=3, freq_den=7)],
            [
                {"habit": 1, "day": MONDAY, "value": 2},
                {"habit": 1, "day": date(2024, 3, 6), "value": 3},
            ],
        )
        [habit] = read_loop_backup(data).habits
        assert habit.color == GREEN
        assert (habit.freq_num, habit.freq_den, habit.numerical) == (3, 7, False)
        assert [e.value for e in habit.entries] == [2, 3]

    def test_version_21_numeric_at_most_with_unit(self) -> None:
        data = loop_backup(
            21,
            [loop_habit(color=7, type=1, target_type=1, target_value=2.5, unit="cups")],
            [{"habit": 1, "day": MONDAY, "value": 1500}],
        )
        [habit] = read_loop_backup(data).habits
        assert (habit.numerical, habit.target_type, habit.target_value, habit.unit) == (
            True,
            1,
            2.5,
            "cups",
        )
        assert habit.amount(habit.entries[0]) == Decimal("1.5")
        assert habit.color == GREEN

    def test_version_25_question_uuid_and_notes(self) -> None:
        data = loop_backup(
            25,
            [loop_habit(color=7, question="Meditate 10 min?", description="Mornings", uuid="ab12")],
            [{"habit": 1, "day": MONDAY, "value": 2, "notes": "calm"}],
        )
        [habit] = read_loop_backup(data).habits
        assert (habit.question, habit.description, habit.uuid) == (
            "Meditate 10 min?",
            "Mornings",
            "ab12",
        )
        assert habit.entries[0].notes == "calm"

    def test_before_22_duplicates_and_orphans_are_dropped_as_22_does(self) -> None:
        data = loop_backup(
            17,
            [loop_habit()],
            [
                {"habit": 1, "day": MONDAY, "value": 2},
                {"habit": 1, "day": MONDAY, "value": 3},
                {"habit": 9, "day": MONDAY, "value": 2},
            ],
        )
        [habit] = read_loop_backup(data).habits
        assert [(e.day, e.value) for e in habit.entries] == [(MONDAY, 2)]

    @pytest.mark.parametrize("version", range(9, LATEST + 1))
    def test_every_version_from_9_to_today(self, version: int) -> None:
        # The color as that version stores green: ARGB, then the 13-color index, then today's.
        color = GREEN_ARGB if version < 14 else 4 if version < 21 else 7
        data = loop_backup(
            version,
            [loop_habit(color=color, uuid="u")],
            [
                {"habit": 1, "day": MONDAY, "value": 3},
                {"habit": 1, "day": date(2024, 3, 5), "value": 2},
            ],
        )
        backup = read_loop_backup(data)
        [habit] = backup.habits
        assert (backup.version, habit.name, habit.color) == (version, "Meditate", GREEN)
        # Before 16.sql there is no value: every repetition is a yes.
        first = 3 if version >= 16 else 2
        assert [(e.day, e.value) for e in habit.entries] == [
            (MONDAY, first),
            (date(2024, 3, 5), 2),
        ]
        assert habit.uuid == ("u" if version >= 24 else None)

    @pytest.mark.parametrize(
        ("color", "version", "index"),
        [(GREEN_ARGB, 9, 7), (123, 13, 0), (12, 20, 19), (40, 20, 0), (19, 21, 19), (-1, 25, 0)],
    )
    def test_colors_by_version(self, color: int, version: int, index: int) -> None:
        assert palette_index(color, version) == index


class TestNotALoopBackup:
    def test_not_sqlite(self) -> None:
        with pytest.raises(NotALoopBackup, match="not an SQLite database"):
            read_loop_backup(b"name,date\nRun,2024-03-04\n")

    def test_wrong_tables(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "other.db"
            db = sqlite3.connect(path)
            db.execute("create table notes (id integer primary key, body text)")
            db.commit()
            db.close()
            data = path.read_bytes()
        with pytest.raises(NotALoopBackup, match="no Habits and Repetitions"):
            read_loop_backup(data)

    def test_truncated(self) -> None:
        data = loop_backup(25, [loop_habit()], [{"habit": 1, "day": MONDAY, "value": 2}])
        with pytest.raises(NotALoopBackup, match="truncated"):
            read_loop_backup(data[: len(data) // 2])

    def test_cut_inside_the_header(self) -> None:
        with pytest.raises(NotALoopBackup, match="truncated"):
            read_loop_backup(loop_backup(25)[:60])

    def test_damaged_pages(self) -> None:
        data = bytearray(loop_backup(25, [loop_habit()], [{"habit": 1, "day": MONDAY, "value": 2}]))
        page_size = int.from_bytes(data[16:18], "big")
        data[page_size : 2 * page_size] = b"\xff" * page_size  # the second page is garbage
        with pytest.raises(NotALoopBackup):
            read_loop_backup(bytes(data))

    def test_views_do_not_stand_in_for_tables(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "views.db"
            db = sqlite3.connect(path)
            db.execute("create table things (id integer primary key)")
            db.execute(
                "create view Habits as select id, 'x' as name, 1 as freq_num,"
                " 1 as freq_den from things"
            )
            db.execute("create view Repetitions as select id as habit, 0 as timestamp from things")
            db.commit()
            db.close()
            data = path.read_bytes()
        with pytest.raises(NotALoopBackup, match="no Habits and Repetitions"):
            read_loop_backup(data)

    def test_a_file_that_takes_too_much_work_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = loop_backup(25, [loop_habit()], [{"habit": 1, "day": MONDAY, "value": 2}])
        monkeypatch.setattr(loop_backup_module, "PROGRESS_STEP", 1)
        monkeypatch.setattr(loop_backup_module, "WORK_BUDGET", 100)
        with pytest.raises(NotALoopBackup, match="interrupted"):
            read_loop_backup(data)


class TestFrequencies:
    @pytest.mark.parametrize(
        ("num", "den", "schedule"),
        [
            (1, 1, {"kind": "daily"}),
            (7, 7, {"kind": "daily"}),
            (3, 7, {"kind": "per_period", "times": 3, "period": "week"}),
            (1, 30, {"kind": "per_period", "times": 1, "period": "month"}),
            (4, 31, {"kind": "per_period", "times": 4, "period": "month"}),
        ],
    )
    def test_exact(self, num: int, den: int, schedule: dict[str, object]) -> None:
        assert schedule_of(num, den) == (schedule, None)

    @pytest.mark.parametrize(
        ("num", "den", "schedule"),
        [
            (1, 2, {"kind": "per_period", "times": 15, "period": "month"}),  # every other day
            (2, 14, {"kind": "per_period", "times": 1, "period": "week"}),
            (1, 14, {"kind": "per_period", "times": 2, "period": "month"}),
            (3, 10, {"kind": "per_period", "times": 9, "period": "month"}),
            (6, 5, {"kind": "daily"}),
            (0, 7, {"kind": "daily"}),
        ],
    )
    def test_closest_and_reported(self, num: int, den: int, schedule: dict[str, object]) -> None:
        mapped, why = schedule_of(num, den)
        assert mapped == schedule
        assert why is not None
        assert f"{num} times in {den} days" in why
