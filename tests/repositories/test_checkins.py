"""app.repositories.checkins: check-ins read by habit and date range, and the upsert's
outcomes (created, left unchanged, changed), for one row and for many."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import CheckinStatus
from app.repositories.checkins import (
    CheckinWriteRow,
    delete_checkin,
    fetch_checkins,
    fetch_entries,
    upsert_checkins,
)
from tests.support.habits import (
    Household,
    Measure,
    create_checkin,
    create_habit,
    days_ago,
)

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def _habit(connection: AsyncConnection, household: Household) -> uuid.UUID:
    return await create_habit(
        connection,
        household.family_id,
        household.teen_member,
        measure=Measure.numeric(10, "pages"),
        start_date=days_ago(60),
    )


class TestFetchEntries:
    async def test_the_range_holds_both_ends_and_nothing_outside(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        for days in (11, 10, 7, 5, 4):
            await create_checkin(connection, habit_id, days_ago(days), value=days)
        await create_checkin(connection, habit_id, days_ago(6), status="skipped")

        entries = (await fetch_entries(sql, [habit_id], days_ago(10), days_ago(5)))[habit_id]

        assert sorted(entries) == [days_ago(d) for d in (10, 7, 6, 5)]
        assert tuple(entries[days_ago(7)]) == ("done", Decimal("7.000"))
        assert tuple(entries[days_ago(6)]) == ("skipped", None)

    async def test_without_an_end_everything_from_the_first_day(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        for days in (3, 1, 0):
            await create_checkin(connection, habit_id, days_ago(days), value=1)

        entries = (await fetch_entries(sql, [habit_id], days_ago(1)))[habit_id]

        assert sorted(entries) == [days_ago(1), days_ago(0)]

    async def test_by_habit_and_empty_for_a_habit_without_checkins(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        logged, quiet = await _habit(connection, household), await _habit(connection, household)
        await create_checkin(connection, logged, days_ago(2), value=3)

        entries = await fetch_entries(sql, [logged, quiet], days_ago(5), days_ago(0))

        assert list(entries[logged]) == [days_ago(2)]
        assert entries[quiet] == {}
        assert await fetch_entries(sql, [], days_ago(5), days_ago(0)) == {}


class TestFetchAndDelete:
    async def test_checkins_between_two_days_in_date_order(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        for days in (1, 9, 3, 20):
            await create_checkin(
                connection, habit_id, days_ago(days), value=days, note=f"day {days}"
            )

        checkins = await fetch_checkins(sql, habit_id, days_ago(10), days_ago(1))

        assert [(c.date, c.value, c.note) for c in checkins] == [
            (days_ago(9), Decimal("9.000"), "day 9"),
            (days_ago(3), Decimal("3.000"), "day 3"),
            (days_ago(1), Decimal("1.000"), "day 1"),
        ]
        assert {c.status for c in checkins} == {CheckinStatus.DONE}

    async def test_delete_removes_that_day_only(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        for days in (1, 2):
            await create_checkin(connection, habit_id, days_ago(days), value=1)

        await delete_checkin(sql, habit_id, days_ago(1))
        await delete_checkin(sql, habit_id, days_ago(5))  # nothing there: nothing happens

        remaining = await fetch_checkins(sql, habit_id, days_ago(10), days_ago(0))
        assert [c.date for c in remaining] == [days_ago(2)]


class TestUpsert:
    async def _backdate(self, connection: AsyncConnection, habit_id: uuid.UUID) -> None:
        await connection.execute(
            text("update checkins set updated_at = :t where habit_id = :h"),
            {"t": LONG_AGO, "h": habit_id},
        )

    async def test_a_new_row_is_created(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        row = CheckinWriteRow(
            habit_id, household.family_id, days_ago(1), "done", Decimal(12), "read"
        )

        (checkin,) = await upsert_checkins(sql, [row], household.teen.user_id)

        assert checkin.created
        assert (checkin.habit_id, checkin.date, checkin.status, checkin.value) == (
            habit_id,
            days_ago(1),
            CheckinStatus.DONE,
            Decimal("12.000"),
        )
        assert (checkin.note, checkin.logged_by) == ("read", household.teen.user_id)

    async def test_an_identical_write_leaves_the_row_as_it_was(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        await create_checkin(connection, habit_id, days_ago(1), value=12, note="read")
        await self._backdate(connection, habit_id)
        row = CheckinWriteRow(
            habit_id, household.family_id, days_ago(1), "done", Decimal(12), "read"
        )

        (checkin,) = await upsert_checkins(sql, [row], household.admin.user_id)

        assert not checkin.created
        assert checkin.updated_at == LONG_AGO
        assert checkin.logged_by is None  # not rewritten: nothing changed

    async def test_a_different_write_replaces_the_row(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        await create_checkin(connection, habit_id, days_ago(1), value=12, note="read")
        await self._backdate(connection, habit_id)
        row = CheckinWriteRow(habit_id, household.family_id, days_ago(1), "skipped", None, None)

        (checkin,) = await upsert_checkins(sql, [row], household.admin.user_id)

        assert not checkin.created
        assert (checkin.status, checkin.value, checkin.note) == (CheckinStatus.SKIPPED, None, None)
        assert checkin.updated_at > LONG_AGO
        assert checkin.logged_by == household.admin.user_id

    async def test_many_rows_in_one_call_each_with_its_outcome(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await _habit(connection, household)
        same, changed, new = days_ago(3), days_ago(2), days_ago(1)
        await create_checkin(connection, habit_id, same, value=5)
        await create_checkin(connection, habit_id, changed, value=5)
        await self._backdate(connection, habit_id)
        family = household.family_id
        rows = [
            CheckinWriteRow(habit_id, family, same, "done", Decimal(5), None),
            CheckinWriteRow(habit_id, family, changed, "done", Decimal(6), None),
            CheckinWriteRow(habit_id, family, new, "done", Decimal(7), "new"),
        ]

        written = {c.date: c for c in await upsert_checkins(sql, rows, household.teen.user_id)}

        assert set(written) == {same, changed, new}
        assert [written[day].created for day in (same, changed, new)] == [False, False, True]
        assert written[same].updated_at == LONG_AGO
        assert written[changed].updated_at > LONG_AGO
        assert [written[day].value for day in (same, changed, new)] == [
            Decimal("5.000"),
            Decimal("6.000"),
            Decimal("7.000"),
        ]
        stored = await connection.scalar(
            text("select count(*) from checkins where habit_id = :h"), {"h": habit_id}
        )
        assert stored == 3

    async def test_nothing_to_write_runs_nothing(self, sql: Any, household: Household) -> None:
        assert await upsert_checkins(sql, [], household.teen.user_id) == []
