"""Liveness and readiness, without auth."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.errors import problem_response
from app.db.database import Database
from app.db.diagnostics import describe_connection_error
from app.schemas.health import HealthRead, ReadinessRead
from app.schemas.problem import problem_responses

logger = logging.getLogger(__name__)

# Public: no token, which the document states with an empty security requirement.
router = APIRouter(tags=["health"])
PUBLIC: dict[str, Any] = {"security": []}


@router.get("/health", name="live", response_model=HealthRead, openapi_extra=PUBLIC)
async def live() -> dict[str, str]:
    """The process is alive. Never touches the database."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    name="ready",
    response_model=ReadinessRead,
    responses=problem_responses(503),
    openapi_extra=PUBLIC,
)
async def ready(request: Request) -> Any:
    """The database answers within `HEALTH_TIMEOUT_SECONDS`; also reports the pool. When it
    does not, the answer says only "database unavailable"; the reason is logged."""
    database: Database = request.app.state.database
    try:
        await database.ping(database.settings.health_timeout_seconds)
    except Exception as error:  # any failure means "not ready"
        # The reason names the database's user, host, port and name: for the operator's log,
        # not for whoever can reach this unauthenticated route.
        logger.warning("not ready: %s", describe_connection_error(error, database.url))
        return problem_response(
            503,
            "database_unavailable",
            "database unavailable",
            headers={"Retry-After": "1"},
            database="unreachable",
            pool=database.pool_status(),
        )
    return JSONResponse({"status": "ok", "database": "ok", "pool": database.pool_status()})
