"""The today board (the caller, across families) and a family's board."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import TransactionDep
from app.api.driver_route import driver_route
from app.schemas.board import FamilyBoard, TodayBoard
from app.schemas.habit import AppDate
from app.schemas.problem import problems
from app.services.boards import BoardService

router = APIRouter(tags=["boards"])

BoardDate = Annotated[
    AppDate | None,
    Query(alias="date", description="Local date; default: today where the board's people live."),
]


@driver_route(
    router,
    "/v1/me/today",
    method="GET",
    name="today",
    response_model=TodayBoard,
    responses=problems(),
)
async def today_board(transaction: TransactionDep, day: BoardDate = None) -> object:
    """Every habit assigned to you that is due on the date, across your families, with its
    status, value, target and streak; and your routines with done/total counts."""
    return await BoardService(transaction.sql, transaction.actor).today(day)


@driver_route(
    router,
    "/v1/families/{family_id}/board",
    method="GET",
    name="family",
    response_model=FamilyBoard,
    responses=problems(404),
)
async def family_board(
    family_id: uuid.UUID, transaction: TransactionDep, day: BoardDate = None
) -> object:
    """Every member's progress on the family's local date."""
    return await BoardService(transaction.sql, transaction.actor).family(family_id, day)
