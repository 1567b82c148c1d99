"""POST /v1/families/{family_id}/imports/loop: a Loop Habit Tracker backup becomes a member's
habits with their whole history; the same file twice creates nothing; a file that is not a
Loop backup changes nothing and says why. Backups are built by tests/support/loop_backups.py
from Loop's own migrations, one per schema shape."""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.habits import Household, local_today
from tests.support.loop_backups import loop_backup, loop_habit

TODAY = local_today()
LONG_AGO = TODAY - timedelta(days=400)  # far outside the 30-day backfill window


def import_path(household: Household) -> str:
    return f"/v1/families/{household.family_id}/imports/loop"


async def upload(
    client: httpx.AsyncClient,
    household: Household,
    data: bytes,
    member_id: uuid.UUID,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        import_path(household),
        files={"file": ("Loop Habits Backup.db", data, "application/octet-stream")},
        data={"member_id": str(member_id)},
        headers=headers or household.admin.headers,
    )


async def habits_of(client: httpx.AsyncClient, household: Household) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/families/{household.family_id}/habits",
        params={"assignee_id": str(household.teen_member), "limit": 200},
        headers=household.admin.headers,
    )
    return list(response.json()["items"])


async def checkins_of(
    client: httpx.AsyncClient, household: Household, habit_id: str
) -> dict[str, tuple[str, float | None]]:
    found: dict[str, tuple[str, float | None]] = {}
    last = TODAY
    while last >= LONG_AGO:  # the checkins list answers at most 366 days at a time
        first = max(LONG_AGO, last - timedelta(days=365))
        response = await client.get(
            f"/v1/habits/{habit_id}/checkins",
            params={"from": str(first), "to": str(last)},
            headers=household.admin.headers,
        )
        assert response.status_code == 200, response.text
        for item in response.json()["items"]:
            value = None if item["value"] is None else float(item["value"])
            found[item["date"]] = (item["status"], value)
        last = first - timedelta(days=1)
    return found


def meditate(**columns: Any) -> dict[str, Any]:
    return loop_habit(**{"color": 7, **columns})


def run(**columns: Any) -> dict[str, Any]:
    return {
        "id": 2,
        "name": "Run",
        "freq_num": 1,
        "freq_den": 7,
        "archived": 1,
        "position": 1,
        "color": 11,
        "type": 1,
        "target_type": 0,
        "target_value": 5.0,
        "unit": "km",
        **columns,
    }


def full_backup() -> bytes:
    """Today's schema: a yes/no habit with a year-old yes, a skip and a note; an archived
    numeric habit; an odd frequency; a reminder."""
    return loop_backup(
        25,
        [
            meditate(
                question="Meditate?",
                description="10 minutes",
                uuid="m1",
                reminder_hour=7,
                reminder_min=30,
            ),
            run(uuid="r1"),
            {
                "id": 3,
                "name": "Floss",
                "freq_num": 3,
                "freq_den": 10,
                "position": 2,
                "color": 19,
                "uuid": "f1",
            },
        ],
        [
            {"habit": 1, "day": LONG_AGO, "value": 2, "notes": "first"},
            {"habit": 1, "day": TODAY - timedelta(days=2), "value": 3},
            {"habit": 1, "day": TODAY - timedelta(days=1), "value": 2},
            {"habit": 1, "day": TODAY - timedelta(days=3), "value": 0},  # NO: no check-in
            {"habit": 2, "day": TODAY - timedelta(days=5), "value": 5500},
            {"habit": 2, "day": TODAY - timedelta(days=4), "value": 3},  # SKIP
            {"habit": 2, "day": TODAY, "value": 0},
            {"habit": 3, "day": TODAY - timedelta(days=1), "value": 2},
        ],
    )


