"""Compaction of the sync change log (`loopin maintain`, or pg_cron calling the same
procedure): it stays as large as what a client can still need, not as long as the family's
history. The work is `public.compact_sync_changes` (migration 0007_i17), so cron and pg_cron
run the very same rules.

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
  `resync_required` and syncs from zero (`services/sync.py` reads the bound after its rows).
  A first sync (no cursor yet) never needs them.

Safe while the API serves: only committed rows are read, and the doomed ones are deleted in
small transactions of their own, so no lock is held for long; running it twice, or twice at
once, deletes nothing the first did not (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from app.repositories import change_log

DELETE_BATCH = 5_000


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
    counts = await change_log.compact(
        engine, retention_seconds=retention.total_seconds(), batch=batch
    )
    return Compaction(*counts)
