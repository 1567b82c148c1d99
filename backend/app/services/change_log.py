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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

DELETE_BATCH = 5_000

# As pg_cron would: `call public.compact_sync_changes('90 days')`.
_COMPACT = text("call public.compact_sync_changes(make_interval(secs => :seconds), :batch)")


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
    # The procedure commits as it goes, which it may only do outside a transaction block.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        done = (
            await autocommit.execute(
                _COMPACT, {"seconds": retention.total_seconds(), "batch": batch}
            )
        ).one()
        remaining = await autocommit.scalar(text("select count(*) from public.sync_changes"))
        resync_below = await autocommit.scalar(
            text("select resync_below_txid from public.sync_log_state")
        )
    return Compaction(
        of_deleted_families=int(done.of_deleted_families),
        superseded=int(done.superseded),
        tombstones=int(done.tombstones),
        resync_below_txid=int(resync_below or 0),
        remaining=int(remaining or 0),
    )
