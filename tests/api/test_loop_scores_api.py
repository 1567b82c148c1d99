"""Loop Habit Tracker's score cases through the API: the habit created with POST, its days
logged with PUT, the score read with GET /v1/habits/{id}/stats, against the values Loop's
`ScoreListTest` (uhabits-core, src/jvmTest/.../models/ScoreListTest.kt) expects for today.
The cases whose history fits in the check-in backfill window are replayed here; all of them
are replayed on the score function in tests/services/test_loop_scores.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.habits import DAILY, Household, habit_body, local_today

E = 1e-6  # BaseScoreListTest.E


@dataclass(frozen=True)
class Case:
    name: str
    fields: dict[str, Any]
    days: dict[int, dict[str, Any]]  # days ago -> check-in body
    expected: float  # Loop's scores[today]


def yes() -> dict[str, Any]:
    return {"status": "done"}


def skip() -> dict[str, Any]:
    return {"status": "skipped"}


def logged(value: float) -> dict[str, Any]:
    return {"status": "done", "value": value}


def numeric(direction: str) -> dict[str, Any]:
    # HabitFixtures.createEmptyNumericalHabit: "miles", target 2.0
    return {"type": "numeric", "target_value": 2, "unit": "miles", "target_direction": direction}


CASES = [
    Case(
        "YesNoScoreListTest.test_getValueWithSkip",
        {},
        {**{n: yes() for n in range(20)}, **{n: skip() for n in (5, 10, 11)}},
        0.596033,
    ),
    Case(
        "NumericalAtLeastScoreListWithSkipTest.test_getValue",
        numeric("at_least"),
        {**{n: logged(2) for n in range(20)}, **{n: skip() for n in (10, 15)}},
        0.617008,
    ),
    Case(
        "NumericalAtMostScoreListTest.test_getValue",
        numeric("at_most"),
        {20: logged(1), **{n: logged(5) for n in range(20)}},
        0.344253,
    ),
    Case(
        "NumericalAtMostScoreListTest.overeachievingIsntRelevant",
        numeric("at_most"),
        {0: logged(5), 1: logged(1)},
        0.948077,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_loop_score_case_through_the_api(
    client: httpx.AsyncClient, household: Household, case: Case
) -> None:
    today = local_today()
    start = today - timedelta(days=max(case.days))
    body = habit_body(
        household.teen_member, schedule=DAILY, start_date=str(start), id=str(uuid.uuid4())
    )
    body.update(case.fields)
    created = await client.post(
        f"/v1/families/{household.family_id}/habits", json=body, headers=household.teen.headers
    )
    assert created.status_code == 201, created.text
    habit_id = created.json()["id"]
    for days_ago, checkin in sorted(case.days.items(), reverse=True):
        day = today - timedelta(days=days_ago)
        put = await client.put(
            f"/v1/habits/{habit_id}/checkins/{day}", json=checkin, headers=household.teen.headers
        )
        assert put.status_code == 201, put.text

    stats = await client.get(f"/v1/habits/{habit_id}/stats", headers=household.teen.headers)

    assert stats.status_code == 200, stats.text
    assert stats.json()["score"] == pytest.approx(case.expected, abs=E)
