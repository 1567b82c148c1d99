"""Check-ins of a habit, one per local date."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import CurrentActor, SessionDep, SettingsDep, TransactionDep
from app.api.driver_route import driver_route
from app.api.routes.habits import FromDate, ToDate
from app.schemas.habit import CheckinList, CheckinRead, CheckinWrite
from app.schemas.problem import problems
from app.services.checkin_put import put_checkin
from app.services.checkins import CheckinService

router = APIRouter(prefix="/v1/habits/{habit_id}/checkins", tags=["checkins"])

# A date the schema allows can still be outside what the habit accepts today.
CHECKIN_DATE_RULES = ("date_in_future", "before_start", "outside_backfill_window")

CheckinDate = Annotated[
    date, Path(alias="date", description="The local date the check-in counts for.")
]


@driver_route(
    router,
    "/{date}",
    method="PUT",
    name="put",
    response_model=CheckinRead,
    status_code=status.HTTP_200_OK,
    responses=problems(
        403,
        404,
        409,
        ok={201: {"description": "Created", "model": CheckinRead}},
        rules=(*CHECKIN_DATE_RULES, "value_not_allowed", "value_required"),
    ),
)
async def put(
    habit_id: uuid.UUID,
    day: CheckinDate,
    data: CheckinWrite,
    response: Response,
    transaction: TransactionDep,
) -> object:
    """Record the habit for a local date: `201` new, `200` replaced. Safe to repeat.
    `422` for a date after the habit's local today, before its start, or older than the
    backfill window."""
    checkin, created = await put_checkin(
        transaction.sql,
        transaction.actor,
        habit_id,
        day,
        data,
        backfill_days=transaction.settings.checkin_backfill_days,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return checkin


@router.delete(
    "/{date}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404, 409, rules=CHECKIN_DATE_RULES),
)
async def delete_checkin(
    habit_id: uuid.UUID,
    day: CheckinDate,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
) -> None:
    """Undo a check-in (also when there is none: the result is the same)."""
    service = CheckinService(session, actor, backfill_days=settings.checkin_backfill_days)
    await service.delete(habit_id, day)


@router.get(
    "",
    name="list",
    response_model=CheckinList,
    responses=problems(404, rules=("invalid_range", "range_too_long")),
)
async def list_checkins(
    habit_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    first: FromDate = None,
    last: ToDate = None,
) -> dict[str, object]:
    """Check-ins between `from` and `to` (default: the last 30 days; at most 366 days)."""
    service = CheckinService(session, actor, backfill_days=settings.checkin_backfill_days)
    return {"items": await service.list_between(habit_id, first, last)}
