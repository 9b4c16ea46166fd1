"""What a mapping says of the partner's EDIFACT interchanges: the ``edifact`` codec's
settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EdifactCodecSpec", "SyntaxIdentifier", "UciParties"]

UciParties = Literal["acknowledged", "swapped"]
"""The order of the parties in a CONTRL's UCI segment (``EdifactCodecSpec``)."""

SyntaxIdentifier = Literal[
    "UNOA", "UNOB", "UNOC", "UNOD", "UNOE", "UNOF", "UNOG", "UNOH", "UNOI", "UNOJ", "UNOK", "UNOW"
]


class EdifactCodecSpec(BaseModel):
    """Which segment group makes a record and where its fields sit, by segment paths."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="edifact codec")

    record: str = Field(
        pattern=r"^[A-Z][A-Z0-9]{2}$",
        description="Tag of the segment that leads each record's group within each "
        "UNH..UNT message, e.g. CNI (one consignment per record).",
    )
    fields: dict[str, str] = Field(
        description="Field name -> segment path read in the record's group, e.g. "
        "'STS+1/2/1', 'DTM[334]/1/2', 'LOC[175]/2/4'; UNH/UNT paths read the record's "
        "message, UNB/UNZ paths the interchange, '../TAG...' the message's segments "
        "before its first group (e.g. ../BGM/2)."
    )
    document_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> segment path read once in the whole interchange, "
        "e.g. UNB/2/1 (sender), UNB/5 (control reference); copied to every record.",
    )
    encoding: SyntaxIdentifier | None = Field(
        default=None,
        description="Syntax identifier the partner must declare in UNB (UNOC is ISO "
        "8859-1); the text is decoded strictly with it. None: trust the UNB.",
    )
    max_bytes: int = Field(default=10_000_000, ge=1, description="Larger files are refused.")
    contrl_uci_parties: UciParties = Field(
        default="acknowledged",
        description="Who the CONTRL's UCI names: 'acknowledged', the sender then the "
        "recipient of the interchange acknowledged (ISO 9735); 'swapped', the CONTRL's "
        "own sender (the hub) first, as some partners' specifications show.",
    )
