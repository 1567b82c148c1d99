"""Routines and their immutable versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import CurrentActor, SessionDep
from app.api.params import DEFAULT_LIMIT, Cursor, IfMatch, Limit, parse_if_match, set_etag
from app.schemas.problem import problems
from app.schemas.routine import (
    RoutineCreate,
    RoutinePage,
    RoutineRead,
    RoutineUpdate,
    RoutineVersionRead,
)
from app.services.routines import RoutineService, RoutineView, version_dict

family_router = APIRouter(prefix="/v1/families/{family_id}/routines", tags=["routines"])
router = APIRouter(prefix="/v1/routines", tags=["routines"])


def _routine(view: RoutineView, response: Response) -> RoutineRead:
    set_etag(response, view.routine.version)
    return RoutineRead.model_validate(view.as_dict())


@family_router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=RoutineRead,
    responses=problems(
        403,
        404,
        409,
        ok={200: {"description": "Retried create: the existing routine", "model": RoutineRead}},
        etag_on=(200, 201),
        rules=("invalid_routine_items",),
    ),
)
async def create_routine(
    family_id: uuid.UUID,
    data: RoutineCreate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
) -> RoutineRead:
    """An ordered list of habits of one assignee (admins for anyone, members for themselves)."""
    view, created = await RoutineService(session, actor).create(family_id, data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _routine(view, response)


@family_router.get(
    "", name="list", response_model=RoutinePage, responses=problems(404, rules=("invalid_cursor",))
)
async def list_routines(
    family_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> RoutinePage:
    views, next_cursor = await RoutineService(session, actor).list_in_family(
        family_id, cursor=cursor, limit=limit
    )
    return RoutinePage(
        items=[RoutineRead.model_validate(view.as_dict()) for view in views],
        next_cursor=next_cursor,
    )


@router.get(
    "/{routine_id}", name="get", response_model=RoutineRead, responses=problems(404, etag_on=(200,))
)
async def get_routine(
    routine_id: uuid.UUID, response: Response, session: SessionDep, actor: CurrentActor
) -> RoutineRead:
    """The routine with its current version's items in order."""
    return _routine(await RoutineService(session, actor).get(routine_id), response)


@router.patch(
    "/{routine_id}",
    name="update",
    response_model=RoutineRead,
    responses=problems(
        400,
        403,
        404,
        etag_on=(200,),
        rules=("version_mismatch", "invalid_routine_items"),
    ),
)
async def update_routine(
    routine_id: uuid.UUID,
    changes: RoutineUpdate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    if_match: IfMatch = None,
) -> RoutineRead:
    """New `habit_ids` or `schedule` make version n+1; the old versions stay as they were."""
    view = await RoutineService(session, actor).update(
        routine_id, changes, if_match=parse_if_match(if_match)
    )
    return _routine(view, response)


@router.delete(
    "/{routine_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404),
)
async def delete_routine(routine_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> None:
    await RoutineService(session, actor).delete(routine_id)


@router.get(
    "/{routine_id}/versions",
    name="versions",
    response_model=dict[str, list[RoutineVersionRead]],
    responses=problems(404),
)
async def list_routine_versions(
    routine_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> dict[str, object]:
    versions = await RoutineService(session, actor).versions(routine_id)
    return {"items": [version_dict(version) for version in versions]}


@router.get(
    "/{routine_id}/versions/{number}",
    name="version",
    response_model=RoutineVersionRead,
    responses=problems(404),
)
async def get_routine_version(
    routine_id: uuid.UUID,
    number: Annotated[int, Path(ge=1, le=1_000_000)],
    session: SessionDep,
    actor: CurrentActor,
) -> object:
    return version_dict(await RoutineService(session, actor).version(routine_id, number))
