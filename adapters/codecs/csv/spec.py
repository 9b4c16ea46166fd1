"""What a mapping says of the partner's CSV files: the ``csv`` codec's settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.codecs.controls import FileControls
from adapters.codecs.csv.dialect import AUTO_LATIN1_UTF8
from adapters.codecs.csv.trailer import ROW, TRAILER, CsvTrailer
from adapters.codecs.text import checked_encoding

__all__ = ["CsvCodecSpec"]


class CsvCodecSpec(BaseModel):
    """How the partner writes its CSV files."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="csv codec")

    encoding: str = Field(
        description="Any text encoding Python knows (utf-8, utf-8-sig, latin-1, cp1252, "
        "iso-8859-15, utf-16, ...), read strictly: a byte it does not define rejects its row. "
        "auto-latin1-utf8: Latin-1, but a BOM or valid UTF-8 switches to UTF-8.",
        examples=["utf-8", "cp1252", "auto-latin1-utf8"],
    )
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    quotechar: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    line_terminator: Literal["\r\n", "\n"] = Field(
        default="\r\n", description="Used when the hub writes; both are accepted on read."
    )
    formula_guard: bool = Field(
        default=True,
        description="When the hub writes: a cell starting with =, +, -, @, tab or CR (a "
        "spreadsheet formula) gets a leading ' so that a spreadsheet shows it as text; plain "
        "numbers such as -12.50 are left alone. Off only for a partner whose software needs "
        "every value raw and never opens the file in a spreadsheet.",
    )
    unguarded_columns: list[str] = Field(
        default_factory=list,
        description="Columns the hub writes raw even with formula_guard on, for values the "
        "partner needs exactly as rendered (e.g. codes starting with -). Outbound only.",
    )

    trailer: CsvTrailer | None = Field(
        default=None,
        description="Reading: the file's last line is a trailer, not a data row (told "
        "apart by its first cell); its cells are given to every row as trailer.<name>.",
    )
    controls: FileControls = Field(
        default_factory=FileControls,
        description="Reading: file controls on the record types row (each data row) and "
        "trailer; a failed control refuses the whole file with the reason.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, name: str) -> str:
        if name != AUTO_LATIN1_UTF8:
            checked_encoding(name)  # ValueError names the typo when the mapping is loaded
        return name

    @model_validator(mode="after")
    def _controls_coherent(self) -> CsvCodecSpec:
        if self.controls.header == "required":
            raise ValueError("controls.header: a CSV file's column header is always required")
        known = {ROW, TRAILER} if self.trailer is not None else {ROW}
        unknown = sorted(self.controls.record_types() - known)
        if unknown or (self.controls.trailer == "required" and self.trailer is None):
            raise ValueError(
                "controls name record types this CSV file does not have: "
                + ", ".join(unknown or [TRAILER])
                + f" (it has {', '.join(sorted(known))}; a trailer needs `trailer:`)"
            )
        return self

    @model_validator(mode="after")
    def _guard_coherent(self) -> CsvCodecSpec:
        if self.unguarded_columns and not self.formula_guard:
            raise ValueError("unguarded_columns needs formula_guard on (off writes all raw)")
        return self
