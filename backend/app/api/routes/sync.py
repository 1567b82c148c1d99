"""Endpoints for offline-first clients catching up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.core.errors import problem_of
from app.schemas.habit import BatchCheckinsRequest, BatchCheckinsResponse, CheckinRead
from app.schemas.problem import problems
from app.schemas.sync import SyncPage
from app.services.checkins import CheckinService
from app.services.sync import DEFAULT_LIMIT, MAX_LIMIT, SyncService

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get(
    "", name="changes", response_model=SyncPage, responses=problems(rules=("invalid_cursor",))
)
async def sync_changes(
    session: SessionDep,
    actor: CurrentActor,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> object:
    """Every change visible to you since `cursor` (none: everything): families, members,
    habits and their versions, routines and their versions, check-ins. Each entity appears
    at most once, in its latest state; deleted ones and families you lost access to come
    as tombstones (`deleted: true`, `data: null`). The cursor never skips a change, even one
    committed late by a long transaction. While `has_more`, call again with `next_cursor`."""
    return await SyncService(session, actor).changes(cursor, limit)


@router.post(
    "/checkins", name="checkins", response_model=BatchCheckinsResponse, responses=problems()
)
async def sync_checkins(
    data: BatchCheckinsRequest, session: SessionDep, actor: CurrentActor, settings: SettingsDep
) -> BatchCheckinsResponse:
    """Write up to 500 check-ins at once, e.g. what a tablet logged offline. One result per
    item, in order: `201`/`200` with the check-in, or the item's 4xx status with its problem.
    One bad item does not fail the others; replaying the whole batch is safe."""
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
