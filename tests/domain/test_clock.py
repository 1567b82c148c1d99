"""A member's "today" (app.domain.clock.local_today) with real IANA zones: daylight-saving
nights, a trip across the Pacific, night owls, and what the streak makes of each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import progress
from app.domain.clock import local_today
from app.domain.progress import Entry, Rule, Schedule, Timeline, UnitOutcome
from app.models.enums import CheckinStatus


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def wall(instant: datetime, zone: str) -> str:
    """The local clock reading, with its UTC offset: '01:30-05:00'."""
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%H:%M") + local.isoformat()[-6:]


@dataclass(frozen=True)
class DailyHabitResult:
    units: list[UnitOutcome]
    current_streak: int


def daily_habit(checked_in: list[date], today: date) -> DailyHabitResult:
    """A daily habit started on the first date checked in; PUT on a date is idempotent, so
    check-ins are one per date."""
    start = min(checked_in)
    timeline = Timeline([Rule(1, start, Schedule("daily"))], start_date=start)
    entries = {day: Entry(CheckinStatus.DONE) for day in checked_in}
    units = progress.units(timeline, entries, today)
    return DailyHabitResult(units, progress.current_streak(units))


def every_half_hour(first: datetime, last: datetime) -> list[datetime]:
    count = int((last - first) / timedelta(minutes=30)) + 1
    return [first + timedelta(minutes=30 * n) for n in range(count)]


@dataclass(frozen=True)
class Switch:
    zone: str
    day: date
    before: datetime  # the last minute of the old offset, or the first of the repeated hour
    after: datetime  # the first minute of the new offset, or the second of the repeated hour
    hours: int  # how long the switch day is

    @property
    def id(self) -> str:
        return f"{self.zone}-{self.day}"


SPRING_FORWARD = [
    # 01:59 CST, then 03:00 CDT
    Switch("America/Chicago", date(2026, 3, 8), utc(2026, 3, 8, 7, 59), utc(2026, 3, 8, 8), 23),
    # 01:59 CET, then 03:00 CEST
    Switch("Europe/Berlin", date(2026, 3, 29), utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 1), 23),
]
FALL_BACK = [
    # 01:30 CDT, then 01:30 CST an hour later
    Switch(
        "America/Chicago", date(2026, 11, 1), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30), 25
    ),
    # 02:30 CEST, then 02:30 CET an hour later
    Switch(
        "Europe/Berlin", date(2026, 10, 25), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), 25
    ),
]
ALL_SWITCHES = SPRING_FORWARD + FALL_BACK


class TestSpringForward:
    @pytest.mark.parametrize("switch", SPRING_FORWARD, ids=lambda s: s.id)
    def test_both_sides_of_the_missing_hour_are_the_same_date(self, switch: Switch) -> None:
        assert wall(switch.before, switch.zone)[:5] == "01:59"
        assert wall(switch.after, switch.zone)[:5] == "03:00"
        assert local_today(switch.zone, 0, switch.before) == switch.day
        assert local_today(switch.zone, 0, switch.after) == switch.day

    @pytest.mark.parametrize("switch", SPRING_FORWARD, ids=lambda s: s.id)
    def test_the_day_lasts_23_hours_and_then_the_next_one_starts(self, switch: Switch) -> None:
        midnight = datetime.combine(switch.day, datetime.min.time(), ZoneInfo(switch.zone))
        first = midnight.astimezone(UTC)
        dates = [
            local_today(switch.zone, 0, t)
            for t in every_half_hour(first, first + timedelta(hours=24))
        ]
        assert Counter(dates) == {switch.day: 46, switch.day + timedelta(days=1): 3}

    def test_a_night_owl_whose_day_starts_at_2_is_still_on_saturday_at_0159(self) -> None:
        chicago = SPRING_FORWARD[0]
        assert local_today(chicago.zone, 2, chicago.before) == date(2026, 3, 7)
        assert local_today(chicago.zone, 2, chicago.after) == date(2026, 3, 8)


class TestFallBack:
    @pytest.mark.parametrize("switch", FALL_BACK, ids=lambda s: s.id)
    def test_the_repeated_hour_is_one_date(self, switch: Switch) -> None:
        first, second = wall(switch.before, switch.zone), wall(switch.after, switch.zone)
        assert first[:5] == second[:5]  # the same clock reading...
        assert first[5:] != second[5:]  # ...at two different offsets
        assert local_today(switch.zone, 0, switch.before) == switch.day
        assert local_today(switch.zone, 0, switch.after) == switch.day

    @pytest.mark.parametrize("switch", FALL_BACK, ids=lambda s: s.id)
    def test_the_day_lasts_25_hours(self, switch: Switch) -> None:
        midnight = datetime.combine(switch.day, datetime.min.time(), ZoneInfo(switch.zone))
        first = midnight.astimezone(UTC)
        dates = [
            local_today(switch.zone, 0, t)
            for t in every_half_hour(first, first + timedelta(hours=26))
        ]
        assert Counter(dates) == {switch.day: 50, switch.day + timedelta(days=1): 3}

    def test_a_night_owl_whose_day_starts_at_1_gets_both_0130s_on_sunday(self) -> None:
        chicago = FALL_BACK[0]
        assert local_today(chicago.zone, 1, utc(2026, 11, 1, 5, 59)) == date(2026, 10, 31)
        assert local_today(chicago.zone, 1, chicago.before) == date(2026, 11, 1)
        assert local_today(chicago.zone, 1, chicago.after) == date(2026, 11, 1)


class TestDailyStreakAcrossTheSwitch:
    @pytest.mark.parametrize("day_start_hour", [0, 4])
    @pytest.mark.parametrize("switch", ALL_SWITCHES, ids=lambda s: s.id)
    def test_checking_in_all_day_every_day_is_one_unbroken_unit_per_date(
        self, switch: Switch, day_start_hour: int
    ) -> None:
        """Three days either side of the switch, a check-in every half hour (PUT for the
        local today each time): every date once, in order, and a streak of all of them."""
        instants = every_half_hour(
            switch.before - timedelta(days=3), switch.after + timedelta(days=3)
        )
        dates = [local_today(switch.zone, day_start_hour, t) for t in instants]
        assert dates == sorted(dates)  # the date never goes back, even in the repeated hour
        first, today = dates[0], dates[-1]
        assert set(dates) == {first + timedelta(days=n) for n in range((today - first).days + 1)}
        result = daily_habit(dates, today)
        assert result.units == [UnitOutcome.MET] * len(set(dates))
        assert result.current_streak == len(set(dates)) == 7

    @pytest.mark.parametrize("switch", ALL_SWITCHES, ids=lambda s: s.id)
    def test_once_a_day_at_bedtime_gives_one_check_in_per_date(self, switch: Switch) -> None:
        """22:30 local each evening: the switch night shifts the UTC instant, not the date."""
        zone = ZoneInfo(switch.zone)
        evenings = [
            datetime.combine(switch.day + timedelta(days=n), datetime.min.time(), zone).replace(
                hour=22, minute=30
            )
            for n in range(-3, 4)
        ]
        dates = [local_today(switch.zone, 0, evening.astimezone(UTC)) for evening in evenings]
        assert dates == [switch.day + timedelta(days=n) for n in range(-3, 4)]
        assert daily_habit(dates, dates[-1]).current_streak == 7


TOKYO, LOS_ANGELES = "Asia/Tokyo", "America/Los_Angeles"
# Evenings in Tokyo, a morning check-in on 11 March before flying (departure 17:00 JST,
# landing 10:00 PDT the same calendar day, the profile's timezone changed on landing), then
# evenings in Los Angeles.
TRIP: list[tuple[datetime, str]] = [
    *[(utc(2026, 3, day, 12), TOKYO) for day in range(5, 11)],  # 21:00 JST, 5-10 March
    (utc(2026, 3, 10, 23), TOKYO),  # 08:00 JST on 11 March
    *[(utc(2026, 3, day, 3), LOS_ANGELES) for day in range(12, 17)],  # 20:00 PDT, 11-15 March
]
LANDING = (utc(2026, 3, 11, 17), LOS_ANGELES)  # 10:00 PDT on 11 March, not checked in yet


def trip_dates(until: datetime | None = None) -> list[date]:
    """The local today of each check-in: the date each PUT went to."""
    return [
        local_today(zone, 0, instant) for instant, zone in TRIP if until is None or instant <= until
    ]


class TestTrip:
    def test_the_same_instant_is_a_different_date_on_each_side_of_the_pacific(self) -> None:
        instant = utc(2026, 3, 11, 3)
        assert local_today("Asia/Tokyo", 0, instant) == date(2026, 3, 11)
        assert local_today("America/Los_Angeles", 0, instant) == date(2026, 3, 10)

    def test_the_flight_day_is_checked_in_twice_but_counted_once(self) -> None:
        per_date = Counter(trip_dates())
        assert per_date[date(2026, 3, 11)] == 2  # Tokyo morning, then LA evening: one PUT date
        assert sorted(per_date) == [date(2026, 3, 5) + timedelta(days=n) for n in range(11)]
        result = daily_habit(trip_dates(), date(2026, 3, 15))
        assert result.units == [UnitOutcome.MET] * 11
        assert result.current_streak == 11

    def test_the_streak_never_breaks_at_any_point_of_the_trip(self) -> None:
        moments = sorted([*TRIP, LANDING])
        streaks = []
        for instant, zone in moments:
            today = local_today(zone, 0, instant)
            result = daily_habit(trip_dates(until=instant), today)
            assert UnitOutcome.MISSED not in result.units, (instant, zone)
            streaks.append(result.current_streak)
        assert streaks == sorted(streaks)  # never drops, landing included
        assert streaks[-1] == 11


class TestNightOwl:
    berlin = ZoneInfo("Europe/Berlin")

    def test_0130_belongs_to_the_previous_date_when_the_day_starts_at_4(self) -> None:
        assert local_today(
            "Europe/Berlin", 4, datetime(2026, 6, 10, 1, 30, tzinfo=self.berlin)
        ) == date(2026, 6, 9)

    def test_the_new_date_begins_at_4(self) -> None:
        assert local_today(
            "Europe/Berlin", 4, datetime(2026, 6, 10, 3, 59, tzinfo=self.berlin)
        ) == date(2026, 6, 9)
        assert local_today(
            "Europe/Berlin", 4, datetime(2026, 6, 10, 4, 0, tzinfo=self.berlin)
        ) == date(2026, 6, 10)

    @pytest.mark.parametrize("switch", ALL_SWITCHES, ids=lambda s: s.id)
    def test_the_day_starts_at_4_on_the_clock_even_on_switch_nights(self, switch: Switch) -> None:
        """Not 4 hours of elapsed time after midnight: that would be 05:00 or 03:00 on the
        clock the night the clocks change."""
        zone = ZoneInfo(switch.zone)
        at_0359 = datetime.combine(switch.day, datetime.min.time(), zone).replace(hour=3, minute=59)
        at_0400 = at_0359.replace(hour=4, minute=0)
        assert local_today(switch.zone, 4, at_0359.astimezone(UTC)) == switch.day - timedelta(1)
        assert local_today(switch.zone, 4, at_0400.astimezone(UTC)) == switch.day

    def test_the_instant_may_come_in_any_zone(self) -> None:
        assert local_today("Europe/Berlin", 4, utc(2026, 6, 9, 23, 30)) == date(2026, 6, 9)
        assert local_today("Europe/Berlin", 0, utc(2026, 6, 9, 23, 30)) == date(2026, 6, 10)

    def test_a_check_in_at_0130_keeps_yesterdays_streak(self) -> None:
        """Done every evening 1-8 June, and for the 9th at 01:30 in the night to the 10th."""
        evenings = [datetime(2026, 6, day, 21, tzinfo=self.berlin) for day in range(1, 9)]
        late = datetime(2026, 6, 10, 1, 30, tzinfo=self.berlin)
        dates = [local_today("Europe/Berlin", 4, t) for t in [*evenings, late]]
        assert daily_habit(dates, date(2026, 6, 10)).current_streak == 9
        early_bird = [local_today("Europe/Berlin", 0, t) for t in [*evenings, late]]
        assert daily_habit(early_bird, date(2026, 6, 10)).current_streak == 1


class NoOffset(tzinfo):
    """A tzinfo that does not know its offset: Python counts such datetimes as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


