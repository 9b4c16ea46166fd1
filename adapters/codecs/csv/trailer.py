"""A CSV file's trailer line and the file controls it vouches for.

Exports from ERPs often end with a line that is not a data row (``FIN;12;3398.00``: how
many rows, their total). The mapping names its first cell and its cells; the reader
hands it over as a :class:`CsvTrailerRecord`, never as a data row, and
:func:`controlled_rows` runs the controls every file codec shares
(:mod:`adapters.codecs.controls`) over the whole file before any row goes out: a file
that fails them is refused whole, while a single bad row is still rejected alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from adapters.codecs.controls import FileControlError, FileControls, TypedLine, check_controls
from hub.errors import Location
from hub.ports import DecodeResult, Record

__all__ = ["ROW", "TRAILER", "CsvTrailer", "CsvTrailerRecord", "controlled_rows"]

ROW = "row"
"""The record type of a data row, as the controls name it (``counts: [row]``)."""
TRAILER = "trailer"
"""The record type of the trailer line (``record: trailer``)."""


class CsvTrailer(BaseModel):
    """The partner's trailer line: told apart from data rows by its first cell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_cell: str = Field(
        min_length=1, description="The trailer's first cell, exactly (e.g. FIN, TOTAL)."
    )
    columns: list[str] = Field(
        min_length=1,
        description="A name for each of its cells, the first included, e.g. "
        "[marker, rows, total]; each is also given to every row as trailer.<name>.",
    )


@dataclass(frozen=True)
class CsvTrailerRecord(Record):
    """The trailer line as the reader found it (``fields`` by the trailer's columns)."""

    cells: int = 0
    """How many cells the line had, to refuse one that does not match the columns."""


def controlled_rows(
    results: Iterable[DecodeResult],
    trailer: CsvTrailer | None,
    controls: FileControls,
    *,
    source: str,
) -> Iterator[DecodeResult]:
    """The file's rows once the controls have passed, each with the trailer's values;
    raises FileControlError (the file refused whole) for the first that fails.

    Reads the whole file first: a control vouches for every row, so none may be stored
    before it is checked. Only a mapping with a trailer or controls pays for it.
    """
    rows: list[DecodeResult] = []
    typed: list[TypedLine] = []
    found: CsvTrailerRecord | None = None
    for result in results:
        if isinstance(result, CsvTrailerRecord):
            if found is not None:
                raise FileControlError(
                    f"a second trailer line (the first is line {found.line}): refused",
                    location=Location(source, result.line),
                )
            found = result
            typed.append(TypedLine(TRAILER, "trailer", result.line, result.fields))
            continue
        if found is not None:
            raise FileControlError(
                f"a row after the trailer (line {found.line}): the file is refused",
                location=Location(source, _line_of(result)),
            )
        rows.append(result)
        fields = result.fields if isinstance(result, Record) else None
        typed.append(TypedLine(ROW, "detail", _line_of(result), fields))
    if found is not None and trailer is not None and found.cells != len(trailer.columns):
        raise FileControlError(
            f"the trailer has {found.cells} cells, the mapping names {len(trailer.columns)} "
            f"({', '.join(trailer.columns)}): refused",
            location=Location(source, found.line),
        )
    outcome = check_controls(controls, typed, source=source)
    shared = {} if found is None else {f"{TRAILER}.{k}": v for k, v in found.fields.items()}
    for result in rows:
        if shared and isinstance(result, Record):
            yield Record(result.line, {**result.fields, **shared}, result.raw)
        else:
            yield result
    yield from outcome.flags


def _line_of(result: DecodeResult) -> int:
    if isinstance(result, Record):
        return result.line
    return result.location.line or 0
