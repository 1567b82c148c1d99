"""`loopin import-loop FILE --member ID`: the operator's import of a Loop Habit Tracker backup,
through the same service as the API, committed in one transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.databases import fetch
from tests.support.loop_backups import loop_backup
from tests.support.processes import clean_env, loopin
from tests.test_cli import CLI_SECRET

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture
def member(database_url: str) -> Iterator[uuid.UUID]:
    """A managed profile in a family of its own, committed (the command is another process)."""
    [row] = fetch(
        database_url,
        "with f as (insert into families (name, timezone) values ('Loop CLI', 'UTC')"
        " returning id) insert into family_members (family_id, display_name, role)"
        " select id, 'Kid', 'owner' from f returning id, family_id",
    )
    yield row["id"]
    fetch(database_url, "delete from families where id = $1", row["family_id"])


def test_imports_once_then_nothing(database_url: str, member: uuid.UUID, tmp_path: Path) -> None:
    backup = tmp_path / "Loop Habits Backup.db"
    backup.write_bytes(
        loop_backup(
            25,
            [{"id": 1, "name": "Read", "freq_num": 1, "freq_den": 1, "uuid": "r"}],
            [{"habit": 1, "day": YESTERDAY, "value": 2}],
        )
    )
    env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

    first = loopin("import-loop", str(backup), "--member", str(member), env=env)
    second = loopin("import-loop", str(backup), "--member", str(member), env=env)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["habits_created"] == 1
    assert json.loads(first.stdout)["checkins_created"] == 1
    assert second.returncode == 0, second.stderr
    assert "already imported" in second.stderr
    rows = fetch(
        database_url,
        "select c.date from checkins c join habits h on h.id = c.habit_id where h.assignee_id = $1",
        member,
    )
    assert [row["date"] for row in rows] == [YESTERDAY]


def test_not_a_backup_is_one_line(database_url: str, member: uuid.UUID, tmp_path: Path) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    env = clean_env(DATABASE_URL=database_url, SUPABASE_JWT_SECRET=CLI_SECRET)

    result = loopin("import-loop", str(not_a_backup), "--member", str(member), env=env)

    assert result.returncode == 1
    assert "not an SQLite database" in result.stderr
    assert "Traceback" not in result.stderr
