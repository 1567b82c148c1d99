"""app.repositories.change_log: the one call of `public.compact_sync_changes` and what it
reports. The rules of what goes are the service's tests (tests/services/test_change_log.py);
here: the retention and batch size reach the procedure, and the counts reported are the
log's own. Committing mode: the log is written by triggers of committed transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.repositories import change_log
from tests.support.habits import build_household, create_habit

HOUR = 3600.0


@pytest.fixture
async def reset_horizon(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with engine.begin() as connection:
        await connection.execute(text("update sync_log_state set resync_below_txid = 0"))


async def _rows(connection: AsyncConnection, entity_id: uuid.UUID | None = None) -> int:
    await connection.commit()  # a fresh snapshot
    count = await connection.scalar(
        text(
            "select count(*) from sync_changes"
            " where cast(:entity as uuid) is null or entity_id = :entity"
        ),
        {"entity": entity_id},
    )
    return int(count or 0)


@pytest.mark.usefixtures("reset_horizon")
async def test_a_pass_keeps_what_is_younger_than_the_retention_and_reports_the_log(
    live_connection: AsyncConnection, engine: AsyncEngine
) -> None:
    household = await build_household(live_connection)
    habit_id = await create_habit(live_connection, household.family_id, household.teen_member)
    await live_connection.commit()
    for name in ("Read more", "Read daily", "Read aloud"):
        await live_connection.execute(
            text("update habits set name = :name where id = :id"), {"name": name, "id": habit_id}
        )
        await live_connection.commit()
    before = await _rows(live_connection)
    assert await _rows(live_connection, habit_id) > 1

    kept = await change_log.compact(engine, retention_seconds=HOUR, batch=1)

    assert (kept.of_deleted_families, kept.superseded, kept.tombstones) == (0, 0, 0)
    assert kept.remaining == before == await _rows(live_connection)

    # Retention zero, one row per transaction: every superseded row still goes.
    compacted = await change_log.compact(engine, retention_seconds=0, batch=1)

    after = await _rows(live_connection)
    assert await _rows(live_connection, habit_id) == 1
    assert (compacted.of_deleted_families, compacted.tombstones) == (0, 0)
    assert compacted.superseded == before - after > 0
    assert compacted.remaining == after
    assert compacted.resync_below_txid == await live_connection.scalar(
        text("select resync_below_txid from sync_log_state")
    )