class TestImport:
    async def test_habits_days_values_and_skips_come_along(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await upload(client, household, full_backup(), household.teen_member)

        assert response.status_code == 201, response.text
        summary = response.json()
        assert (summary["habits_created"], summary["checkins_created"]) == (3, 7)
        whats = " | ".join(item["what"] + ": " + item["why"] for item in summary["skipped"])
        assert "reminder of habit “Meditate” at 07:30" in whats
        assert "frequency of habit “Floss”" in whats
        assert "imported as 9 times per month" in whats

        habits = {habit["name"]: habit for habit in await habits_of(client, household)}
        meditation, running = habits["Meditate"], habits["Run"]
        assert meditation["description"] == "Meditate?\n\n10 minutes"
        assert meditation["color"] == "#388e3c"
        assert meditation["schedule"] == {"kind": "daily"}
        assert meditation["start_date"] == str(LONG_AGO)
        assert meditation["archived"] is False
        assert running["archived"] is True
        assert (running["type"], running["unit"], running["target_direction"]) == (
            "numeric",
            "km",
            "at_least",
        )
        assert float(running["target_value"]) == 5
        assert running["schedule"] == {"kind": "per_period", "times": 1, "period": "week"}
        assert habits["Floss"]["color"] == "#aaaaaa"

        assert await checkins_of(client, household, meditation["id"]) == {
            str(LONG_AGO): ("done", None),
            str(TODAY - timedelta(days=2)): ("skipped", None),
            str(TODAY - timedelta(days=1)): ("done", None),
        }
        assert await checkins_of(client, household, running["id"]) == {
            str(TODAY - timedelta(days=5)): ("done", 5.5),
            str(TODAY - timedelta(days=4)): ("skipped", None),
            str(TODAY): ("done", 0.0),
        }

    async def test_the_same_file_again_creates_nothing(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        data = full_backup()
        first = await upload(client, household, data, household.teen_member)
        assert first.status_code == 201

        again = await upload(client, household, data, household.teen_member)

        assert again.status_code == 200, again.text
        assert (again.json()["habits_created"], again.json()["checkins_created"]) == (0, 0)
        assert len(await habits_of(client, household)) == 3

    async def test_a_later_backup_skips_the_habits_already_imported(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        await upload(client, household, full_backup(), household.teen_member)
        later = loop_backup(25, [meditate(uuid="m1"), meditate(id=4, name="Stretch", uuid="s1")])

        response = await upload(client, household, later, household.teen_member)

        assert response.status_code == 201
        assert response.json()["habits_created"] == 1
        assert any("Meditate" in item["what"] for item in response.json()["skipped"])
        assert len(await habits_of(client, household)) == 4

    async def test_an_at_most_habit_and_an_entry_after_today(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        data = loop_backup(
            25,
            [run(type=1, target_type=1, target_value=2.0, unit="cups", archived=0, uuid="c")],
            [
                {"habit": 2, "day": TODAY - timedelta(days=1), "value": 1500},
                {"habit": 2, "day": TODAY + timedelta(days=3), "value": 1000},
            ],
        )

        response = await upload(client, household, data, household.teen_member)

        assert response.json()["checkins_created"] == 1
        assert any("after the member's today" in i["why"] for i in response.json()["skipped"])
        [habit] = await habits_of(client, household)
        assert habit["target_direction"] == "at_most"
        stats = await client.get(f"/v1/habits/{habit['id']}/stats", headers=household.teen.headers)
        assert stats.json()["score"] > 0.9  # Loop's at most: kept days from the start


SHAPES = {
    12: ("ARGB colors, every row a yes, no types", {"color": -13070788}),
    17: ("types and values, the 13-color palette", {"color": 4}),
    21: ("targets, today's palette", {"color": 7}),
    25: ("questions, uuids, notes", {"color": 7, "uuid": "u"}),
}


@pytest.mark.parametrize("version", sorted(SHAPES), ids=lambda v: f"v{v}-{SHAPES[v][0]}")
async def test_every_schema_shape_imports_the_same_days(
    client: httpx.AsyncClient, household: Household, version: int
) -> None:
    days = [LONG_AGO, TODAY - timedelta(days=40), TODAY - timedelta(days=1)]
    data = loop_backup(
        version,
        [meditate(**SHAPES[version][1])],
        [{"habit": 1, "day": day, "value": 2} for day in days],
    )

    response = await upload(client, household, data, household.teen_member)

    assert response.status_code == 201, response.text
    [habit] = await habits_of(client, household)
    assert habit["color"] == "#388e3c"
    assert await checkins_of(client, household, habit["id"]) == {
        str(day): ("done", None) for day in days
    }


class TestNotALoopBackup:
    @pytest.mark.parametrize(
        "data",
        [
            b"Date,Meditate\n2024-03-04,YES_MANUAL\n",
            loop_backup(25, [meditate()])[:3000],
            b"SQLite format 3\x00" + b"\x00" * 200,
        ],
        ids=["a CSV file", "a truncated backup", "an empty header"],
    )
    async def test_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, household: Household, data: bytes
    ) -> None:
        response = await upload(client, household, data, household.teen_member)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_a_loop_backup"
        assert await habits_of(client, household) == []

    async def test_wrong_tables(self, client: httpx.AsyncClient, household: Household) -> None:
        with tempfile.TemporaryDirectory() as folder:  # a database, but not Loop's
            path = Path(folder) / "notes.db"
            db = sqlite3.connect(path)
            db.execute("create table Notes (id integer primary key, body text)")
            db.commit()
            db.close()
            data = path.read_bytes()

        response = await upload(client, household, data, household.teen_member)

        assert response.status_code == 422
        assert "Habits and Repetitions" in response.json()["detail"]

    async def test_a_file_over_the_limit_is_413(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        huge = loop_backup(25, [meditate()]) + b"\x00" * 8_388_608

        response = await upload(client, household, huge, household.teen_member)

        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        assert await habits_of(client, household) == []

    async def test_a_missing_file_is_422(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.post(
            import_path(household),
            data={"member_id": str(household.teen_member)},
            headers=household.admin.headers,
        )
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"


class TestAllOrNothing:
    async def test_a_failure_while_writing_leaves_nothing(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        # A real Postgres failure after the habits are written: the check-ins' insert fails.
        await connection.execute(
            text(
                "create function pg_temp.refuse() returns trigger language plpgsql as"
                " $$ begin raise exception 'disk full'; end $$"
            )
        )
        await connection.execute(
            text(
                "create trigger refuse before insert on checkins"
                " for each row execute function pg_temp.refuse()"
            )
        )

        response = await upload(client, household, full_backup(), household.teen_member)

        assert response.status_code >= 500
        await connection.execute(text("drop trigger refuse on checkins"))
        assert await habits_of(client, household) == []
        keys = await connection.scalar(text("select count(*) from import_keys"))
        assert keys == 0


ROLES = [
    ("owner", "teen", 201),
    ("admin", "teen", 201),
    ("admin", "kid", 201),
    ("teen", "teen", 201),
    ("teen", "admin", 403),
    ("outsider", "teen", 404),
]


@pytest.mark.parametrize(("who", "for_whom", "expected"), ROLES)
async def test_role_matrix(
    client: httpx.AsyncClient, household: Household, who: str, for_whom: str, expected: int
) -> None:
    person = getattr(household, who)
    member = getattr(household, f"{for_whom}_member")

    response = await upload(client, household, full_backup(), member, headers=person.headers)

    assert response.status_code == expected, response.text
    if expected != 201:
        listed = await client.get(
            f"/v1/families/{household.family_id}/habits", headers=household.admin.headers
        )
        assert listed.json()["items"] == []


async def test_a_member_of_another_family_is_404(
    client: httpx.AsyncClient, household: Household
) -> None:
    response = await upload(client, household, full_backup(), household.outsider_member)
    assert response.status_code == 404
