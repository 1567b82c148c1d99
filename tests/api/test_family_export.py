"""GET /v1/families/{family_id}/export: a zip of CSV files a spreadsheet opens, with every
check-in of the family (admins) or of the caller (members); an imported Loop backup comes
back out with the same days and values."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api.test_loop_import import LONG_AGO, TODAY, full_backup, upload
from tests.conftest import StatementLog
from tests.support.habits import (
    Household,
    Measure,
    create_checkin,
    create_habit,
    create_routine,
)
from tests.support.loop_backups import loop_backup

FILES = ["habits.csv", "habit_versions.csv", "checkins.csv", "routines.csv"]


def export_path(household: Household) -> str:
    return f"/v1/families/{household.family_id}/export"


def read_zip(content: bytes) -> dict[str, list[dict[str, str]]]:
    """Each CSV file as a spreadsheet would read it (UTF-8 with its byte order mark)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == FILES
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in FILES
        }


async def export(
    client: httpx.AsyncClient, household: Household, headers: dict[str, str]
) -> dict[str, list[dict[str, str]]]:
    response = await client.get(export_path(household), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return read_zip(response.content)


class TestRoundTrip:
    async def test_an_imported_backup_comes_back_with_the_same_days_and_values(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        imported = await upload(client, household, full_backup(), household.teen_member)
        assert imported.status_code == 201

        files = await export(client, household, household.admin.headers)

        days = {(row["Habit"], row["Date"]): row for row in files["checkins.csv"]}
        assert {
            (habit, day): (row["Value"], row["Amount"]) for (habit, day), row in days.items()
        } == {
            ("Meditate", str(LONG_AGO)): ("YES_MANUAL", ""),
            ("Meditate", str(TODAY - timedelta(days=2))): ("SKIP", ""),
            ("Meditate", str(TODAY - timedelta(days=1))): ("YES_MANUAL", ""),
            ("Run", str(TODAY - timedelta(days=5))): ("5500", "5.5"),
            ("Run", str(TODAY - timedelta(days=4))): ("SKIP", ""),
            ("Run", str(TODAY)): ("0", "0"),
            ("Floss", str(TODAY - timedelta(days=1))): ("YES_MANUAL", ""),
        }
        assert days[("Meditate", str(LONG_AGO))]["Notes"] == "first"
        habits = {row["Name"]: row for row in files["habits.csv"]}
        assert habits["Run"]["Type"] == "NUMERICAL"
        assert (habits["Run"]["FrequencyNumerator"], habits["Run"]["FrequencyDenominator"]) == (
            "1",
            "7",
        )
        assert (habits["Run"]["Unit"], habits["Run"]["Target Type"]) == ("km", "AT_LEAST")
        assert habits["Run"]["Target Value"] == "5"
        assert habits["Run"]["Archived?"] == "true"
        assert habits["Meditate"]["Color"] == "#388e3c"
        assert habits["Meditate"]["Assignee"] == "Teen"

    async def test_the_export_imports_back_as_a_loop_backup_would(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        # The other direction: the Loop values of the export are what Loop itself stores.
        backup = loop_backup(
            25,
            [{"id": 1, "name": "Water", "freq_num": 1, "freq_den": 1, "type": 1,
              "target_type": 1, "target_value": 2.0, "unit": "l", "uuid": "w"}],
            [{"habit": 1, "day": TODAY - timedelta(days=n), "value": 1000 + 250 * n}
             for n in range(5)],
        )  # fmt: skip
        await upload(client, household, backup, household.teen_member)

        files = await export(client, household, household.admin.headers)

        values = sorted((row["Date"], int(row["Value"])) for row in files["checkins.csv"])
        assert values == sorted((str(TODAY - timedelta(days=n)), 1000 + 250 * n) for n in range(5))
        [version] = files["habit_versions.csv"]
        assert (version["Target Type"], version["Target Value"], version["Schedule"]) == (
            "AT_MOST",
            "2",
            "daily",
        )


class TestWhatEachRoleGets:
    @pytest.fixture
    async def family_data(self, connection: AsyncConnection, household: Household) -> None:
        for member, name in (
            (household.teen_member, "Teen reads"),
            (household.kid_member, "Kid brushes"),
        ):
            habit = await create_habit(connection, household.family_id, member, name=name)
            await create_checkin(connection, habit, TODAY - timedelta(days=1))
            await create_routine(connection, household.family_id, member, [habit], name=name)

    @pytest.mark.usefixtures("family_data")
    @pytest.mark.parametrize("who", ["owner", "admin"])
    async def test_admins_get_the_whole_family(
        self, client: httpx.AsyncClient, household: Household, who: str
    ) -> None:
        files = await export(client, household, getattr(household, who).headers)

        assert {row["Name"] for row in files["habits.csv"]} == {"Teen reads", "Kid brushes"}
        assert len(files["checkins.csv"]) == 2
        assert {row["Name"] for row in files["routines.csv"]} == {"Teen reads", "Kid brushes"}

    @pytest.mark.usefixtures("family_data")
    async def test_a_member_gets_their_own(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        files = await export(client, household, household.teen.headers)

        assert [row["Name"] for row in files["habits.csv"]] == ["Teen reads"]
        assert [row["Habit"] for row in files["checkins.csv"]] == ["Teen reads"]
        assert [row["Name"] for row in files["routines.csv"]] == ["Teen reads"]
        assert files["routines.csv"][0]["Habits"] == "Teen reads"

    @pytest.mark.usefixtures("family_data")
    async def test_an_outsider_gets_404(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.get(export_path(household), headers=household.outsider.headers)

        assert response.status_code == 404
        assert response.json()["code"] == "family_not_found"


class TestTheFiles:
    async def test_a_spreadsheet_reads_names_with_accents_and_commas(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await create_habit(
            connection, household.family_id, household.teen_member, name='Lire, "Les Misérables"'
        )

        response = await client.get(export_path(household), headers=household.admin.headers)

        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            raw = archive.read("habits.csv")
        assert raw.startswith(b"\xef\xbb\xbf")  # the UTF-8 byte order mark
        assert read_zip(response.content)["habits.csv"][0]["Name"] == 'Lire, "Les Misérables"'

    async def test_an_empty_family_has_the_headers(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.get(export_path(household), headers=household.admin.headers)

        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            first_line = archive.read("checkins.csv").decode("utf-8-sig").splitlines()[0]
        assert first_line == "Date,Habit,Value,Notes,Habit Id,Assignee,Status,Amount"

    async def test_the_statement_count_does_not_grow_with_the_data(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        sql_statements: StatementLog,
    ) -> None:
        async def count() -> int:
            sql_statements.reset()
            response = await client.get(export_path(household), headers=household.admin.headers)
            assert response.status_code == 200
            return sql_statements.count

        habit = await create_habit(connection, household.family_id, household.teen_member)
        small = await count()
        for n in range(1, 20):
            await create_checkin(connection, habit, TODAY - timedelta(days=n))
        for _ in range(5):
            await create_habit(
                connection, household.family_id, household.kid_member, measure=Measure.numeric(3)
            )

        assert await count() == small
