"""The hot paths' transactions on the driver (app.db.sql), committing for real: what a
pooled connection the server dropped, a failing handler and a commit do to the pool."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.api_calls import check_in
from tests.support.builders import Person, create_owned_family

pytestmark = pytest.mark.asyncio


async def backends(connection: AsyncConnection) -> set[int]:
    """The server processes of the app's connections (it names itself on direct ones)."""
    rows = await connection.execute(
        text(
            "select pid from pg_stat_activity where datname = current_database()"
            " and application_name = 'loopin'"
        )
    )
    await connection.commit()
    return {pid for (pid,) in rows}


async def owner_with_family(connection: AsyncConnection) -> tuple[Person, uuid.UUID]:
    owner, family_id = await create_owned_family(connection)
    await connection.commit()
    return owner, family_id


async def test_a_connection_dropped_while_pooled_is_replaced_not_answered_503(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    owner, family_id = await owner_with_family(live_connection)
    board = f"/v1/families/{family_id}/board"
    assert (await live_client.get(board, headers=owner.headers)).status_code == 200
    pooled = await backends(live_connection)
    assert pooled, "the request's connection went back to the pool"

    await live_connection.execute(
        text(
            # With a timeout, it returns once each backend has exited, not when signalled.
            "select pg_terminate_backend(pid, 5000) from unnest(cast(:pids as int[])) as pid"
        ),
        {"pids": sorted(pooled)},
    )
    await live_connection.commit()

    again = await live_client.get(board, headers=owner.headers)
    assert again.status_code == 200, again.text
    assert not (await backends(live_connection)) & pooled


async def test_a_failed_request_rolls_back_and_leaves_the_connection_usable(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    owner, family_id = await owner_with_family(live_connection)
    missing = await live_client.put(
        f"/v1/habits/{uuid.uuid4()}/checkins/2026-01-01",
        json={"status": "done"},
        headers=owner.headers,
    )
    assert missing.status_code == 404
    pool = live_app.state.database.engine.pool
    assert pool.checkedout() == 0
    before = await backends(live_connection)
    ok = await live_client.get(f"/v1/families/{family_id}/board", headers=owner.headers)
    assert ok.status_code == 200
    assert await backends(live_connection) == before  # the same connection, reused


async def test_what_a_request_wrote_is_committed_before_the_answer(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    owner, family_id = await owner_with_family(live_connection)
    member_id = await live_connection.scalar(
        text("select id from family_members where family_id = :f"), {"f": family_id}
    )
    habit_id = uuid.uuid4()
    await live_connection.execute(
        text(
            "insert into habits (id, family_id, assignee_id, name, start_date, created_by)"
            " values (:id, :f, :m, 'Read', current_date - 3, :by)"
        ),
        {"id": habit_id, "f": family_id, "m": member_id, "by": owner.user_id},
    )
    await live_connection.execute(
        text(
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " schedule) values (:h, :f, 1, current_date - 3, 'boolean', '{\"kind\": \"daily\"}')"
        ),
        {"h": habit_id, "f": family_id},
    )
    await live_connection.commit()

    answer = await check_in(live_client, habit_id, await yesterday(live_connection), owner)

    assert answer.status_code == 201, answer.text
    stored = await live_connection.scalar(
        text("select count(*) from checkins where habit_id = :h"), {"h": habit_id}
    )
    await live_connection.commit()
    assert stored == 1


async def yesterday(connection: AsyncConnection) -> str:
    day = await connection.scalar(text("select (now() at time zone 'UTC')::date - 1"))
    await connection.commit()
    return str(day)


async def test_a_steady_load_within_the_pool_keeps_its_connections(live_app: FastAPI) -> None:
    """Sixteen requests at a time (a worker's share of 32 busy clients), again and again:
    the connections opened for the first wave serve every later one. (An overflow connection
    is closed as soon as it is returned, so a pool smaller than the steady concurrency opens
    and closes connections all the time.)"""
    database = live_app.state.database
    opened: list[object] = []
    event.listen(database.engine.sync_engine, "connect", lambda *_: opened.append(1))

    async def one_request() -> None:
        async with database.driver_connections.transaction() as borrowed:
            await borrowed.driver.execute("select pg_sleep(0.05)")

    for _wave in range(4):
        await asyncio.gather(*(one_request() for _ in range(16)))

    assert len(opened) == 16
    assert database.engine.pool.checkedin() == 16
