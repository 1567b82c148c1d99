"""Compaction of the sync change log (`loopin maintain`): it stays as large as what a client
can still need, not as long as the family's history.

What goes, and why no client loses a change it has not seen:
- Rows of families that no longer exist (`user_id` null): only members of a family can read
  its rows, and it has none left. The logins that lost it keep their own tombstone row.
- Rows older than the retention horizon that a later row of the same entity supersedes.
  The sync delivers an entity's current state, never a row's content, and orders by
  (txid, seq): whatever a cursor has not seen of an entity, it has not seen its latest row
  either, and that one stays.
- Tombstones older than the horizon (the latest row of a deleted entity, or of a login that
  lost a family). Those a client may still need, so first `resync_below_txid` is raised past
  them and committed: a cursor that has not seen everything below it gets 410
  `resync_required` and syncs from zero (`services/sync.py`). A first sync (no cursor yet)
  never needs them.

Safe while the API serves: only committed rows are read; the doomed rows are read in one
pass and deleted in small transactions of their own, so no lock is held for long; and
running it twice, or twice at once, deletes nothing the first did not (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

DELETE_BATCH = 5_000

# Upper bound (exclusive) of the tombstones this run may remove, read before any is removed:
# a tombstone committed later by a transaction that started before the cutoff may be older
# than the cutoff yet above this bound, and then stays for the next run.
_TOMBSTONE_BOUND = text(
    "select coalesce(max(txid), 0) + 1 from public.sync_changes"
    " where deleted and changed_at < :cutoff"
)
_RAISE_RESYNC_BELOW = text(
    "update public.sync_log_state set resync_below_txid = greatest(resync_below_txid, :bound)"
)
_OF_DELETED_FAMILIES = text(
    "select s.seq from public.sync_changes s where s.user_id is null"
    " and not exists (select 1 from public.families f where f.id = s.family_id)"
)
_SUPERSEDED_OR_OLD_TOMBSTONES = text(
    "select seq, rank > 1 as superseded from ("
    " select seq, txid, deleted, changed_at, row_number() over ("
    "  partition by entity_type, entity_id, user_id order by txid desc, seq desc) as rank"
    " from public.sync_changes) as ranked"
    " where changed_at < :cutoff and (rank > 1 or (deleted and txid < :bound))"
)
_DELETE = text("delete from public.sync_changes where seq = any(:seqs)").bindparams(
    bindparam("seqs", type_=ARRAY(BigInteger))
)


@dataclass(frozen=True, slots=True)
class Compaction:
    of_deleted_families: int
    superseded: int
    tombstones: int
    resync_below_txid: int
    remaining: int


async def compact_change_log(
    engine: AsyncEngine, retention: timedelta, *, batch: int = DELETE_BATCH
) -> Compaction:
    """One compaction pass as the connecting (owner) role; see the module docstring."""
    cutoff = datetime.now(UTC) - retention
    async with engine.begin() as connection:
        bound = int(await connection.scalar(_TOMBSTONE_BOUND, {"cutoff": cutoff}) or 1)
        await connection.execute(_RAISE_RESYNC_BELOW, {"bound": bound})
    # Committed: from now on no cursor below the bound is served from the log.

    of_deleted_families = await _delete_streamed(engine, _OF_DELETED_FAMILIES, {}, batch)
    superseded = tombstones = 0
    async with engine.connect() as reader:
        rows = await reader.stream(
            _SUPERSEDED_OR_OLD_TOMBSTONES, {"cutoff": cutoff, "bound": bound}
        )
        async for chunk in rows.partitions(batch):
            await _delete(engine, [row.seq for row in chunk])
            superseded += sum(1 for row in chunk if row.superseded)
            tombstones += sum(1 for row in chunk if not row.superseded)
        await reader.rollback()
    async with engine.connect() as connection:
        remaining = int(
            await connection.scalar(text("select count(*) from public.sync_changes")) or 0
        )
        resync_below = int(
            await connection.scalar(text("select resync_below_txid from public.sync_log_state"))
            or 0
        )
    return Compaction(of_deleted_families, superseded, tombstones, resync_below, remaining)


async def _delete_streamed(
    engine: AsyncEngine, query: TextClause, params: dict[str, object], batch: int
) -> int:
    deleted = 0
    async with engine.connect() as reader:
        rows = await reader.stream(query, params)
        async for chunk in rows.partitions(batch):
            await _delete(engine, [row.seq for row in chunk])
            deleted += len(chunk)
        await reader.rollback()
    return deleted


async def _delete(engine: AsyncEngine, seqs: list[int]) -> None:
    async with engine.begin() as connection:
        await connection.execute(_DELETE, {"seqs": seqs})
