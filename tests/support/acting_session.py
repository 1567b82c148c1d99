"""An ORM session acting as one person, for repository tests: the request role and the
person's JWT claims are set as a request sets them, so Postgres RLS applies, and everything
is rolled back with the test's connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import Settings
from app.db.transaction import configure_transaction
from app.domain.actor import Actor
from tests.support.builders import Person


def actor_of(person: Person) -> Actor:
    claims = {"sub": str(person.user_id), "email": person.email, "role": "authenticated"}
    return Actor(person.user_id, person.email, json.dumps(claims))


@asynccontextmanager
async def acting_session(
    connection: AsyncConnection, settings: Settings, person: Person
) -> AsyncIterator[tuple[AsyncSession, Actor]]:
    """`(session, actor)` for the person, in a savepoint of the test's transaction that is
    released at the end, as a request commits (rolled back on an exception)."""
    actor = actor_of(person)
    session = AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        await configure_transaction(session, settings, claims_json=actor.claims_json)
        yield session, actor
        await session.commit()
    finally:
        await session.close()
        await connection.execute(text("reset role"))
