"""The caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, SessionDep
from app.schemas.problem import problems
from app.schemas.user import UserRead, UserUpdate
from app.services.users import UserService

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get("", name="get", response_model=UserRead, responses=problems())
async def get_me(session: SessionDep, actor: CurrentActor) -> object:
    """Your profile, created from the access token on first call."""
    return await UserService(session, actor).provision()


@router.patch("", name="update", response_model=UserRead, responses=problems())
async def update_me(changes: UserUpdate, session: SessionDep, actor: CurrentActor) -> object:
    return await UserService(session, actor).update(changes)


@router.delete(
    "",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(409),
)
async def delete_me(session: SessionDep, actor: CurrentActor) -> None:
    """Delete your data: profile, memberships, and families where you are the only member.
    `409 sole_owner` while you are the only owner of a family that has other members.

    A membership bound to a managed profile (you accepted an invitation for that profile)
    is not deleted: the profile turns back into a managed one (`user_id` null, role
    `member`) and keeps its habits and check-ins for the family."""
    await UserService(session, actor).delete()
