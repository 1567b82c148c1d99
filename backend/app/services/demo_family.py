"""The demo family, for development (`loopin seed`, and every `loopin serve` on the embedded
database): its logins, their profiles, the family and its four members.

Runs in the caller's transaction as the database owner (no RLS) and is idempotent: fixed ids,
and each row is written only if its id is free, so running it again changes nothing and
restores what was deleted. Logins are `app.services.local_logins`'; the family's rows go
through the repositories the API writes them with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models import Family, FamilyMember
from app.models.enums import MemberRole
from app.repositories.auth_users import Login
from app.repositories.families import insert_member
from app.repositories.new_rows import insert_new
from app.repositories.users import insert_user_if_absent
from app.services.local_logins import LoginUnavailable, auth_users_are_ours, ensure_login

DEMO_FAMILY_ID = uuid.UUID("d3a0f00d-0000-4000-8000-000000000001")
DEMO_FAMILY_NAME = "The Demo Family"
DEMO_OWNER_EMAIL = "demo@loopin.test"


@dataclass(frozen=True, slots=True)
class DemoMember:
    member_id: uuid.UUID
    display_name: str
    role: MemberRole
    email: str | None  # None: a managed profile (a child without a login)


DEMO_MEMBERS = (
    DemoMember(
        uuid.UUID("d3a0f00d-0000-4000-8000-000000000011"),
        "Dana Demo",
        MemberRole.OWNER,
        DEMO_OWNER_EMAIL,
    ),
    DemoMember(
        uuid.UUID("d3a0f00d-0000-4000-8000-000000000012"),
        "Grandpa Gus",
        MemberRole.ADMIN,
        "grandpa@loopin.test",
    ),
    DemoMember(
        uuid.UUID("d3a0f00d-0000-4000-8000-000000000013"),
        "Theo (teen)",
        MemberRole.MEMBER,
        "teen@loopin.test",
    ),
    DemoMember(
        uuid.UUID("d3a0f00d-0000-4000-8000-000000000014"),
        "Mia (age 6)",
        MemberRole.MEMBER,
        None,
    ),
)


@dataclass(frozen=True, slots=True)
class DemoFamily:
    family_id: uuid.UUID
    owner: Login
    created: bool  # False when it was already there


async def seed_demo_family(connection: AsyncConnection) -> DemoFamily:
    """Create what is missing of the demo family: its logins, their profiles, the family and
    its four members. Run it in one transaction; rows that exist are left as they are."""
    if not await auth_users_are_ours(connection):
        raise LoginUnavailable(
            "auth.users belongs to Supabase Auth in this database, so no demo logins are "
            "created here; seed the embedded database or a plain Postgres instead"
        )
    logins: dict[str, Login] = {}
    for person in DEMO_MEMBERS:
        if person.email is not None:
            logins[person.email] = await ensure_login(
                connection, person.email, full_name=person.display_name
            )
    owner = logins[DEMO_OWNER_EMAIL]
    # A session on the caller's connection joins its transaction and leaves committing to it.
    async with AsyncSession(bind=connection) as session:
        for login in logins.values():
            await insert_user_if_absent(
                session, login.id, email=login.email, full_name=login.full_name
            )
        created = await insert_new(
            session,
            Family(id=DEMO_FAMILY_ID, name=DEMO_FAMILY_NAME, timezone="UTC", created_by=owner.id),
        )
        # A member that exists under its id, or a login already in the family under another
        # id, is left alone either way.
        for person in DEMO_MEMBERS:
            await insert_member(
                session,
                FamilyMember(
                    id=person.member_id,
                    family_id=DEMO_FAMILY_ID,
                    user_id=logins[person.email].id if person.email else None,
                    display_name=person.display_name,
                    role=person.role,
                ),
            )
    return DemoFamily(family_id=DEMO_FAMILY_ID, owner=owner, created=created)
