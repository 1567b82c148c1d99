"""Endpoints for offline-first clients catching up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CurrentActor, RateLimitsDep, SessionDep, SettingsDep
from app.core.errors import problem_of
from app.core.metrics import SYNC_BATCH_ITEMS, SYNC_PAGE_CHANGES
from app.schemas.habit import BatchCheckinsRequest, BatchCheckinsResponse, CheckinRead
from app.schemas.problem import problems, rate_limited
from app.schemas.sync import SyncPage
from app.services.checkins import CheckinService
from app.services.sync import DEFAULT_LIMIT, MAX_LIMIT, SyncService

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get(
    "",
    name="changes",
    response_model=SyncPage,
    responses={**problems(rules=("invalid_cursor", "resync_required")), **rate_limited()},
)
async def sync_changes(
    session: SessionDep,
    actor: CurrentActor,
    rate_limits: RateLimitsDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> object:
    """Every change visible to you since `cursor` (none: everything): families, members,
    habits and their versions, routines and their versions, check-ins. Each entity appears
    at most once, in its latest state; deleted ones and families you lost access to come
    as tombstones (`deleted: true`, `data: null`). The cursor never skips a change, even one
    committed late by a long transaction. While `has_more`, call again with `next_cursor`.

    Joining a family delivers everything in it: the page ends with the family, and the
    following pages carry its members, habits, versions, routines and check-ins, at most
    `limit` entities each, however many years of history it holds. Any page may hold fewer
    than `limit` entities (it stays under 1 MB) and still say `has_more`. An entity may come again
    in a later page (in its newer state): apply the pages in order.

    The change log keeps `SYNC_RETENTION_DAYS` of history: a cursor older than that (an app
    offline for months) is answered `410 resync_required`; a first sync (no cursor) never
    is, however long it takes.

    At most `RATE_LIMIT_SYNC_PER_MINUTE` (default 120) passes begun a minute per login (calls
    without a cursor, or with the cursor a pass ended with), and
    `RATE_LIMIT_SYNC_PAGES_PER_MINUTE` (default 1200) following pages; beyond, `429
    rate_limited` with `Retry-After`."""
    page = await SyncService(session, actor, rate_limits=rate_limits).changes(cursor, limit)
    SYNC_PAGE_CHANGES.observe(len(page["changes"]))
    return page


@router.post(
    "/checkins",
    name="checkins",
    response_model=BatchCheckinsResponse,
    responses={**problems(), **rate_limited()},
)
async def sync_checkins(
    data: BatchCheckinsRequest,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    rate_limits: RateLimitsDep,
) -> BatchCheckinsResponse:
    """Write up to 500 check-ins at once, e.g. what a tablet logged offline. One result per
    item, in order: `201`/`200` with the check-in, or the item's 4xx status with its problem.
    One bad item does not fail the others; replaying the whole batch is safe.

    At most `RATE_LIMIT_BATCH_WRITES_PER_MINUTE` (default 30) batches a minute per login,
    then `429 rate_limited` with `Retry-After`."""
    await rate_limits.batch_writes.take(session)
    SYNC_BATCH_ITEMS.observe(len(data.items))
    service = CheckinService(session, actor, backfill_days=settings.checkin_backfill_days)
    results = await service.put_many(data.items)
    return BatchCheckinsResponse.model_validate(
        {
            "results": [
                {
                    "status": result.status,
                    "checkin": CheckinRead.model_validate(result.checkin)
                    if result.checkin
                    else None,
                    "problem": problem_of(result.problem) if result.problem else None,
                }
                for result in results
            ]
        }
    )
