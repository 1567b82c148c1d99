"""Local logins, for development (`loopin token`, `loopin seed`): one auth user per email,
created only where our compatibility migration created `auth.users` (plain Postgres); on
Supabase that table belongs to Supabase Auth and is only read.

Runs in the caller's transaction as the database owner (no RLS); the statements are
`app.repositories.auth_users`'."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.supabase_shape import EMULATION_MARKER
from app.repositories import auth_users as auth_users_repo
from app.repositories.auth_users import Login

# Must equal MARKER in migration 0001: it tells "our" auth.users from Supabase's (so does the
# marker of the Supabase-shaped embedded database, whose auth.users is ours too).
COMPAT_MARKER = "created by loopin: supabase compatibility slice"

# Local logins get a uuid5 of their email in this namespace, so one email is one user even
# across data folders, and two processes creating the same login at once create one row.
LOCAL_LOGIN_NAMESPACE = uuid.UUID("5f1d7c2e-8a4b-4e0f-9c36-0b7a2d4e8f11")


class LoginUnavailable(Exception):
    """The login cannot be created here; str(exc) says why and what to do."""


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
    comment = await auth_users_repo.auth_users_comment(connection)
    return comment in (COMPAT_MARKER, EMULATION_MARKER)


async def find_login(connection: AsyncConnection, email: str) -> Login | None:
    """The oldest auth user with this email (case-insensitive), as Supabase Auth has at
    most one."""
    return await auth_users_repo.find_oldest_by_email(connection, normalize_email(email))


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
    await auth_users_repo.insert_login_if_absent(
        connection,
        local_login_id(email),
        email,
        {"full_name": full_name} if full_name else {},
    )
    login = await find_login(connection, email)
    assert login is not None  # inserted just above, or by a concurrent twin with the same id
    return login
