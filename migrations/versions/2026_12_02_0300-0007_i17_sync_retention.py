"""Issue 17: the change log's retention horizon.

`loopin maintain` compacts `sync_changes`; before it removes tombstones older than the
retention period it raises `resync_below_txid` past them, and a sync cursor that has not
seen everything below it is answered 410 `resync_required` (the client syncs from zero).

Revision ID: 0007_i17_sync_retention
Revises: 0006_i17_keep_history
Create Date: 2026-12-02 03:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_i17_sync_retention"
down_revision: str | None = "0006_i17_keep_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# --- grants and policies (re-point here when the request role changes) ---------------------
# Every request may read the one row (it says nothing about anyone); only the owner writes.
ACCESS = (
    "alter table public.sync_log_state enable row level security",
    "create policy sync_log_state_read on public.sync_log_state for select to authenticated"
    " using (true)",
    "grant select on public.sync_log_state to authenticated",
)


def upgrade() -> None:
    op.create_table(
        "sync_log_state",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "resync_below_txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.CheckConstraint("id", name=op.f("ck_sync_log_state_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_log_state")),
    )
    op.execute("insert into public.sync_log_state (id) values (true)")
    for statement in ACCESS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("sync_log_state")
