"""Supabase Auth's `auth.users`, as the local tooling (`loopin token`, `loopin seed`) reads
it and, on plain Postgres, writes it: the statements only. Whose table it is and when a
login may be created are `app.services.local_logins`' rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import auth_users


@dataclass(frozen=True, slots=True)
class Login:
    """An auth user: its id, email and metadata (where Supabase keeps the sign-up name)."""

    id: uuid.UUID
    email: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str | None:
        name = self.metadata.get("full_name")
        return name if isinstance(name, str) and name else None


async def auth_users_comment(connection: AsyncConnection) -> str | None:
    """The comment on `auth.users` (None without one): the mark its creator left."""
    comment: str | None = await connection.scalar(
        text("select obj_description(to_regclass('auth.users'), 'pg_class')")
    )
    return comment


async def find_oldest_by_email(connection: AsyncConnection, email: str) -> Login | None:
    """The oldest auth user whose email is `email` (lower case) in any case."""
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


async def insert_login_if_absent(
    connection: AsyncConnection, user_id: uuid.UUID, email: str, metadata: dict[str, Any]
) -> None:
    """Create the auth user unless its id is taken (a concurrent twin may have made it)."""
    await connection.execute(
        insert(auth_users)
        .values(
            id=user_id,
            email=email,
            raw_user_meta_data=metadata,
            created_at=func.now(),  # Supabase's auth.users has no default: Auth sets it
        )
        .on_conflict_do_nothing(index_elements=[auth_users.c.id])
    )
