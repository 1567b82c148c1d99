"""(family_id, id) indexes, so sync pages through a family's snapshot in id order.

Each replaces the plain family_id index it starts with (the family's cascade delete uses the
new one just as well), so writes keep one index per table, not two.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("checkins", "habit_versions", "routine_versions")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_family_id_id", table, ["family_id", "id"], unique=False)
        op.drop_index(f"ix_{table}_family_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_family_id", table, ["family_id"], unique=False)
        op.drop_index(f"ix_{table}_family_id_id", table_name=table)
