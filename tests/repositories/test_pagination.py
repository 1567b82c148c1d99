"""app.repositories.pagination: keyset pages on (created_at, id) that stay stable while rows
are added, each row once, on a real query (families, as the owner role)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models import Family
from app.repositories.pagination import page_of, paginate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


async def _family(connection: AsyncConnection, name: str, created_at: datetime) -> uuid.UUID:
    family_id = uuid.uuid4()
    await connection.execute(
        text(
            "insert into families (id, name, timezone, created_at)"
            " values (:id, :name, 'UTC', :created_at)"
        ),
        {"id": family_id, "name": name, "created_at": created_at},
    )
    return family_id


async def _page(
    session: AsyncSession, tag: str, cursor: str | None, limit: int
) -> tuple[list[uuid.UUID], str | None]:
    query = paginate(
        select(Family.id, Family.created_at).where(Family.name.startswith(tag)),
        created_at=Family.created_at,
        row_id=Family.id,
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = page_of(
        (await session.execute(query)).all(), limit, lambda row: (row.created_at, row.id)
    )
    return [row.id for row in rows], next_cursor


async def test_pages_go_oldest_first_and_the_last_has_no_cursor(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    tag = f"pages-{uuid.uuid4().hex[:8]}"
    ids = [await _family(connection, tag, T0 + timedelta(minutes=n)) for n in range(5)]

    first, cursor = await _page(session, tag, None, 2)
    second, cursor_2 = await _page(session, tag, cursor, 2)
    third, cursor_3 = await _page(session, tag, cursor_2, 2)

    assert (first, second, third) == (ids[:2], ids[2:4], ids[4:])
    assert cursor is not None
    assert cursor_2 is not None
    assert cursor_3 is None


async def test_a_full_last_page_has_no_cursor(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    tag = f"exact-{uuid.uuid4().hex[:8]}"
    ids = [await _family(connection, tag, T0 + timedelta(minutes=n)) for n in range(2)]

    assert await _page(session, tag, None, 2) == (ids, None)


async def test_rows_added_between_pages_neither_repeat_nor_shift_the_next_page(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    tag = f"growing-{uuid.uuid4().hex[:8]}"
    ids = [await _family(connection, tag, T0 + timedelta(minutes=n)) for n in range(4)]
    first, cursor = await _page(session, tag, None, 2)

    # Added while the client pages: one newer than everything, one older than the cursor.
    newest = await _family(connection, tag, T0 + timedelta(hours=1))
    await _family(connection, tag, T0 - timedelta(hours=1))
    rest, cursor_2 = await _page(session, tag, cursor, 2)
    last, cursor_3 = await _page(session, tag, cursor_2, 2)

    assert first == ids[:2]
    assert rest == ids[2:4]
    assert (last, cursor_3) == ([newest], None)


async def test_rows_created_at_the_same_instant_are_each_listed_once(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    tag = f"ties-{uuid.uuid4().hex[:8]}"
    ids = [await _family(connection, tag, T0) for _ in range(5)]

    seen: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        page, cursor = await _page(session, tag, cursor, 2)
        seen += page
        if cursor is None:
            break

    assert seen == sorted(ids)
