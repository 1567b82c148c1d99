"""The `from`/`to` rules the date-range reads of a habit share (its check-ins, its history):
each read is held to the same answers, written once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.habits import Household, create_habit, days_ago
from tests.support.tenancy import assert_problem

RANGE_READS = pytest.mark.parametrize("read", ["checkins", "history"])


@RANGE_READS
async def test_backwards_and_too_long_ranges_are_422(
    client: httpx.AsyncClient, connection: AsyncConnection, household: Household, read: str
) -> None:
    habit_id = await create_habit(connection, household.family_id, household.teen_member)
    path = f"/v1/habits/{habit_id}/{read}"

    backwards = await client.get(
        path,
        params={"from": str(days_ago(1)), "to": str(days_ago(2))},
        headers=household.teen.headers,
    )
    too_long = await client.get(
        path,
        params={"from": str(days_ago(400)), "to": str(days_ago(0))},
        headers=household.teen.headers,
    )

    assert_problem(backwards, 422, "invalid_range")
    assert_problem(too_long, 422, "range_too_long")


@RANGE_READS
@pytest.mark.parametrize(
    "params",
    [{"to": "0001-01-05"}, {"from": "0001-01-01"}, {"to": "9999-12-31"}],
    ids=["year-1-end", "year-1-start", "year-9999"],
)
async def test_dates_no_habit_can_mean_are_422_not_500(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    household: Household,
    read: str,
    params: dict[str, str],
) -> None:
    habit_id = await create_habit(connection, household.family_id, household.teen_member)

    response = await client.get(
        f"/v1/habits/{habit_id}/{read}", params=params, headers=household.teen.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["query", *params]
