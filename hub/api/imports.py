"""The CSV case import route: a file in, every row's outcome out (hub.retailers.case_import)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from hub.api.auth import Caller, DatabaseDep
from hub.api.models import ImportResult
from hub.retailers.case_import import import_cases_csv

router = APIRouter(tags=["cases"])


@router.post(
    "/cases/import",
    operation_id="importCases",
    summary="Import cases from a CSV file (UTF-8, comma, header)",
)
def import_cases(
    caller: Caller,
    db: DatabaseDep,
    request: Request,
    file: Annotated[UploadFile, File(description="The CSV file, as multipart form data.")],
) -> ImportResult:
    """Each row is created, unchanged (same case already open) or rejected with its reason."""
    # A plain function: FastAPI runs it in its thread pool, off the event loop, and the
    # import commits chunk by chunk, so other requests are answered while it runs.
    content = file.file.read()
    report = import_cases_csv(
        db,
        caller,
        content,
        name=file.filename or "upload.csv",
        on_stored=request.app.state.on_stored,
        route_check=request.app.state.route_check,
    )
    return ImportResult.of(report)
