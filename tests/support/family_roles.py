"""Two families side by side, for role and isolation tests: family A with a person in every
role, and an outsider who owns family B. Built inside the test's rolled-back transaction.

A's managed-profile login is made the way users make one: the owner invites with `member_id`
and the child's new login accepts, both through the API."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.support.api_calls import accept_invitation
from tests.support.builders import Person, add_member, create_family, create_person
from tests.support.tenancy import create_invitation


class Subject(enum.StrEnum):
    """Who calls: a role in family A, A's managed-profile login, someone else, or nobody."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    MANAGED_LOGIN = "managed-login"
    OUTSIDER = "outsider"
    ANONYMOUS = "no-token"


FAMILY_A_SUBJECTS = (Subject.OWNER, Subject.ADMIN, Subject.MEMBER, Subject.MANAGED_LOGIN)


@dataclass(frozen=True)
class TwoFamilies:
    family_id: uuid.UUID
    # Unique per test and part of every A member's display name: a response that mentions it
    # shows family A's data.
    family_name: str
    people: dict[Subject, Person]  # everyone but ANONYMOUS
    member_ids: dict[Subject, uuid.UUID]  # each person's own membership (the outsider's: in B)
    other: Person  # a second plain member of A: the target of admin actions on members
    other_member_id: uuid.UUID
    invitation_id: uuid.UUID  # pending, in A
    invitation_token: str
    outsider_family_id: uuid.UUID
    outsider_family_name: str
    outsider_invitation_id: uuid.UUID  # pending, in B

    def headers(self, subject: Subject) -> dict[str, str]:
        person = self.people.get(subject)
        return person.headers if person else {}

    @property
    def user_ids(self) -> list[uuid.UUID]:
        return [self.other.user_id, *(person.user_id for person in self.people.values())]


async def _only_member(connection: AsyncConnection, family_id: uuid.UUID) -> uuid.UUID:
    member_id = await connection.scalar(
        text("select id from family_members where family_id = :family"), {"family": family_id}
    )
    assert isinstance(member_id, uuid.UUID)
    return member_id


async def _link_managed_profile(
    client: httpx.AsyncClient,
    family_id: uuid.UUID,
    managed_id: uuid.UUID,
    owner: Person,
    login: Person,
) -> None:
    created = await client.post(
        f"/v1/families/{family_id}/invitations",
        json={"role": "member", "member_id": str(managed_id)},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    accepted = await accept_invitation(client, created.json()["token"], login)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["membership"]["id"] == str(managed_id)


async def build_two_families(connection: AsyncConnection, client: httpx.AsyncClient) -> TwoFamilies:
    name = f"Alpha {uuid.uuid4().hex[:10]}"
    owner = await create_person(connection, "owner")
    admin = await create_person(connection, "admin")
    member = await create_person(connection, "member")
    other = await create_person(connection, "other")
    child = await create_person(connection, "child")
    outsider = await create_person(connection, "outsider")

    family_id = await create_family(connection, owner, name=name)
    owner_member_id = await _only_member(connection, family_id)
    await connection.execute(
        text("update family_members set display_name = :name where id = :id"),
        {"name": f"{name} owner", "id": owner_member_id},
    )
    admin_member_id = await add_member(
        connection, family_id, admin, MemberRole.ADMIN, display_name=f"{name} admin"
    )
    member_member_id = await add_member(
        connection, family_id, member, display_name=f"{name} member"
    )
    other_member_id = await add_member(connection, family_id, other, display_name=f"{name} other")
    managed_id = await add_member(connection, family_id, None, display_name=f"{name} child")
    await _link_managed_profile(client, family_id, managed_id, owner, child)

    invitation_id, invitation_token = await create_invitation(connection, family_id)
    outsider_family_name = f"Bravo {uuid.uuid4().hex[:10]}"
    outsider_family_id = await create_family(connection, outsider, name=outsider_family_name)
    outsider_invitation_id, _ = await create_invitation(connection, outsider_family_id)
    return TwoFamilies(
        family_id=family_id,
        family_name=name,
        people={
            Subject.OWNER: owner,
            Subject.ADMIN: admin,
            Subject.MEMBER: member,
            Subject.MANAGED_LOGIN: child,
            Subject.OUTSIDER: outsider,
        },
        member_ids={
            Subject.OWNER: owner_member_id,
            Subject.ADMIN: admin_member_id,
            Subject.MEMBER: member_member_id,
            Subject.MANAGED_LOGIN: managed_id,
            Subject.OUTSIDER: await _only_member(connection, outsider_family_id),
        },
        other=other,
        other_member_id=other_member_id,
        invitation_id=invitation_id,
        invitation_token=invitation_token,
        outsider_family_id=outsider_family_id,
        outsider_family_name=outsider_family_name,
        outsider_invitation_id=outsider_invitation_id,
    )


State = dict[str, list[tuple[Any, ...]]]


async def stored_state(connection: AsyncConnection, families: TwoFamilies) -> State:
    """Everything users could see change, read as the owner role (no RLS): the people, both
    families and any family the people created since, and all rows of those families."""
    params = {
        "families": [families.family_id, families.outsider_family_id],
        "users": families.user_ids,
    }
    scope = "(select id from families where id = any(:families) or created_by = any(:users))"
    queries = {
        "users": "select id, email, full_name, timezone, day_start_hour, notification_enabled"
        " from users where id = any(:users)",
        "families": f"select id, name, timezone, version from families where id in {scope}",
        "family_members": "select id, family_id, user_id, display_name, role"
        f" from family_members where family_id in {scope}",
        "invitations": "select id, family_id, role, member_id, use_count, revoked_at"
        f" from invitations where family_id in {scope}",
    }
    state: State = {}
    for table, query in queries.items():
        rows = await connection.execute(text(query + " order by id"), params)
        state[table] = [tuple(row) for row in rows]
    return state
