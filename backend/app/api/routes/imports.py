"""Bringing a family's history in (a Loop Habit Tracker backup) and taking it out (a zip of
CSV files)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentActor, SessionDep
from app.schemas.imports import LoopImportResult, SkippedItem
from app.schemas.problem import problems
from app.services.family_export import load_family_data, zip_stream
from app.services.loop_import import LoopImportService

router = APIRouter(prefix="/v1/families/{family_id}", tags=["imports"])

# The suffix BodySizeLimit gives the upload limit of LOOP_IMPORT_MAX_BYTES.
LOOP_IMPORT_PATH_SUFFIX = "/imports/loop"


@router.post(
    LOOP_IMPORT_PATH_SUFFIX,
    name="import_loop",
    status_code=status.HTTP_201_CREATED,
    response_model=LoopImportResult,
    responses=problems(
        403,
        404,
        413,
        ok={200: {"description": "This file was imported before: nothing created"}},
        rules=("not_a_loop_backup",),
    ),
)
async def import_loop_backup(
    family_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A Loop Habit Tracker backup (.db).")],
    member_id: Annotated[uuid.UUID, Form(description="The member the habits are for.")],
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
) -> LoopImportResult:
    """Import a Loop Habit Tracker backup as a member's habits with their whole history (the
    check-in backfill window does not apply): admins for any member, members for
    themselves. All or nothing; the same file again creates nothing (`200`). A file that is
    not a readable Loop backup is `422 not_a_loop_backup`; one over the upload limit `413`."""
    data = await file.read()
    summary = await LoopImportService(session, actor).import_backup(family_id, member_id, data)
    if not summary.created:
        response.status_code = status.HTTP_200_OK
    return LoopImportResult(
        habits_created=summary.habits_created,
        checkins_created=summary.checkins_created,
        skipped=[SkippedItem(**item) for item in summary.skipped],
    )


@router.get(
    "/export",
    name="export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A zip of habits.csv, habit_versions.csv, checkins.csv and"
            " routines.csv (columns: docs/export.md)",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems(404),
    },
)
async def export_family(
    family_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> StreamingResponse:
    """Everything of the family as CSV files in a zip, streamed: admins get the whole family,
    a member what is assigned to them. The columns follow Loop Habit Tracker's CSV export."""
    data = await load_family_data(session, actor, family_id)
    filename = f"loopin-export-{data.today.isoformat()}.zip"
    return StreamingResponse(
        zip_stream(data),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
