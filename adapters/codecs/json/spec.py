"""What a mapping says of the partner's JSON documents: the ``json`` codec's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JsonCodecSpec"]


class JsonCodecSpec(BaseModel):
    """Where records and their fields sit in the partner's JSON documents."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="json codec")

    record: str = Field(
        default="$",
        description="Path to the records: '$' (the document is one record) or e.g. '$.events[*]'.",
    )
    fields: dict[str, str] = Field(
        description="Field name -> path relative to the record, e.g. $.code, $.location.city."
    )
    document_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> path from the document root, copied to every record "
        "(e.g. $.tracking_number for the events of one parcel).",
    )
    max_bytes: int = Field(default=10_000_000, ge=1)
