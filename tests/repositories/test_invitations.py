"""Invitations repository: which invitations are pending, who sees them, and what an
accept does with a token hash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.repositories import invitations as invitations_repo
from app.services.invitations import hash_token
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.tenancy import create_invitation


async def test_only_pending_invitations_are_listed_a_page_at_a_time(
    connection: AsyncConnection, settings: Settings
) -> None:
    admin = await create_person(connection, "admin")
    family_id = await create_family(connection, admin)
    pending = [(await create_invitation(connection, family_id))[0] for _ in range(3)]
    await create_invitation(connection, family_id, expires_in=timedelta(hours=-1))
    revoked, _ = await create_invitation(connection, family_id)
    other_family = await create_family(connection, admin, name="Other")
    await create_invitation(connection, other_family)

    async with acting_session(connection, settings, admin) as (session, _):
        await invitations_repo.revoke(session, revoked)
        first, cursor = await invitations_repo.list_pending(
            session, family_id, cursor=None, limit=2
        )
        rest, last = await invitations_repo.list_pending(session, family_id, cursor=cursor, limit=2)

    # One transaction: every created_at is equal, so the id breaks the tie.
    assert [invitation.id for invitation in first + rest] == sorted(pending)
    assert last is None


async def test_a_plain_member_sees_no_invitation_of_the_family(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    member = await create_person(connection, "member")
    family_id = await create_family(connection, owner)
    await add_member(connection, family_id, member)
    invitation_id, _ = await create_invitation(connection, family_id, role=MemberRole.ADMIN)

    async with acting_session(connection, settings, member) as (session, _):
        assert await invitations_repo.find_invitation(session, invitation_id) is None
        assert await invitations_repo.invitation_role(session, family_id, invitation_id) is None
        page, _ = await invitations_repo.list_pending(session, family_id, cursor=None, limit=10)
        assert page == []

    async with acting_session(connection, settings, owner) as (session, _):
        role = await invitations_repo.invitation_role(session, family_id, invitation_id)
        assert role == MemberRole.ADMIN


async def test_accepting_joins_once_and_reports_each_other_outcome(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    guest = await create_person(connection, "guest")
    latecomer = await create_person(connection, "latecomer")
    family_id = await create_family(connection, owner)
    _, token = await create_invitation(connection, family_id, max_uses=2)
    _, expired = await create_invitation(connection, family_id, expires_in=timedelta(hours=-1))

    async with acting_session(connection, settings, guest) as (session, _):
        joined = await invitations_repo.accept(session, hash_token(token))
        again = await invitations_repo.accept(session, hash_token(token))
    async with acting_session(connection, settings, latecomer) as (session, _):
        late = await invitations_repo.accept(session, hash_token(expired))
        unknown = await invitations_repo.accept(session, hash_token("lpi_nothing"))

    assert (joined.outcome, joined.family_id) == ("accepted", family_id)
    assert joined.member_id is not None
    assert again == ("already_member", family_id, joined.member_id)
    assert late.outcome == "expired"
    assert unknown == ("not_found", None, None)
