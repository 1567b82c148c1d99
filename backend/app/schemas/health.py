"""The HTTP shapes of the liveness and readiness answers."""

from typing import Any, Literal

from pydantic import BaseModel


class HealthRead(BaseModel):
    status: Literal["ok"]


class ReadinessRead(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    pool: dict[str, Any]
