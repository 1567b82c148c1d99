"""Local logins and the demo family, for development: `loopin token`, `loopin seed`, and
every `loopin serve` on the embedded database.

Everything runs in the caller's transaction as the database owner (no RLS) and is idempotent:
fixed ids and `insert ... on conflict do nothing`, so running it again changes nothing.
Logins are only ever created where our compatibility migration created `auth.users` (plain
Postgres); on Supabase that table belongs to Supabase Auth and is only read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.supabase_shape import EMULATION_MARKER
from app.models import Family, FamilyMember, User, auth_users
from app.models.enums import MemberRole

# Must equal MARKER in migration 0001: it tells "our" auth.users from Supabase's (so does the
# marker of the Supabase-shaped embedded database, whose auth.users is ours too).
COMPAT_MARKER = "created by loopin: supabase compatibility slice"

# Local logins get a uuid5 of their email in this namespace, so one email is one user even
# across data folders, and two processes creating the same login at once create one row.
LOCAL_LOGIN_NAMESPACE = uuid.UUID("5f1d7c2e-8a4b-4e0f-9c36-0b7a2d4e8f11")


class LoginUnavailable(Exception):
    """The login cannot be created here; str(exc) says why and what to do."""


@dataclass(frozen=True, slots=True)
class Login:
    id: uuid.UUID
    email: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str | None:
        name = self.metadata.get("full_name")
        return name if isinstance(name, str) and name else None


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain) or "@" in domain or any(c.isspace() for c in email):
        raise ValueError(f"{raw!r} is not an email address")
    if len(email) > 254:
        raise ValueError("an email address has at most 254 characters")
    return email


def local_login_id(email: str) -> uuid.UUID:
    return uuid.uuid5(LOCAL_LOGIN_NAMESPACE, normalize_email(email))


async def auth_users_are_ours(connection: AsyncConnection) -> bool:
    description = await connection.scalar(
        text("select obj_description(to_regclass('auth.users'), 'pg_class')")
    )
    return description in (COMPAT_MARKER, EMULATION_MARKER)


async def find_login(connection: AsyncConnection, email: str) -> Login | None:
    """The oldest auth user with this email (case-insensitive), as Supabase Auth has at
    most one."""
    email = normalize_email(email)
    row = (
        await connection.execute(
            select(auth_users.c.id, auth_users.c.email, auth_users.c.raw_user_meta_data)
            .where(func.lower(auth_users.c.email) == email)
            .order_by(auth_users.c.created_at, auth_users.c.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Login(id=row.id, email=row.email, metadata=dict(row.raw_user_meta_data or {}))


async def ensure_login(
    connection: AsyncConnection, email: str, *, full_name: str | None = None
) -> Login:
    """The auth user with this email, created on plain Postgres if missing, with `full_name`
    in its metadata (where Supabase keeps the sign-up name). An existing user is returned as
    it is."""
    email = normalize_email(email)
    existing = await find_login(connection, email)
    if existing is not None:
        return existing
    if not await auth_users_are_ours(connection):
        raise LoginUnavailable(
            f"no Supabase Auth user has the email {email}: sign up in the app, or create the "
            "user in the dashboard (Authentication > Users), then run this again"
        )
    await connection.execute(
        insert(auth_users)
        .values(
            id=local_login_id(email),
            email=email,
            raw_user_meta_data={"full_name": full_name} if full_name else {},
            created_at=func.now(),  # Supabase's auth.users has no default: Auth sets it
        )
        .on_conflict_do_nothing(index_elements=[auth_users.c.id])
    )
    login = await find_login(connection, email)
    assert login is not None  # inserted just above, or by a concurrent twin with the same id
    return login


# --- the demo family ----------------------------------------------------------------------

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
    await connection.execute(
        insert(User)
        .values(
            [
                {"id": login.id, "email": login.email, "full_name": login.full_name}
                for login in logins.values()
            ]
        )
        .on_conflict_do_nothing()
    )
    family = await connection.execute(
        insert(Family)
        .values(id=DEMO_FAMILY_ID, name=DEMO_FAMILY_NAME, timezone="UTC", created_by=owner.id)
        .on_conflict_do_nothing()
    )
    # No conflict target: a member that exists under its id, or a login already in the
    # family under another id, is left alone either way.
    await connection.execute(
        insert(FamilyMember)
        .values(
            [
                {
                    "id": person.member_id,
                    "family_id": DEMO_FAMILY_ID,
                    "user_id": logins[person.email].id if person.email else None,
                    "display_name": person.display_name,
                    "role": person.role,
                }
                for person in DEMO_MEMBERS
            ]
        )
        .on_conflict_do_nothing()
    )
    return DemoFamily(family_id=DEMO_FAMILY_ID, owner=owner, created=family.rowcount == 1)
