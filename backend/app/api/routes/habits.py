"""Habits, their versions, stats and history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CurrentActor, QuotasDep, SessionDep, TransactionDep
from app.api.driver_route import driver_route
from app.api.params import DEFAULT_LIMIT, Cursor, IfMatch, Limit, parse_if_match, set_etag
from app.schemas.habit import (
    AppDate,
    HabitCreate,
    HabitHistory,
    HabitPage,
    HabitRead,
    HabitStats,
    HabitUpdate,
    HabitVersionRead,
)
from app.schemas.problem import problems, rate_limited
from app.services.habit_stats import habit_stats
from app.services.habits import HabitService, HabitView

family_router = APIRouter(prefix="/v1/families/{family_id}/habits", tags=["habits"])
router = APIRouter(prefix="/v1/habits", tags=["habits"])

# AppDate's bounds keep date arithmetic (default ranges, lookbacks) inside what `date` holds.
FromDate = Annotated[AppDate | None, Query(alias="from", description="First local date.")]
ToDate = Annotated[AppDate | None, Query(alias="to", description="Last local date (≤ today).")]


def _habit(view: HabitView, response: Response) -> HabitRead:
    set_etag(response, view.habit.version)
    return HabitRead.model_validate(view.as_dict())


@family_router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=HabitRead,
    responses=problems(
        403,
        404,
        409,
        ok={200: {"description": "Retried create: the existing habit", "model": HabitRead}},
        etag_on=(200, 201),
    ),
)
async def create_habit(
    family_id: uuid.UUID,
    data: HabitCreate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    quotas: QuotasDep,
) -> HabitRead:
    """Create a habit for a member: admins for anyone, members for themselves.
    `409 habit_quota_reached` when the family has `MAX_HABITS_PER_FAMILY` habits (default
    300; deleted ones do not count)."""
    view, created = await HabitService(session, actor, quotas=quotas).create(family_id, data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _habit(view, response)


@family_router.get(
    "", name="list", response_model=HabitPage, responses=problems(404, rules=("invalid_cursor",))
)
async def list_habits(
    family_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    assignee_id: uuid.UUID | None = None,
    archived: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> HabitPage:
    views, next_cursor = await HabitService(session, actor).list_in_family(
        family_id, assignee_id=assignee_id, archived=archived, cursor=cursor, limit=limit
    )
    return HabitPage(
        items=[HabitRead.model_validate(view.as_dict()) for view in views],
        next_cursor=next_cursor,
    )


@router.get(
    "/{habit_id}", name="get", response_model=HabitRead, responses=problems(404, etag_on=(200,))
)
async def get_habit(
    habit_id: uuid.UUID, response: Response, session: SessionDep, actor: CurrentActor
) -> HabitRead:
    return _habit(await HabitService(session, actor).get(habit_id), response)


@router.patch(
    "/{habit_id}",
    name="update",
    response_model=HabitRead,
    responses=problems(
        400, 403, 404, 409, etag_on=(200,), rules=("version_mismatch", "invalid_habit_change")
    ),
)
async def update_habit(
    habit_id: uuid.UUID,
    changes: HabitUpdate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    quotas: QuotasDep,
    if_match: IfMatch = None,
) -> HabitRead:
    """Change a habit (admins or the assignee). Changing `type`, `target_value`, `unit`,
    `target_direction` or `schedule` makes a new version effective from `effective_from`
    (default: today); days before it keep being judged by the version then in force.
    `409 habit_version_quota_reached` when the habit has `MAX_VERSIONS_PER_HABIT` versions
    (default 100)."""
    view = await HabitService(session, actor, quotas=quotas).update(
        habit_id, changes, if_match=parse_if_match(if_match)
    )
    return _habit(view, response)


@router.delete(
    "/{habit_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404),
)
async def delete_habit(habit_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> None:
    """Soft delete: the habit disappears from reads; sync sees a tombstone."""
    await HabitService(session, actor).delete(habit_id)


@router.get(
    "/{habit_id}/versions",
    name="versions",
    response_model=dict[str, list[HabitVersionRead]],
    responses=problems(404),
)
async def list_habit_versions(
    habit_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> dict[str, list[HabitVersionRead]]:
    versions = await HabitService(session, actor).versions(habit_id)
    return {"items": [HabitVersionRead.model_validate(version) for version in versions]}


@driver_route(
    router,
    "/{habit_id}/stats",
    method="GET",
    name="stats",
    response_model=HabitStats,
    responses={**problems(404), **rate_limited()},
)
async def stats(habit_id: uuid.UUID, transaction: TransactionDep) -> object:
    """Streaks (following the schedule), Loop-style score in [0, 1], completion rates.
    For a habit with more than 400 days of history, at most
    `RATE_LIMIT_LONG_STATS_PER_MINUTE` (default 60) a minute per login, then `429
    rate_limited` with `Retry-After`."""
    return await habit_stats(
        transaction.sql,
        transaction.actor,
        habit_id,
        long_stats_per_minute=transaction.settings.rate_limit_long_stats_per_minute,
    )


@router.get(
    "/{habit_id}/history",
    name="history",
    response_model=HabitHistory,
    responses=problems(404, rules=("invalid_range", "range_too_long")),
)
async def habit_history(
    habit_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    first: FromDate = None,
    last: ToDate = None,
) -> dict[str, object]:
    """One entry per local day (default: the last 30 days, at most 366)."""
    return {"items": await HabitService(session, actor).history(habit_id, first, last)}
