"""Loop Habit Tracker's score cases through the API: every case of Loop's `ScoreListTest`
(uhabits-core, src/jvmTest/.../models/ScoreListTest.kt) that maps onto Loopin's schedules,
replayed as a user would: the habit created with POST, its days logged with
POST /v1/sync/checkins (deleted with DELETE), a frequency change as a PATCH of the schedule
from the habit's start (Loop rescores the whole history), and the score read with
GET /v1/habits/{id}/stats against the value Loop's test asserts for today (1e-6).

The app runs with a backfill window of ten years: Loop's cases span up to 1,000 days.

Loop scores an unlogged today; Loopin counts today once it is checked in (docs/loop-parity.md).
A case whose assertions look at an unlogged today is replayed one day earlier (`shift=1`):
Loop's "today" is then Loopin's yesterday, which Loopin's stats have counted.
The same cases are replayed on the score function in tests/domain/test_loop_scores.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.habits import DAILY, Household, habit_body, local_today

E = 1e-6  # BaseScoreListTest.E
YES: dict[str, Any] = {"status": "done"}
SKIP: dict[str, Any] = {"status": "skipped"}


def amount(loop_value: int) -> dict[str, Any]:
    """A numerical Loop entry (stored x 1000) as a check-in."""
    return {"status": "done", "value": loop_value / 1000}


def per_week(times: int) -> dict[str, Any]:
    return {"kind": "per_period", "times": times, "period": "week"}


def per_month(times: int) -> dict[str, Any]:
    return {"kind": "per_period", "times": times, "period": "month"}


def numeric(direction: str) -> dict[str, Any]:
    # HabitFixtures.createEmptyNumericalHabit: "miles", target 2.0
    return {"type": "numeric", "target_value": 2, "unit": "miles", "target_direction": direction}


@dataclass
class Case:
    """Loop's steps in order: ("log", {days ago: check-in}), ("schedule", schedule),
    ("delete", days ago), ("score", expected, tolerance), ("above", bound)."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=lambda: DAILY)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    shift: int = 0

    def log(self, entries: dict[int, dict[str, Any]]) -> Case:
        self.steps.append(("log", entries))
        return self

    def log_range(self, first: int, last_exclusive: int, entry: dict[str, Any]) -> Case:
        return self.log(dict.fromkeys(range(first, last_exclusive), entry))

    def then(self, *step: Any) -> Case:
        self.steps.append(step)
        return self

    @property
    def oldest(self) -> int:
        days = [day for step in self.steps if step[0] == "log" for day in step[1]]
        return max(days, default=0) + self.shift


def alternating_weeks() -> dict[int, dict[str, Any]]:
    """test_irregularNonDaily: once a week, on the first day of one week, the last of the next."""
    return {day: YES for week in range(100) for day in (14 * week, 14 * week + 13)}


def two_of_seven() -> dict[int, dict[str, Any]]:
    """test_imperfectNonDaily: two yeses, five nos, a hundred times."""
    return {day: YES for week in range(100) for day in (7 * week, 7 * week + 1)}


