"""Bodies of the import and export routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SkippedItem(BaseModel):
    what: str = Field(description="What was left out or changed, e.g. a habit's reminder.")
    why: str = Field(description="Why, and what was imported instead if anything.")


class LoopImportResult(BaseModel):
    habits_created: int
    checkins_created: int
    skipped: list[SkippedItem] = Field(
        description="What the backup holds that Loopin did not take as it is."
    )
