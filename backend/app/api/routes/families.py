"""Families and their members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, QuotasDep, SessionDep
from app.api.params import DEFAULT_LIMIT, Cursor, IfMatch, Limit, parse_if_match, set_etag
from app.schemas.family import (
    FamilyCreate,
    FamilyPage,
    FamilyRead,
    FamilyUpdate,
    MemberCreate,
    MemberPage,
    MemberRead,
    MemberUpdate,
)
from app.schemas.problem import problems
from app.services.families import FamilyService, FamilyView
from app.services.members import MemberService

router = APIRouter(prefix="/v1/families", tags=["families"])
members_router = APIRouter(prefix="/v1/families/{family_id}/members", tags=["members"])


def _family(view: FamilyView, response: Response) -> FamilyRead:
    set_etag(response, view.family.version)
    return FamilyRead.model_validate(view.as_dict())


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=FamilyRead,
    responses=problems(
        409,
        ok={200: {"description": "Retried create: the existing family", "model": FamilyRead}},
        etag_on=(200, 201),
    ),
)
async def create_family(
    data: FamilyCreate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    quotas: QuotasDep,
) -> FamilyRead:
    """Create a family; you become its owner. `409 family_quota_reached` when you already
    belong to `MAX_FAMILIES_PER_USER` families (default 20)."""
    view, created = await FamilyService(session, actor, quotas=quotas).create(data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _family(view, response)


@router.get(
    "", name="list", response_model=FamilyPage, responses=problems(rules=("invalid_cursor",))
)
async def list_families(
    session: SessionDep, actor: CurrentActor, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> FamilyPage:
    """The families you belong to, with your role and member id in each."""
    views, next_cursor = await FamilyService(session, actor).list(cursor=cursor, limit=limit)
    items = [FamilyRead.model_validate(view.as_dict()) for view in views]
    return FamilyPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{family_id}", name="get", response_model=FamilyRead, responses=problems(404, etag_on=(200,))
)
async def get_family(
    family_id: uuid.UUID, response: Response, session: SessionDep, actor: CurrentActor
) -> FamilyRead:
    return _family(await FamilyService(session, actor).get(family_id), response)


@router.patch(
    "/{family_id}",
    name="update",
    response_model=FamilyRead,
    responses=problems(400, 403, 404, etag_on=(200,), rules=("version_mismatch",)),
)
async def update_family(
    family_id: uuid.UUID,
    changes: FamilyUpdate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    if_match: IfMatch = None,
) -> FamilyRead:
    """Rename or move the family to another timezone (admins). Send the version you read
    as `If-Match: "3"` (or `version` in the body) to get `412` instead of a lost update."""
    view = await FamilyService(session, actor).update(
        family_id, changes, if_match=parse_if_match(if_match)
    )
    return _family(view, response)


@router.delete(
    "/{family_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404),
)
async def delete_family(family_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> None:
    """Delete the family and everything in it (owners)."""
    await FamilyService(session, actor).delete(family_id)


@members_router.get(
    "", name="list", response_model=MemberPage, responses=problems(404, rules=("invalid_cursor",))
)
async def list_members(
    family_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> MemberPage:
    members, next_cursor = await MemberService(session, actor).list(
        family_id, cursor=cursor, limit=limit
    )
    return MemberPage(
        items=[MemberRead.model_validate(member) for member in members], next_cursor=next_cursor
    )


@members_router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberRead,
    responses={
        200: {"description": "Retried create: the existing profile", "model": MemberRead},
        **problems(403, 404, 409),
    },
)
async def create_member(
    family_id: uuid.UUID,
    data: MemberCreate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    quotas: QuotasDep,
) -> object:
    """Create a managed profile: a family member without a login, like a young child (admins).
    `409 managed_profile_quota_reached` at `MAX_MANAGED_PROFILES_PER_FAMILY` (default 20)."""
    member, created = await MemberService(session, actor, quotas=quotas).create_managed(
        family_id, data
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return member


@members_router.patch(
    "/{member_id}",
    name="update",
    response_model=MemberRead,
    responses=problems(403, 404, 409, rules=("managed_profile_role",)),
)
async def update_member(
    family_id: uuid.UUID,
    member_id: uuid.UUID,
    changes: MemberUpdate,
    session: SessionDep,
    actor: CurrentActor,
) -> object:
    """Change a member's role or name (admins). Only owners grant or remove `owner`;
    `409 last_owner` when that would leave the family without one."""
    return await MemberService(session, actor).update(family_id, member_id, changes)


@members_router.delete(
    "/{member_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404, 409),
)
async def delete_member(
    family_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> None:
    """Remove a member (admins), or leave the family (your own member id).

    An admin removing a member deletes the member with their habits, routines and check-ins.
    Leaving keeps them when your login was bound to a managed profile (you accepted an
    invitation for that profile, e.g. a child who got their own account): the profile turns
    back into a managed one (`user_id` null, role `member`) with all its history, and only
    your login leaves. `409 last_owner` when you are the family's only owner."""
    await MemberService(session, actor).remove(family_id, member_id)
