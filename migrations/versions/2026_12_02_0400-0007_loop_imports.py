"""Import keys: what was imported for a member, so a Loop backup imported twice creates
nothing new (issue 18).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# --- grants and policies (one block, to re-point when the request role changes) ----------
# Family-owned like the habits: members of the family read and add keys (the import service
# decides who may import for whom); nobody changes or removes one through the API's role,
# since a removed key would let the same file create its habits again.
GRANTS_AND_POLICIES = (
    "alter table public.import_keys enable row level security",
    "create policy import_keys_family on public.import_keys for all to loopin_api"
    " using (family_id in (select public.my_family_ids()))"
    " with check (family_id in (select public.my_family_ids()))",
    # Nothing for the Data API's roles (migration 0005): not even what a default grants.
    "revoke all on public.import_keys from public, anon, authenticated, service_role",
    "grant select, insert on public.import_keys to loopin_api",
)


def upgrade() -> None:
    op.create_table(
        "import_keys",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("habit_id", sa.Uuid(), nullable=True),
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
            name=op.f("fk_import_keys_family_id_families"),
            ondelete="CASCADE",
        ),
        # Inside the row's own family, as every family-owned key (migration 0006).
        sa.ForeignKeyConstraint(
            ["family_id", "habit_id"],
            ["habits.family_id", "habits.id"],
            name=op.f("fk_import_keys_family_id_habits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["family_id", "member_id"],
            ["family_members.family_id", "family_members.id"],
            name=op.f("fk_import_keys_family_id_family_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_keys")),
        sa.UniqueConstraint("member_id", "key", name=op.f("uq_import_keys_member_id_key")),
    )
    op.create_index(op.f("ix_import_keys_family_id"), "import_keys", ["family_id"], unique=False)
    op.create_index(op.f("ix_import_keys_habit_id"), "import_keys", ["habit_id"], unique=False)
    for statement in GRANTS_AND_POLICIES:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f("ix_import_keys_habit_id"), table_name="import_keys")
    op.drop_index(op.f("ix_import_keys_family_id"), table_name="import_keys")
    op.drop_table("import_keys")