CASES = [
    Case("YesNo.test_getValue").log_range(0, 20, YES).then("score", 0.655747, E),
    Case("YesNo.test_getValueWithSkip")
    .log_range(0, 20, YES)
    .log({5: SKIP, 10: SKIP, 11: SKIP})
    .then("score", 0.596033, E),
    Case("YesNo.test_getValueWithSkip2", shift=1).log({5: YES, 4: SKIP}).then("score", 0.041949, E),
    Case("YesNo.test_imperfectNonDaily", schedule=per_week(3))
    .log(two_of_seven())
    .then("score", 2 / 3, E)
    .then("schedule", per_week(4))
    .then("score", 0.5, E),
    Case("YesNo.test_irregularNonDaily", schedule=per_week(1))
    .log(alternating_weeks())
    .then("score", 1.0, 1e-3),
    Case("YesNo.shouldAchieveHighScoreInReasonableTime (daily)")
    .log_range(0, 90, YES)
    .then("above", 0.99),
    Case("YesNo.shouldAchieveHighScoreInReasonableTime (weekly, monthly)", schedule=per_week(1))
    .log({7 * week: YES for week in range(39)})
    .then("above", 0.99)
    .then("schedule", per_month(1))
    .log({30 * month: YES for month in range(18)})
    .then("above", 0.99),
    Case("YesNo.test_recompute (daily part)", shift=1)
    .then("score", 0.0, E)
    .log_range(0, 2, YES)
    .then("score", 0.101149, E),
    Case("YesNo.test_addThenRemove", shift=1)
    .then("score", 0.0, E)
    .log({0: YES})
    .then("score", 0.051922, E)
    .then("delete", 0)
    .then("score", 0.0, E),
    Case("NumericalAtLeast.test_getValue", numeric("at_least"))
    .log_range(0, 20, amount(2000))
    .then("score", 0.655747, E),
    Case("NumericalAtLeast.test_recompute (daily part)", numeric("at_least"), shift=1)
    .then("score", 0.0, E)
    .log_range(0, 2, amount(2000))
    .then("score", 0.101149, E),
    Case("NumericalAtLeast.shouldAchieveHighScoreInReasonableTime (daily)", numeric("at_least"))
    .log_range(0, 90, amount(2000))
    .then("above", 0.99),
    Case(
        "NumericalAtLeast.shouldAchieveHighScoreInReasonableTime (weekly, monthly)",
        numeric("at_least"),
        per_week(1),
    )
    .log({7 * week: amount(2000) for week in range(39)})
    .then("above", 0.99)
    .then("schedule", per_month(1))
    .log({30 * month: amount(2000) for month in range(18)})
    .then("above", 0.99),
    Case("NumericalAtLeast.shouldAchieveComparableScoreToProgress", numeric("at_least"))
    .log_range(0, 500, amount(1000))
    .then("score", 0.5, E)
    .log_range(0, 500, amount(500))
    .then("score", 0.25, E),
    Case("NumericalAtLeast.overeachievingIsntRelevant", numeric("at_least"))
    .log({0: amount(10000000)})
    .then("score", 0.051922, E),
    Case("NumericalAtLeastWithSkip.test_getValue", numeric("at_least"))
    .log_range(0, 20, amount(2000))
    .log({10: SKIP, 15: SKIP})
    .then("score", 0.617008, E),
    Case("NumericalAtLeastWithSkip.skipsShouldNotAffectScore", numeric("at_least"))
    .log_range(0, 500, amount(1000))
    .then("score", 0.5, E)  # the initial score, as the unit replay shows
    .log_range(500, 1000, SKIP)
    .then("score", 0.5, E)
    .log_range(0, 300, amount(1000))
    .log_range(300, 500, SKIP)
    .log_range(500, 700, amount(1000))
    .then("score", 0.5, E),
    Case("NumericalAtMost.test_getValue", numeric("at_most"))
    .log({20: amount(1000)})
    .log_range(0, 20, amount(5000))
    .then("score", 0.344253, E),
    Case("NumericalAtMost.test_recompute (daily part)", numeric("at_most"), shift=1)
    .then("score", 1.0, E)
    .log_range(0, 2, amount(5000))
    .then("score", 0.898850, E),
    Case("NumericalAtMost.shouldAchieveComparableScoreToProgress", numeric("at_most"))
    .log_range(0, 500, amount(3000))
    .then("score", 0.5, E)
    .log_range(0, 500, amount(3500))
    .then("score", 0.25, E),
    Case("NumericalAtMost.undereachievingIsntRelevant", numeric("at_most"), shift=1)
    .log({1: amount(10000000)})
    .then("score", 0.950773, E),
    Case("NumericalAtMost.overeachievingIsntRelevant", numeric("at_most"))
    .log({0: amount(5000), 1: amount(0)})
    .then("score", 0.948077, E)
    .log({1: amount(1000)})
    .then("score", 0.948077, E),
]


@pytest.fixture
async def long_backfill_app(
    database_url: str, connection: AsyncConnection
) -> AsyncIterator[FastAPI]:
    app = app_on_connection(make_settings(database_url, checkin_backfill_days=3650), connection)
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def loop_client(
    long_backfill_app: FastAPI, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_on_connection(long_backfill_app, connection) as client:
        yield client


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_loop_score_case_through_the_api(
    loop_client: httpx.AsyncClient, household: Household, case: Case
) -> None:
    client, headers = loop_client, household.teen.headers
    today = local_today()
    start = today - timedelta(days=case.oldest)
    body = habit_body(
        household.teen_member, schedule=case.schedule, start_date=str(start), id=str(uuid.uuid4())
    )
    body.update(case.fields)
    created = await client.post(
        f"/v1/families/{household.family_id}/habits", json=body, headers=headers
    )
    assert created.status_code == 201, created.text
    habit_id = created.json()["id"]

    def day(days_ago: int) -> str:
        return str(today - timedelta(days=days_ago + case.shift))

    for step in case.steps:
        if step[0] == "log":
            items = [
                {"habit_id": habit_id, "date": day(days_ago), **checkin}
                for days_ago, checkin in step[1].items()
            ]
            for batch in range(0, len(items), 500):
                response = await client.post(
                    "/v1/sync/checkins", json={"items": items[batch : batch + 500]}, headers=headers
                )
                assert response.status_code == 200, response.text
                statuses = {result["status"] for result in response.json()["results"]}
                assert statuses <= {200, 201}, response.text
        elif step[0] == "delete":
            response = await client.delete(
                f"/v1/habits/{habit_id}/checkins/{day(step[1])}", headers=headers
            )
            assert response.status_code == 204, response.text
        elif step[0] == "schedule":
            response = await client.patch(
                f"/v1/habits/{habit_id}",
                json={"schedule": step[1], "effective_from": str(start)},
                headers=headers,
            )
            assert response.status_code == 200, response.text
        else:
            stats = await client.get(f"/v1/habits/{habit_id}/stats", headers=headers)
            assert stats.status_code == 200, stats.text
            score = stats.json()["score"]
            if step[0] == "score":
                assert score == pytest.approx(step[1], abs=step[2])
            else:
                assert score > step[1]
