"""Object builders for tests: people with tokens, families with members in given roles.

They write through the test's connection as the owner role (no RLS), so a test sets up
exactly the state it needs and then acts through the API like a client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from app.models.enums import MemberRole

TEST_JWT_SECRET = "test-only-secret-with-at-least-32-bytes-of-entropy!"


@dataclass
class Person:
    user_id: uuid.UUID
    email: str
    token: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_person(
    connection: AsyncConnection, name: str = "person", *, provisioned: bool = True
) -> Person:
    """A Supabase Auth user (row in auth.users) with a valid access token; `provisioned`
    also creates the public profile, as a first `GET /v1/me` would."""
    user_id = uuid.uuid4()
    email = f"{name}-{user_id.hex[:8]}@loopin.test"
    await connection.execute(
        text("insert into auth.users (id, email) values (:id, :email)"),
        {"id": user_id, "email": email},
    )
    if provisioned:
        await connection.execute(
            text("insert into public.users (id, email, full_name) values (:id, :email, :name)"),
            {"id": user_id, "email": email, "name": name.title()},
        )
    token = mint_token(secret=TEST_JWT_SECRET, sub=user_id, email=email)
    return Person(user_id=user_id, email=email, token=token)


async def create_family(
    connection: AsyncConnection, owner: Person, *, name: str = "The Testers", timezone: str = "UTC"
) -> uuid.UUID:
    family_id = uuid.uuid4()
    await connection.execute(
        text("insert into families (id, name, timezone, created_by) values (:id, :name, :tz, :by)"),
        {"id": family_id, "name": name, "tz": timezone, "by": owner.user_id},
    )
    await add_member(connection, family_id, owner, MemberRole.OWNER)
    return family_id


async def add_member(
    connection: AsyncConnection,
    family_id: uuid.UUID,
    person: Person | None,
    role: MemberRole = MemberRole.MEMBER,
    *,
    display_name: str = "Someone",
) -> uuid.UUID:
    """A membership; `person=None` makes a managed profile (no login)."""
    member_id = uuid.uuid4()
    await connection.execute(
        text(
            "insert into family_members (id, family_id, user_id, display_name, role)"
            " values (:id, :family, :user, :name, :role)"
        ),
        {
            "id": member_id,
            "family": family_id,
            "user": person.user_id if person else None,
            "name": display_name,
            "role": role.value,
        },
    )
    return member_id


async def create_owned_family(
    connection: AsyncConnection,
    owner_name: str = "owner",
    *,
    name: str = "The Testers",
    timezone: str = "UTC",
) -> tuple[Person, uuid.UUID]:
    """A person and the family they own: `(owner, family_id)`."""
    owner = await create_person(connection, owner_name)
    family_id = await create_family(connection, owner, name=name, timezone=timezone)
    return owner, family_id


async def create_member(
    connection: AsyncConnection,
    family_id: uuid.UUID,
    name: str = "member",
    role: MemberRole = MemberRole.MEMBER,
    *,
    display_name: str = "Someone",
) -> tuple[Person, uuid.UUID]:
    """A person with a login who belongs to the family in `role`: `(person, member_id)`."""
    person = await create_person(connection, name)
    member_id = await add_member(connection, family_id, person, role, display_name=display_name)
    return person, member_id
