"""Habits with versions, check-ins, routines with versions; RLS on all of them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:02:25.297097+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Family-owned tables: readable and writable by the family's members (finer role rules, like
# "admins or the assignee", are the services'); invisible to everyone else.
TENANT_TABLES = ("habits", "habit_versions", "checkins", "routines", "routine_versions")


def _enable_rls(table: str) -> tuple[str, ...]:
    return (
        f"alter table public.{table} enable row level security",
        f"create policy {table}_family on public.{table} for all to authenticated"
        " using (family_id in (select public.my_family_ids()))"
        " with check (family_id in (select public.my_family_ids()))",
        f"grant select, insert, update, delete on public.{table} to authenticated",
    )


# An admin logging a check-in for a family member needs that member's timezone: co-members
# may read each other's profile (the caller's own row stays the only one they can change).
CO_MEMBER_PROFILES = (
    # A definer function, so the lookup goes straight through the members' indexes (a policy
    # subquery on family_members would itself be filtered by that table's policy).
    """
create function public.my_co_member_user_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select theirs.user_id
  from public.family_members mine
  join public.family_members theirs on theirs.family_id = mine.family_id
  where mine.user_id = auth.uid() and theirs.user_id is not null
$$
""",
    "revoke execute on function public.my_co_member_user_ids() from public",
    "grant execute on function public.my_co_member_user_ids() to authenticated",
    """
create policy users_co_members on public.users for select to authenticated
  using (id in (select public.my_co_member_user_ids()))
""",
)


def upgrade() -> None:
    op.create_table(
        "habits",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("color", sa.String(length=32), nullable=True),
        sa.Column("icon", sa.String(length=64), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["family_members.id"],
            name=op.f("fk_habits_assignee_id_family_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_habits_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_habits_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habits")),
    )
    op.create_index(
        "ix_habits_assignee_id_live",
        "habits",
        ["assignee_id"],
        unique=False,
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.create_index(op.f("ix_habits_created_by"), "habits", ["created_by"], unique=False)
    op.create_index(op.f("ix_habits_family_id"), "habits", ["family_id"], unique=False)
    op.create_table(
        "routines",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_of_day", sa.Time(), nullable=True),
        sa.Column("current_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["family_members.id"],
            name=op.f("fk_routines_assignee_id_family_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_routines_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_routines_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routines")),
    )
    op.create_index(
        "ix_routines_assignee_id_live",
        "routines",
        ["assignee_id"],
        unique=False,
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.create_index(op.f("ix_routines_created_by"), "routines", ["created_by"], unique=False)
    op.create_index(op.f("ix_routines_family_id"), "routines", ["family_id"], unique=False)
    op.create_table(
        "checkins",
        sa.Column("habit_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("status", sa.Enum("done", "skipped", name="checkin_status"), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("logged_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "value is null or value >= 0", name=op.f("ck_checkins_value_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_checkins_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["habit_id"],
            ["habits.id"],
            name=op.f("fk_checkins_habit_id_habits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["logged_by"],
            ["users.id"],
            name=op.f("fk_checkins_logged_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("habit_id", "date", name=op.f("uq_checkins_habit_id_date")),
    )
    op.create_index(op.f("ix_checkins_family_id"), "checkins", ["family_id"], unique=False)
    op.create_index(op.f("ix_checkins_logged_by"), "checkins", ["logged_by"], unique=False)
    op.create_table(
        "habit_versions",
        sa.Column("habit_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("type", sa.Enum("boolean", "numeric", name="habit_type"), nullable=False),
        sa.Column("target_value", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column(
            "target_direction",
            sa.Enum("at_least", "at_most", name="target_direction"),
            nullable=True,
        ),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "(type = 'boolean' and target_value is null)"
            " or (type = 'numeric' and target_value > 0 and target_direction is not null)",
            name=op.f("ck_habit_versions_target_matches_type"),
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_habit_versions_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["habit_id"],
            ["habits.id"],
            name=op.f("fk_habit_versions_habit_id_habits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habit_versions")),
        sa.UniqueConstraint("habit_id", "number", name=op.f("uq_habit_versions_habit_id_number")),
    )
    op.create_index(
        op.f("ix_habit_versions_family_id"), "habit_versions", ["family_id"], unique=False
    )
    op.create_table(
        "routine_versions",
        sa.Column("routine_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("habit_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_routine_versions_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["routine_id"],
            ["routines.id"],
            name=op.f("fk_routine_versions_routine_id_routines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routine_versions")),
        sa.UniqueConstraint(
            "routine_id", "number", name=op.f("uq_routine_versions_routine_id_number")
        ),
    )
    op.create_index(
        op.f("ix_routine_versions_family_id"), "routine_versions", ["family_id"], unique=False
    )

    for table in TENANT_TABLES:
        for statement in _enable_rls(table):
            op.execute(statement)
    for statement in CO_MEMBER_PROFILES:
        op.execute(statement)


def downgrade() -> None:
    op.execute("drop policy users_co_members on public.users")
    op.execute("drop function public.my_co_member_user_ids()")
    op.drop_index(op.f("ix_routine_versions_family_id"), table_name="routine_versions")
    op.drop_table("routine_versions")
    op.drop_index(op.f("ix_habit_versions_family_id"), table_name="habit_versions")
    op.drop_table("habit_versions")
    op.drop_index(op.f("ix_checkins_logged_by"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_family_id"), table_name="checkins")
    op.drop_table("checkins")
    op.drop_index(op.f("ix_routines_family_id"), table_name="routines")
    op.drop_index(op.f("ix_routines_created_by"), table_name="routines")
    op.drop_index(
        "ix_routines_assignee_id_live",
        table_name="routines",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.drop_table("routines")
    op.drop_index(op.f("ix_habits_family_id"), table_name="habits")
    op.drop_index(op.f("ix_habits_created_by"), table_name="habits")
    op.drop_index(
        "ix_habits_assignee_id_live",
        table_name="habits",
        postgresql_where=sa.text("deleted_at is null"),
    )
    op.drop_table("habits")
    for enum_name in ("checkin_status", "target_direction", "habit_type"):
        op.execute(f"drop type {enum_name}")
