"""The sync change log's upkeep: one call of `public.compact_sync_changes` (the procedure
pg_cron may run too) and what the log holds after it. What the procedure keeps, and why
that is safe, is said in `app.services.change_log`."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# As pg_cron would: `call public.compact_sync_changes('90 days')`.
_COMPACT = text("call public.compact_sync_changes(make_interval(secs => :seconds), :batch)")
_REMAINING = text("select count(*) from public.sync_changes")
_RESYNC_BELOW = text("select resync_below_txid from public.sync_log_state")


class CompactionCounts(NamedTuple):
    """Rows removed per reason, the resync bound after the pass, and the rows left."""

    of_deleted_families: int
    superseded: int
    tombstones: int
    resync_below_txid: int
    remaining: int


async def compact(engine: AsyncEngine, *, retention_seconds: float, batch: int) -> CompactionCounts:
    """One compaction pass as the connecting (owner) role, deleting `batch` rows per
    transaction."""
    # The procedure commits as it goes, which it may only do outside a transaction block.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        done = (
            await autocommit.execute(_COMPACT, {"seconds": retention_seconds, "batch": batch})
        ).one()
        remaining = await autocommit.scalar(_REMAINING)
        resync_below = await autocommit.scalar(_RESYNC_BELOW)
    return CompactionCounts(
        of_deleted_families=int(done.of_deleted_families),
        superseded=int(done.superseded),
        tombstones=int(done.tombstones),
        resync_below_txid=int(resync_below or 0),
        remaining=int(remaining or 0),
    )
