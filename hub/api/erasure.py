"""`POST /v1/cases/{reference}/erasure`: a retailer asks the hub to erase its customer's
personal data from a case (GDPR); `GET` the same path says whether it was, when and at
whose request.

The work is hub.retailers.erasure's; the answer is the record of the erasure, the same
however often it is asked.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Caller, DatabaseDep
from hub.api.cases import Reference
from hub.api.models import Instant
from hub.errors import NotFoundError
from hub.retailers.cases import case_of
from hub.retailers.erasure import ErasureResult, erase_case, erasure_status

router = APIRouter(tags=["cases"])


class ErasureView(BaseModel):
    """The erasure of a case's personal data."""

    reference: str = Field(description="The case reference.")
    requested_at: Instant = Field(description="When the erasure was first asked.")
    requested_by: str = Field(description="Who asked it: retailer:<id>, an operator, retention.")
    completed_at: Instant | None = Field(
        description="When it was complete: the customer's name, phone, email and address "
        "are gone from the case, its events, messages not sent yet and the raw archive."
    )

    @classmethod
    def of(cls, result: ErasureResult) -> ErasureView:
        return cls(
            reference=result.reference,
            requested_at=result.requested_at,
            requested_by=result.requested_by,
            completed_at=result.completed_at,
        )


@router.post(
    "/cases/{reference}/erasure",
    operation_id="eraseCasePersonalData",
    summary="Erase the customer's personal data from one of your cases",
)
def erase(reference: Reference, caller: Caller, db: DatabaseDep) -> ErasureView:
    """The case's facts (statuses, dates, product, partners' references) stay; the
    customer's name reads `[erased]`. Idempotent: asking again answers the same record."""
    with db.reading() as connection:
        record = case_of(connection, caller, reference)
    return ErasureView.of(erase_case(db, record.case.reference, by=f"retailer:{caller.id}"))


@router.get(
    "/cases/{reference}/erasure",
    operation_id="getCaseErasure",
    summary="Whether one of your cases' personal data was erased",
)
def read_erasure(reference: Reference, caller: Caller, db: DatabaseDep) -> ErasureView:
    with db.reading() as connection:
        record = case_of(connection, caller, reference)
    result = erasure_status(db, record.case.reference)
    if result is None:
        raise NotFoundError(f"the personal data of case {reference} was not erased")
    return ErasureView.of(result)
