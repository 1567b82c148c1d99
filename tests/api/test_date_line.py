"""A trip east across the date line skips a local date; it must not break a daily streak.
The rule is `app.domain.date_line`: a timezone change whose UTC offset grows by more than
12 hours marks the dates jumped over as skipped for the person's day-based habits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.date_line import jumped_dates
from tests.support.habits import (
    Household,
    create_checkin,
    create_habit,
    local_today,
    set_timezone,
)

HONOLULU = "Pacific/Honolulu"  # UTC-10
KIRITIMATI = "Pacific/Kiritimati"  # UTC+14: the same wall clock, one date later


class TestJumpedDates:
    def test_honolulu_to_auckland_takes_the_day_in_the_air(self) -> None:
        # Landing Wednesday 06:00 in Auckland is Tuesday 07:00 in Honolulu.
        landing = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
        dates = jumped_dates((HONOLULU, 0), ("Pacific/Auckland", 0), landing)
        assert dates == [date(2026, 3, 10)]

    def test_a_25_hour_jump_can_take_two_dates(self) -> None:
        # Monday 23:30 in Pago Pago (UTC-11) is Wednesday 00:30 in Kiritimati (UTC+14).
        now = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
        dates = jumped_dates(("Pacific/Pago_Pago", 0), (KIRITIMATI, 0), now)
        assert dates == [date(2026, 3, 9), date(2026, 3, 10)]

    def test_a_trip_that_does_not_cross_the_date_line_takes_nothing(self) -> None:
        # Paris to Tokyo moves the date forward at night, but every date was lived.
        now = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
        assert jumped_dates(("Europe/Paris", 0), ("Asia/Tokyo", 0), now) == []

    def test_flying_west_across_it_takes_nothing(self) -> None:
        now = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
        assert jumped_dates(("Pacific/Auckland", 0), (HONOLULU, 0), now) == []


class TestThroughTheApi:
    async def test_a_daily_streak_survives_the_skipped_date(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, HONOLULU)
        home_today = local_today(HONOLULU)
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            start_date=home_today - timedelta(days=5),
        )
        for days in range(1, 6):  # every day before the flight; the flight's date is open
            await create_checkin(connection, habit_id, home_today - timedelta(days=days))

        trip = await client.patch(
            "/v1/me", json={"timezone": KIRITIMATI}, headers=household.teen.headers
        )

        assert trip.status_code == 200, trip.text
        stats = (
            await client.get(f"/v1/habits/{habit_id}/stats", headers=household.teen.headers)
        ).json()
        assert stats["as_of"] == str(home_today + timedelta(days=1))
        assert stats["current_streak"] == 5
        history = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(home_today), "to": str(home_today)},
            headers=household.teen.headers,
        )
        assert history.json()["items"][0]["status"] == "skipped"

    async def test_a_checked_in_date_stays_as_it_was(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, HONOLULU)
        home_today = local_today(HONOLULU)
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=home_today
        )
        await create_checkin(connection, habit_id, home_today)

        await client.patch("/v1/me", json={"timezone": KIRITIMATI}, headers=household.teen.headers)

        history = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(home_today), "to": str(home_today)},
            headers=household.teen.headers,
        )
        assert history.json()["items"][0]["status"] == "done"

    async def test_someone_elses_habits_are_untouched(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, HONOLULU)
        home_today = local_today(HONOLULU)
        admins = await create_habit(
            connection, household.family_id, household.admin_member, start_date=home_today
        )

        await client.patch("/v1/me", json={"timezone": KIRITIMATI}, headers=household.teen.headers)

        checkins = await client.get(
            f"/v1/habits/{admins}/checkins", headers=household.admin.headers
        )
        assert checkins.json()["items"] == []

    async def test_weekday_habits_get_the_skip_only_where_due(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, HONOLULU)
        home_today = local_today(HONOLULU)
        due, not_due = home_today.isoweekday(), home_today.isoweekday() % 7 + 1
        habits = {
            weekday: await create_habit(
                connection,
                household.family_id,
                household.teen_member,
                name=f"on {weekday}",
                schedule={"kind": "weekdays", "weekdays": [weekday]},
                start_date=home_today - timedelta(days=7),
            )
            for weekday in (due, not_due)
        }

        await client.patch("/v1/me", json={"timezone": KIRITIMATI}, headers=household.teen.headers)

        for weekday, expected in ((due, ["skipped"]), (not_due, [])):
            checkins = await client.get(
                f"/v1/habits/{habits[weekday]}/checkins",
                params={"from": str(home_today), "to": str(home_today)},
                headers=household.teen.headers,
            )
            assert [item["status"] for item in checkins.json()["items"]] == expected


class TestAFamilyTrip:
    async def test_a_managed_profile_keeps_its_streak_when_the_family_crosses(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await client.patch(
            f"/v1/families/{household.family_id}",
            json={"timezone": HONOLULU},
            headers=household.admin.headers,
        )
        home_today = local_today(HONOLULU)
        kids = await create_habit(
            connection,
            household.family_id,
            household.kid_member,
            start_date=home_today - timedelta(days=3),
        )
        teens = await create_habit(
            connection, household.family_id, household.teen_member, start_date=home_today
        )
        for days in range(1, 4):
            await create_checkin(connection, kids, home_today - timedelta(days=days))

        trip = await client.patch(
            f"/v1/families/{household.family_id}",
            json={"timezone": KIRITIMATI},
            headers=household.admin.headers,
        )

        assert trip.status_code == 200, trip.text
        stats = (
            await client.get(f"/v1/habits/{kids}/stats", headers=household.admin.headers)
        ).json()
        assert stats["as_of"] == str(home_today + timedelta(days=1))
        assert stats["current_streak"] == 3
        # The teen lives by their own profile's clock (UTC here): nothing written for them.
        checkins = await client.get(f"/v1/habits/{teens}/checkins", headers=household.admin.headers)
        assert checkins.json()["items"] == []
