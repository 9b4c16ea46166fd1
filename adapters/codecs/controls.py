"""File-level controls any file codec can run: header and trailer presence, a trailer's
record count and control totals, sequence numbers.

A partner's trailer vouches for the whole file, so a failed control means the file is
corrupt or cut short: :class:`FileControlError` refuses it whole (nothing of it stored,
the reason shown to the operator with the archived file). A sequence gap is only
flagged: the file itself is sound, but one before it was lost at the partner's end.

Codecs do no I/O: a codec hands the lines it read, each with its record type, to
:func:`check_controls` before yielding any record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.codecs.errors import DocumentError
from hub.errors import Location, PartnerDataError

__all__ = [
    "CountControl",
    "FileControlError",
    "FileControls",
    "SequenceControl",
    "SequenceGap",
    "TotalControl",
    "TypedLine",
    "check_controls",
]

Presence = Literal["required", "optional"]


class CountControl(BaseModel):
    """A field of one record giving how many records of some types the file holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: str = Field(description="Record type holding the count, e.g. trailer.")
    field: str = Field(description="Its field with the count, e.g. nb_lines.")
    counts: list[str] = Field(min_length=1, description="Record types counted, e.g. [detail].")


class TotalControl(BaseModel):
    """A field of one record giving the sum of values of other records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: str = Field(description="Record type holding the total, e.g. trailer.")
    field: str = Field(description="Its field with the total, e.g. total_amount.")
    sums: list[str] = Field(
        min_length=1,
        description="Terms added up: 'type.field' (every such record's value) or "
        "'type.field * type.field' (their product, on each record of that type), e.g. "
        "[status.amount, part.quantity * part.unit_price].",
    )

    @field_validator("sums")
    @classmethod
    def _terms(cls, sums: list[str]) -> list[str]:
        for term in sums:
            _term(term)
        return sums


class SequenceControl(BaseModel):
    """A sequence number the partner increments: a gap means something was lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: str = Field(description="Record type holding the number, e.g. header.")
    field: str = Field(description="Its field with the number, e.g. seq.")
    gaps: Literal["flag"] = Field(
        default="flag", description="A gap is flagged to the operator; the file still goes in."
    )


class FileControls(BaseModel):
    """The controls a partner's files must pass; every one is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: Presence = Field(default="optional", description="required: a header record first.")
    trailer: Presence = Field(default="optional", description="required: a trailer record last.")
    count: CountControl | None = None
    totals: list[TotalControl] = Field(default_factory=list)
    sequence: SequenceControl | None = None

    def record_types(self) -> set[str]:
        """Every record type the controls name, for the codec to check they exist."""
        names: set[str] = set()
        if self.count is not None:
            names |= {self.count.record, *self.count.counts}
        for total in self.totals:
            names.add(total.record)
            names |= {kind for term in total.sums for kind, _ in _term(term)}
        if self.sequence is not None:
            names.add(self.sequence.record)
        return names


@dataclass(frozen=True)
class TypedLine:
    """One line of a file as the controls see it: its record type, role and fields.

    ``fields`` are read even from a line rejected for a bad value elsewhere (a bad date
    does not stop it counting); None when the line could not be read at all.
    """

    kind: str
    role: str
    line: int
    fields: Mapping[str, str | None] | None


class FileControlError(DocumentError):
    """A control failed: the file is refused whole, with the reason."""


class SequenceGap(PartnerDataError):
    """A sequence number skipped: flagged to the operator, the record still goes in."""


@dataclass
class ControlOutcome:
    """What passing the controls leaves: the file's sequence number, gaps to flag."""

    sequence: str | None = None
    flags: list[PartnerDataError] = field(default_factory=list)


def _term(term: str) -> list[tuple[str, str]]:
    factors = [factor.strip() for factor in term.split("*")]
    parsed: list[tuple[str, str]] = []
    for factor in factors:
        kind, dot, name = factor.partition(".")
        if not dot or not kind or not name:
            raise ValueError(f"total term {term!r}: each factor is 'record_type.field'")
        parsed.append((kind, name))
    if len({kind for kind, _ in parsed}) != 1:
        raise ValueError(f"total term {term!r}: factors must be fields of one record type")
    return parsed


def _number(line: TypedLine, name: str, source: str, why: str) -> Decimal:
    value = None if line.fields is None else line.fields.get(name)
    try:
        return Decimal(value.strip()) if value and value.strip() else Decimal(0)
    except InvalidOperation:
        raise FileControlError(
            f"{why}: field {name!r} of line {line.line} is not a number ({value!r})",
            location=Location(source, line.line, name),
        ) from None


def check_controls(
    controls: FileControls, lines: Sequence[TypedLine], *, source: str
) -> ControlOutcome:
    """Raise FileControlError for the first control the file fails; else what is left."""
    outcome = ControlOutcome()
    where = Location(source)
    if controls.header == "required" and (not lines or lines[0].role != "header"):
        raise FileControlError("the header record is missing: the file is refused", location=where)
    if controls.trailer == "required" and (not lines or lines[-1].role != "trailer"):
        raise FileControlError(
            "the trailer record is missing: the file may be cut short, it is refused",
            location=where,
        )
    by_kind: dict[str, list[TypedLine]] = {}
    for line in lines:
        by_kind.setdefault(line.kind, []).append(line)

    def holder(kind: str, what: str) -> TypedLine:
        found = by_kind.get(kind, [])
        if len(found) != 1:
            raise FileControlError(
                f"{what}: expected one {kind!r} record, found {len(found)}", location=where
            )
        return found[0]

    count = controls.count
    if count is not None:
        line = holder(count.record, "record count")
        declared = _number(line, count.field, source, "record count")
        counted = sum(len(by_kind.get(kind, [])) for kind in count.counts)
        if declared != counted:
            raise FileControlError(
                f"record count: the {count.record} says {declared} "
                f"{'/'.join(count.counts)} records, the file has {counted}: refused",
                location=Location(source, line.line, count.field),
            )
    for total in controls.totals:
        line = holder(total.record, "control total")
        declared = _number(line, total.field, source, "control total")
        actual = Decimal(0)
        for term in total.sums:
            factors = _term(term)
            for item in by_kind.get(factors[0][0], []):
                product = Decimal(1)
                for _, name in factors:
                    product *= _number(item, name, source, "control total")
                actual += product
        if declared != actual:
            raise FileControlError(
                f"control total: the {total.record}'s {total.field} is {declared}, "
                f"the sum of {' + '.join(total.sums)} is {actual}: refused",
                location=Location(source, line.line, total.field),
            )
    sequence = controls.sequence
    if sequence is not None:
        previous: int | None = None
        for line in by_kind.get(sequence.record, []):
            value = None if line.fields is None else line.fields.get(sequence.field)
            outcome.sequence = value
            if value is None or not value.strip().isdigit():
                continue  # a bad number is the record's own reject, not a gap
            number = int(value)
            if previous is not None and number != previous + 1:
                outcome.flags.append(
                    SequenceGap(
                        f"sequence gap: {sequence.field} goes from {previous} to {number}",
                        location=Location(source, line.line, sequence.field),
                    )
                )
            previous = number
    return outcome
