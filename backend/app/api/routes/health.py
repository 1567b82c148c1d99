"""Liveness and readiness, without auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.database import Database
from app.core.diagnostics import describe_connection_error
from app.core.errors import problem_response
from app.schemas.health import HealthRead, ReadinessRead
from app.schemas.problem import problem_responses

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
    """The database answers within `HEALTH_TIMEOUT_SECONDS`; also reports the pool."""
    database: Database = request.app.state.database
    try:
        await database.ping(database.settings.health_timeout_seconds)
    except Exception as error:  # any failure means "not ready", with the reason in one line
        return problem_response(
            503,
            "database_unavailable",
            describe_connection_error(error, database.url),
            headers={"Retry-After": "1"},
            database="unreachable",
            pool=database.pool_status(),
        )
    return JSONResponse({"status": "ok", "database": "ok", "pool": database.pool_status()})
