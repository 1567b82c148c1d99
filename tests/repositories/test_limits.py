"""Limits repository: each quota counts only what it names, in one family or for one
login, and a rate-limit bucket counts a login's requests until the limit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.repositories import limits
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.habits import create_habit
from tests.support.tenancy import create_invitation


async def test_quota_counts_leave_out_what_does_not_accumulate(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    partner = await create_person(connection, "partner")
    family_id = await create_family(connection, owner)
    other_family = await create_family(connection, owner, name="Other")
    await add_member(connection, family_id, partner, MemberRole.ADMIN)
    kid = await add_member(connection, family_id, None, display_name="Kid")
    await add_member(connection, other_family, None)
    for name in ("Read", "Walk", "Gone"):
        await create_habit(connection, family_id, kid, name=name)
    await connection.execute(text("update habits set deleted_at = now() where name = 'Gone'"))
    await create_invitation(connection, family_id)
    await create_invitation(connection, family_id, expires_in=timedelta(hours=-1))
    used, _ = await create_invitation(connection, family_id)
    await connection.execute(
        text("update invitations set use_count = 1 where id = :id"), {"id": used}
    )

    async with acting_session(connection, settings, owner) as (session, actor):
        await limits.serialise_quota(session, "habits", family_id)  # held until the end
        assert await limits.live_habits(session, family_id) == 2
        assert await limits.live_habits(session, other_family) == 0
        assert await limits.managed_profiles(session, family_id) == 1  # the partner logs in
        assert await limits.pending_invitations(session, family_id) == 1
        assert await limits.my_family_count(session, actor) == 2
    async with acting_session(connection, settings, partner) as (session, actor):
        assert await limits.my_family_count(session, actor) == 1


async def test_a_bucket_counts_each_login_apart_until_its_limit(
    connection: AsyncConnection, settings: Settings
) -> None:
    busy = await create_person(connection, "busy")
    calm = await create_person(connection, "calm")

    async with acting_session(connection, settings, busy) as (session, _):
        within = [await limits.take_rate_limit(session, "sync", 3, 60) for _ in range(3)]
        over = await limits.take_rate_limit(session, "sync", 3, 60)
        other_bucket = await limits.take_rate_limit(session, "batch_writes", 3, 60)
    async with acting_session(connection, settings, calm) as (session, _):
        first_of_another = await limits.take_rate_limit(session, "sync", 3, 60)

    assert not any(within)
    assert over is not None
    assert 0 < over <= 60  # seconds until the window ends
    assert not other_bucket
    assert not first_of_another
