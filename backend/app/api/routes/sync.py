"""Endpoints for offline-first clients catching up."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.core.errors import problem_of
from app.schemas.habit import BatchCheckinsRequest, BatchCheckinsResponse, CheckinRead
from app.schemas.problem import problems
from app.services.checkins import CheckinService

router = APIRouter(prefix="/v1/sync", tags=["sync"])


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
