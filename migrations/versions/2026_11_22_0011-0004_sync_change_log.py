"""Sync change log: triggers record every change of a synced entity with its transaction id.

The app never writes this table. Rows name the family (everyone in it may see the change) or,
for membership changes, one login (`user_id`: that login gained or lost the family).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:11:58.743299+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# One function per shape of table; SECURITY DEFINER so a request running as `authenticated`
# can log without any right on the log itself.
LOG_FAMILY = """
create function public.log_family_change() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  changed public.families := coalesce(new, old);
begin
  insert into public.sync_changes (family_id, entity_type, entity_id, deleted)
    values (changed.id, 'family', changed.id, tg_op = 'DELETE');
  return null;
end
$$
"""

# tg_argv[0]: the entity type; tg_argv[1] = 'soft' for tables with soft delete (deleted_at).
LOG_FAMILY_OWNED = """
create function public.log_family_owned_change() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  removed boolean := tg_op = 'DELETE';
begin
  if not removed and tg_argv[1] = 'soft' then
    removed := (to_jsonb(new) ->> 'deleted_at') is not null;
  end if;
  if tg_op = 'DELETE' then
    insert into public.sync_changes (family_id, entity_type, entity_id, deleted)
      values (old.family_id, tg_argv[0], old.id, true);
  else
    insert into public.sync_changes (family_id, entity_type, entity_id, deleted)
      values (new.family_id, tg_argv[0], new.id, removed);
  end if;
  return null;
end
$$
"""

# A login joining or leaving a family: only that login is told, with the family itself.
LOG_ACCESS = """
create function public.log_family_access() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') and old.user_id is not null
     and (tg_op = 'DELETE' or new.user_id is distinct from old.user_id) then
    insert into public.sync_changes (family_id, user_id, entity_type, entity_id, deleted)
      values (old.family_id, old.user_id, 'family', old.family_id, true);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.user_id is not null
     and (tg_op = 'INSERT' or new.user_id is distinct from old.user_id) then
    insert into public.sync_changes (family_id, user_id, entity_type, entity_id, deleted)
      values (new.family_id, new.user_id, 'family', new.family_id, false);
  end if;
  return null;
end
$$
"""

# (table, entity type, soft delete?)
FAMILY_OWNED = (
    ("family_members", "member", False),
    ("habits", "habit", True),
    ("habit_versions", "habit_version", False),
    ("routines", "routine", True),
    ("routine_versions", "routine_version", False),
    ("checkins", "checkin", False),
)

READ_POLICY = """
create policy sync_changes_read on public.sync_changes for select to authenticated
  using (
    (user_id is null and family_id in (select public.my_family_ids()))
    or user_id = auth.uid()
  )
"""


def _triggers() -> list[str]:
    statements = [
        "create trigger log_sync_change after insert or update or delete on public.families"
        " for each row execute function public.log_family_change()",
        "create trigger log_sync_access after insert or update of user_id or delete"
        " on public.family_members for each row execute function public.log_family_access()",
    ]
    for table, entity, soft in FAMILY_OWNED:
        statements.append(
            f"create trigger log_sync_change after insert or update or delete on public.{table}"
            f" for each row execute function"
            f" public.log_family_owned_change('{entity}', '{'soft' if soft else 'hard'}')"
        )
    return statements


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_changes")),
    )
    op.create_index(
        "ix_sync_changes_family_id_txid", "sync_changes", ["family_id", "txid", "seq"], unique=False
    )
    op.create_index(
        "ix_sync_changes_user_id_txid",
        "sync_changes",
        ["user_id", "txid", "seq"],
        unique=False,
        postgresql_where=sa.text("user_id is not null"),
    )

    for statement in (LOG_FAMILY, LOG_FAMILY_OWNED, LOG_ACCESS, *_triggers()):
        op.execute(statement)
    op.execute("alter table public.sync_changes enable row level security")
    op.execute(READ_POLICY)
    op.execute("grant select on public.sync_changes to authenticated")


def downgrade() -> None:
    op.execute("drop trigger log_sync_change on public.families")
    op.execute("drop trigger log_sync_access on public.family_members")
    for table, _, _ in FAMILY_OWNED:
        op.execute(f"drop trigger log_sync_change on public.{table}")
    for function in ("log_family_change", "log_family_owned_change", "log_family_access"):
        op.execute(f"drop function public.{function}()")
    op.drop_index(
        "ix_sync_changes_user_id_txid",
        table_name="sync_changes",
        postgresql_where=sa.text("user_id is not null"),
    )
    op.drop_index("ix_sync_changes_family_id_txid", table_name="sync_changes")
    op.drop_table("sync_changes")
