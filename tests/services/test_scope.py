"""app.services.scope: whether the actor may see or act on a family, answered as the API
answers it: 404 for an outsider exactly as for a family that does not exist, 403 for a
member whose role is too low. Run as the request role, as a service runs (RLS on)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.services.scope import FamilyNotFound, InsufficientRole, may_manage, require_membership
from tests.support.acting_session import acting_session
from tests.support.builders import Person
from tests.support.habits import Household, build_household

MEMBER, ADMIN, OWNER = MemberRole.MEMBER, MemberRole.ADMIN, MemberRole.OWNER


def _person(household: Household, who: str) -> Person:
    return {
        "owner": household.owner,
        "admin": household.admin,
        "member": household.teen,
        "outsider": household.outsider,
    }[who]


# (who, the role the change needs, the answer: the role found, or the problem's status)
MATRIX = [
    ("owner", MEMBER, "owner"),
    ("owner", ADMIN, "owner"),
    ("owner", OWNER, "owner"),
    ("admin", MEMBER, "admin"),
    ("admin", ADMIN, "admin"),
    ("admin", OWNER, 403),
    ("member", MEMBER, "member"),
    ("member", ADMIN, 403),
    ("member", OWNER, 403),
    ("outsider", MEMBER, 404),
    ("outsider", ADMIN, 404),
    ("outsider", OWNER, 404),
]


@pytest.mark.parametrize(("who", "at_least", "answer"), MATRIX)
async def test_require_membership_by_role(
    connection: AsyncConnection,
    settings: Settings,
    who: str,
    at_least: MemberRole,
    answer: str | int,
) -> None:
    household = await build_household(connection)
    person = _person(household, who)

    async with acting_session(connection, settings, person) as (session, actor):
        if isinstance(answer, str):
            membership = await require_membership(
                session, actor, household.family_id, at_least=at_least
            )
            assert (membership.family_id, membership.user_id) == (
                household.family_id,
                person.user_id,
            )
            assert membership.role.value == answer
        else:
            expected = FamilyNotFound if answer == 404 else InsufficientRole
            with pytest.raises(expected) as refused:
                await require_membership(session, actor, household.family_id, at_least=at_least)
            assert refused.value.status == answer


async def test_an_unknown_family_is_answered_as_an_outsider_is(
    connection: AsyncConnection, settings: Settings
) -> None:
    household = await build_household(connection)

    async with acting_session(connection, settings, household.owner) as (session, actor):
        with pytest.raises(FamilyNotFound) as unknown:
            await require_membership(session, actor, uuid.uuid4())
    async with acting_session(connection, settings, household.outsider) as (session, actor):
        with pytest.raises(FamilyNotFound) as outsider:
            await require_membership(session, actor, household.family_id)

    assert (unknown.value.status, unknown.value.code) == (404, "family_not_found")
    assert (outsider.value.status, outsider.value.code, outsider.value.detail) == (
        404,
        "family_not_found",
        unknown.value.detail,
    )


def test_admins_manage_everyones_things_members_only_their_own() -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()

    assert may_manage(OWNER, mine, theirs)
    assert may_manage(ADMIN, mine, theirs)
    assert not may_manage(MEMBER, mine, theirs)
    assert may_manage(MEMBER, mine, mine)
