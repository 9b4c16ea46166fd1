"""What a mapping says of the partner's fixed-width files: the ``fixed_width`` codec's
settings. Positions are 1-based and inclusive, as partners' layout sheets give them."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.codecs.controls import FileControls
from adapters.codecs.text import checked_encoding

__all__ = ["FieldSpec", "FixedWidthCodecSpec", "RecordSpec"]

Sign = Literal["leading", "trailing", "none"] | Annotated[int, Field(ge=1)]


class FieldSpec(BaseModel):
    """One field of a record type: where it sits and how its value is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=1, description="First position, 1-based.")
    length: int | None = Field(default=None, ge=1, description="Width; or give end.")
    end: int | None = Field(default=None, ge=1, description="Last position, inclusive.")
    decimals: int = Field(
        default=0, ge=0, le=18, description="Implied decimals: 0001899 with 2 reads 18.99."
    )
    sign: Sign = Field(
        default="none",
        description="leading or trailing: a + or - inside the field; a number: the 1-based "
        "position of the sign character in the line (outside the field); none: unsigned.",
    )
    numeric: bool = Field(
        default=False,
        description="A number (implied when decimals or sign is set): digits only, read "
        "without leading zeros, written right-aligned and zero-padded.",
    )
    strip: bool = Field(default=True, description="Text: spaces around the value removed.")
    pad: Annotated[str, Field(min_length=1, max_length=1)] | None = Field(
        default=None, description="Writing: the fill character (default 0 for numbers, space)."
    )
    align: Literal["left", "right"] | None = Field(
        default=None, description="Writing: default right for numbers, left for text."
    )

    @model_validator(mode="after")
    def _width(self) -> FieldSpec:
        if (self.length is None) == (self.end is None):
            raise ValueError("give either length or end")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @property
    def width(self) -> int:
        return self.length if self.length is not None else (self.end or 0) - self.start + 1

    @property
    def last(self) -> int:
        """The last position, 1-based inclusive."""
        return self.start + self.width - 1

    @property
    def is_number(self) -> bool:
        return self.numeric or self.decimals > 0 or self.sign != "none"


class RecordSpec(BaseModel):
    """One record type: the prefix that picks it, its fields and its role in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = Field(min_length=1, description="Text the line starts with, e.g. 02.")
    role: Literal["header", "detail", "child", "trailer"] = Field(
        default="detail",
        description="header and trailer: once per file, their fields copied into every "
        "record as type.field; detail: a record; child: attached to the record it follows.",
    )
    child_of: str | None = Field(default=None, description="A child's parent record type.")
    fields: dict[str, FieldSpec] = Field(description="Field name -> position.")

    @model_validator(mode="after")
    def _parent(self) -> RecordSpec:
        if (self.role == "child") != (self.child_of is not None):
            raise ValueError("child_of is given for, and only for, role child")
        return self


class FixedWidthCodecSpec(BaseModel):
    """How the partner writes its fixed-width files."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="fixed_width codec")

    encoding: str = Field(
        description="Any text encoding Python knows (cp1252, iso-8859-15, utf-8...), "
        "strict: an undefined byte rejects its line with the byte and its position."
    )
    line_length: int | None = Field(
        default=None, ge=1, description="Shorter lines are padded with spaces; longer refused."
    )
    line_terminator: Literal["\n", "\r\n"] = Field(
        default="\n", description="Used when the hub writes; LF and CRLF are accepted on read."
    )
    records: dict[str, RecordSpec] = Field(min_length=1, description="Record type name -> spec.")
    emit: list[str] | None = Field(
        default=None,
        description="Record types that become records for the mapping (default: every "
        "detail type). A child's fields are attached to its parent as child.field.",
    )
    children: Literal["joined", "numbered"] = Field(
        default="joined",
        description="joined: part.sku holds every child's value, one per line (as XML's "
        "repeated parts); numbered: part.sku.1, part.sku.2...",
    )
    unknown_records: Literal["reject", "skip"] = Field(
        default="reject", description="A line no prefix matches: rejected alone, or skipped."
    )
    controls: FileControls = Field(default_factory=FileControls)

    @field_validator("encoding")
    @classmethod
    def _known(cls, name: str) -> str:
        checked_encoding(name)
        return name

    @model_validator(mode="after")
    def _coherent(self) -> FixedWidthCodecSpec:
        for name, record in self.records.items():
            if record.child_of is not None and record.child_of not in self.records:
                raise ValueError(f"record {name!r}: child_of {record.child_of!r} is not a record")
            for field_name, spec in record.fields.items():
                if self.line_length is not None and spec.last > self.line_length:
                    raise ValueError(f"record {name!r}, field {field_name!r} ends past line_length")
        prefixes = sorted((r.prefix, n) for n, r in self.records.items())
        for (first, a), (second, b) in pairwise(prefixes):
            if second.startswith(first):
                raise ValueError(f"records {a!r} and {b!r}: one prefix starts the other")
        for name in (self.emit or []) + sorted(self.controls.record_types()):
            if name not in self.records:
                raise ValueError(f"{name!r} is not a record type of this file")
        return self

    def emitted(self) -> list[str]:
        """The record types that become records for the mapping."""
        if self.emit is not None:
            return list(self.emit)
        return [name for name, record in self.records.items() if record.role == "detail"]
