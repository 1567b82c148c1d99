"""Compaction removes only the tombstones it raised the resync bound for.

0010's procedure read the bound from the tombstones committed when it started, then removed
every old tombstone below that bound that its later statements saw, including one committed
in between by a transaction that began earlier (its id is below the bound). A client that had
paged past nothing of that transaction was not told to resync, and kept the deleted entity.
Now a tombstone is removed only if it was visible when the bound was raised; a later one waits
for the next run, as 0010's own comment said. Replaces the procedure; no table is rewritten.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 05:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0010, with `raised_at`: the snapshot the bound was computed in.
COMPACT = """
create or replace procedure public.compact_sync_changes(
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
  raised_at pg_snapshot;
  doomed bigint[] := '{}';
  doomed_superseded bigint := 0;
  doomed_tombstones bigint := 0;
  doomed_row record;
begin
  select coalesce(max(s.txid), 0) + 1, pg_current_snapshot() into bound, raised_at
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
      and (ranked.rank > 1
           or (ranked.deleted and ranked.txid < bound
               and pg_visible_in_snapshot(ranked.txid::text::xid8, raised_at)))
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

# 0010's body, for the downgrade.
PREVIOUS_COMPACT = """
create or replace procedure public.compact_sync_changes(
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


def upgrade() -> None:
    op.execute(COMPACT)  # `or replace` keeps the procedure's owner and privileges


def downgrade() -> None:
    op.execute(PREVIOUS_COMPACT)
