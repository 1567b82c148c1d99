"""Invitations into a family, and accepting one."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, QuotasDep, SessionDep
from app.api.params import DEFAULT_LIMIT, Cursor, Limit
from app.schemas.family import FamilyRead, MemberRead
from app.schemas.invitation import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationPage,
    InvitationRead,
)
from app.schemas.problem import problems
from app.services.invitations import InvitationService

router = APIRouter(prefix="/v1/families/{family_id}/invitations", tags=["invitations"])
accept_router = APIRouter(prefix="/v1/invitations", tags=["invitations"])


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    responses={
        200: {
            "description": "Retried create: the invitation, without its token",
            "model": InvitationCreated,
        },
        **problems(403, 404, 409),
    },
)
async def create_invitation(
    family_id: uuid.UUID,
    data: InvitationCreate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    quotas: QuotasDep,
) -> InvitationCreated:
    """Invite someone (admins). The `token` is in this response only; share it as a link.
    `409 invitation_quota_reached` when the family has `MAX_PENDING_INVITATIONS_PER_FAMILY`
    pending invitations (default 50): revoke some first."""
    invitation, token = await InvitationService(session, actor, quotas=quotas).create(
        family_id, data
    )
    if token is None:
        response.status_code = status.HTTP_200_OK
    read = InvitationRead.model_validate(invitation)
    return InvitationCreated(**read.model_dump(), token=token)


@router.get(
    "",
    name="list",
    response_model=InvitationPage,
    responses=problems(403, 404, rules=("invalid_cursor",)),
)
async def list_invitations(
    family_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> InvitationPage:
    """Pending invitations (admins); tokens are never shown again."""
    invitations, next_cursor = await InvitationService(session, actor).list_pending(
        family_id, cursor=cursor, limit=limit
    )
    return InvitationPage(
        items=[InvitationRead.model_validate(i) for i in invitations], next_cursor=next_cursor
    )


@router.delete(
    "/{invitation_id}",
    name="revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, 404),
)
async def revoke_invitation(
    family_id: uuid.UUID, invitation_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> None:
    await InvitationService(session, actor).revoke(family_id, invitation_id)


@accept_router.post(
    "/accept",
    name="accept",
    response_model=InvitationAccepted,
    responses=problems(
        403, 404, 409, rules=("invitation_expired", "invitation_revoked", "invitation_used")
    ),
)
async def accept_invitation(
    data: InvitationAccept, session: SessionDep, actor: CurrentActor, quotas: QuotasDep
) -> InvitationAccepted:
    """Join the family. Already a member: the same membership, no use consumed.
    `409 family_quota_reached` when you already belong to `MAX_FAMILIES_PER_USER` families."""
    view, membership = await InvitationService(session, actor, quotas=quotas).accept(data.token)
    return InvitationAccepted(
        family=FamilyRead.model_validate(view.as_dict()),
        membership=MemberRead.model_validate(membership),
    )
