"""Supabase's `auth.users`, declared only so foreign keys can point at it. Supabase owns it
(or the compatibility migration creates it); Alembic's autogenerate ignores schema `auth`."""

from sqlalchemy import Column, Table
from sqlalchemy.types import Uuid

from app.models.base import Base

auth_users = Table("users", Base.metadata, Column("id", Uuid, primary_key=True), schema="auth")
