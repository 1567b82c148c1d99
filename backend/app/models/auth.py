"""Supabase's `auth.users`, declared for foreign keys and for the local tooling that creates
logins on plain Postgres (`loopin token`, `loopin seed`). Supabase owns it (or the
compatibility migration creates it); Alembic's autogenerate ignores schema `auth`. Only the
columns both variants have are declared."""

from sqlalchemy import Column, DateTime, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid

from app.models.base import Base

auth_users = Table(
    "users",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", Text),
    Column("raw_user_meta_data", JSONB),
    Column("created_at", DateTime(timezone=True), server_default=text("now()")),
    schema="auth",
)