class TestAwareTimesOnly:
    def test_a_naive_datetime_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            local_today("Europe/Berlin", 0, datetime(2026, 6, 10, 1, 30))

    def test_a_tzinfo_without_an_offset_is_refused_too(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            local_today("Europe/Berlin", 0, datetime(2026, 6, 10, 1, 30, tzinfo=NoOffset()))


# --- travelling west, at random -------------------------------------------------------------

ZONES = [
    "Pacific/Kiritimati",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "Europe/London",
    "America/St_Johns",
    "America/Chicago",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
]


def offset(zone: str, instant: datetime) -> timedelta:
    utcoffset = instant.astimezone(ZoneInfo(zone)).utcoffset()
    assert utcoffset is not None
    return utcoffset


starts = st.one_of(
    st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 1)).map(lambda t: t.replace(tzinfo=UTC)),
    st.sampled_from(ALL_SWITCHES).flatmap(
        lambda s: st.integers(-48 * 60, 24 * 60).map(lambda m: s.before + timedelta(minutes=m))
    ),
)
steps = st.lists(
    st.tuples(st.integers(30, 22 * 60), st.sampled_from(ZONES)), min_size=1, max_size=30
)


class TestTravellingWest:
    @settings(max_examples=80, deadline=None)
    @given(starts, st.sampled_from(ZONES), steps, st.integers(0, 23))
    def test_checking_in_at_least_every_22_hours_never_leaves_a_gap(
        self,
        start: datetime,
        zone: str,
        moves: list[tuple[int, str]],
        day_start_hour: int,
    ) -> None:
        """Staying put through DST nights or moving to a zone not ahead of the current one,
        a check-in on each local today at most 22 hours apart covers every date from the
        earliest to today: one unit each, all met."""
        instant, dates = start, [local_today(zone, day_start_hour, start)]
        for minutes, destination in moves:
            instant += timedelta(minutes=minutes)
            if offset(destination, instant) <= offset(zone, instant):
                zone = destination
            dates.append(local_today(zone, day_start_hour, instant))
        for previous, current in pairwise(dates):
            assert current - previous <= timedelta(days=1)
        earliest, today = min(dates), dates[-1]
        days = (today - earliest).days + 1
        assert set(dates) >= {earliest + timedelta(days=n) for n in range(days)}
        result = daily_habit(dates, today)
        assert result.units == [UnitOutcome.MET] * days
        assert result.current_streak == days
