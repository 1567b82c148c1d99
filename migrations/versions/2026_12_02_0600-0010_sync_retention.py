"""Issue 17: the change log's retention horizon, and its compaction.

`public.compact_sync_changes` (called by `loopin maintain`, or by pg_cron) compacts
`sync_changes`; before it removes tombstones older than the retention period it raises
`resync_below_txid` past them, and a sync cursor that has not seen everything below it is
answered 410 `resync_required` (the client syncs from zero). Why each removal is safe:
`app/services/change_log.py`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A procedure, so it can commit as it goes (hence no `SET search_path`, which would forbid
# that; every name is qualified): the raised bound first (no cursor below it is
# served from the log any more), then the doomed rows in batches of `p_batch`, each its own
# short transaction. Run it outside a transaction block (`CALL`, as pg_cron does), as the
# owner. Doomed: rows of families that no longer exist; older than the cutoff, rows a later
# row of the same entity supersedes, and tombstones below the bound read at the start (a
# tombstone committed later by a transaction that began before the cutoff waits a run).
COMPACT = """
create procedure public.compact_sync_changes(
  p_retention interval,
  p_batch integer default 5000,
  inout of_deleted_families bigint default 0,
  inout superseded bigint default 0,
  inout tombstones bigint default 0
)
language plpgsql
as $$
declare
  cutoff timestamptz := now() - p_retention;
  bound bigint;
  doomed bigint[] := '{}';
  doomed_superseded bigint := 0;
  doomed_tombstones bigint := 0;
  doomed_row record;
begin
  select coalesce(max(s.txid), 0) + 1 into bound
    from public.sync_changes s where s.deleted and s.changed_at < cutoff;
  update public.sync_log_state
     set resync_below_txid = greatest(resync_below_txid, bound);
  commit;

  for doomed_row in
    select s.seq from public.sync_changes s
     where s.user_id is null
       and not exists (select 1 from public.families f where f.id = s.family_id)
  loop
    doomed := doomed || doomed_row.seq;
    if cardinality(doomed) >= p_batch then
      delete from public.sync_changes where seq = any(doomed);
      of_deleted_families := of_deleted_families + cardinality(doomed);
      doomed := '{}';
      commit;
    end if;
  end loop;
  delete from public.sync_changes where seq = any(doomed);
  of_deleted_families := of_deleted_families + cardinality(doomed);
  doomed := '{}';
  commit;

  for doomed_row in
    select ranked.seq, ranked.rank > 1 as is_superseded from (
      select s.seq, s.txid, s.deleted, s.changed_at,
             row_number() over (partition by s.entity_type, s.entity_id, s.user_id
                                order by s.txid desc, s.seq desc) as rank
        from public.sync_changes s
    ) as ranked
    where ranked.changed_at < cutoff
      and (ranked.rank > 1 or (ranked.deleted and ranked.txid < bound))
  loop
    doomed := doomed || doomed_row.seq;
    if doomed_row.is_superseded then
      doomed_superseded := doomed_superseded + 1;
    else
      doomed_tombstones := doomed_tombstones + 1;
    end if;
    if cardinality(doomed) >= p_batch then
      delete from public.sync_changes where seq = any(doomed);
      superseded := superseded + doomed_superseded;
      tombstones := tombstones + doomed_tombstones;
      doomed := '{}';
      doomed_superseded := 0;
      doomed_tombstones := 0;
      commit;
    end if;
  end loop;
  delete from public.sync_changes where seq = any(doomed);
  superseded := superseded + doomed_superseded;
  tombstones := tombstones + doomed_tombstones;
  commit;
end
$$
"""

# --- grants (requests run as loopin_api; the Data API's roles get nothing, migration 0005) ---
# Every request may read the one row (it says nothing about anyone); only the owner writes.
ACCESS = (
    "alter table public.sync_log_state enable row level security",
    "create policy sync_log_state_read on public.sync_log_state for select to loopin_api"
    " using (true)",
    "revoke all on public.sync_log_state from public, anon, authenticated, service_role",
    "grant select on public.sync_log_state to loopin_api",
    # The owner's job alone.
    "revoke all on procedure public.compact_sync_changes(interval, integer, bigint, bigint,"
    " bigint) from public, anon, authenticated, service_role",
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
    op.execute(COMPACT)
    for statement in ACCESS:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "drop procedure public.compact_sync_changes(interval, integer, bigint, bigint, bigint)"
    )
    op.drop_table("sync_log_state")
