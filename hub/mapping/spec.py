"""What a mapping file may say, as pydantic models: the one source of truth.

The loader validates files against these models and `hub schemas export` writes their
JSON Schema to ``schemas/mapping.schema.json``, so an editor and the hub agree on the
language. Version 1 covers delimited and structured records in, events out, and
canonical objects out to partner records.
"""

from __future__ import annotations

import re
import string
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.config.registry import AdapterRef
from hub.model.event import STATUS_SETS, EventType
from hub.ports import AdapterKind

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodecRef(AdapterRef):
    """A message's codec: an installed codec adapter (`type`, optionally its `package`)
    and its options, checked against the codec's own settings model."""

    kind: ClassVar[AdapterKind] = AdapterKind.CODEC


class DateFormat(StrEnum):
    """Ready-made formats besides strptime patterns."""

    ISO8601 = "iso8601"
    ISO_DATE = "iso-date"


class DecimalSeparator(StrEnum):
    POINT = "."
    COMMA = ","


class FieldSpec(_Spec):
    """Where one canonical value comes from in a partner record, and how to read it."""

    column: str | None = Field(default=None, description="The record field to read.")
    columns: list[str] | None = Field(
        default=None, description="Several fields joined by a space (e.g. a date and a time)."
    )
    const: str | None = Field(default=None, description="A constant instead of a field.")
    separator: str = Field(default=" ", description="What joins `columns`.")
    skip_empty: bool = Field(
        default=False,
        description="`columns`: leave out the empty ones (a place, then who signed when "
        "someone did); without it, one empty column gives no value (a date without its time).",
    )
    required: bool = Field(default=False, description="Reject the record when it is empty.")
    format: str | None = Field(
        default=None,
        description="For times and dates: 'iso8601', 'iso-date' or a strptime pattern. A "
        "pattern without an offset is read in the mapping's timezone.",
    )
    decimal: DecimalSeparator | None = Field(
        default=None, description="Decimal separator of amounts."
    )
    strip: bool = Field(default=True, description="Trim surrounding whitespace.")
    normalize_space: bool = Field(
        default=False,
        description="Runs of spaces, tabs and line breaks inside the value become one space "
        "(as XPath's normalize-space(), for any codec: a JSON label wrapped over lines).",
    )
    pattern: str | None = Field(
        default=None,
        description="A regular expression searched in the text: its group (the whole match "
        "when it has none) is the value; text it does not match gives no value. E.g. the "
        "case reference inside a parcel reference that carries a leg suffix.",
    )
    values: dict[str, str] | None = Field(
        default=None,
        description="Partner text to canonical text, for a value that is not a status "
        "(e.g. a reference suffix to a shipment leg); text not listed gives `default`.",
    )
    default: str | None = Field(
        default=None,
        description="The value when the field is empty, the pattern does not match, or the "
        "text is not in `values`.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [s for s in (self.column, self.columns, self.const) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of column, columns or const")
        if self.const is not None and (
            self.pattern is not None or self.values is not None or self.default is not None
        ):
            raise ValueError("a const takes no pattern, values or default")
        if self.pattern is not None:
            try:
                groups = re.compile(self.pattern).groups
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a regular expression: {exc}"
                ) from exc
            if groups > 1:
                raise ValueError(f"pattern {self.pattern!r} may have one group, it has {groups}")
        return self


class Target(StrEnum):
    """The canonical values an inbound record can fill."""

    CASE_REF = "case_ref"
    PARTNER_REF = "partner_ref"
    PARTNER_EVENT_ID = "partner_event_id"
    OCCURRED_AT = "occurred_at"
    RAW_CODE = "raw_code"
    RAW_LABEL = "raw_label"
    SUBJECT = "subject"
    NOTE = "note"
    REASON = "reason"
    SERIAL_NUMBER = "serial_number"
    QUOTE_AMOUNT = "quote_amount"
    QUOTE_CURRENCY = "quote_currency"
    TRACKING_NUMBER = "tracking_number"
    CARRIER = "carrier"
    CARRIER_NAME = "carrier_name"
    SHIPMENT_LEG = "shipment_leg"
    PARTS_ORDER_ID = "parts_order_id"
    PART_LINE = "part_line"
    PART_SKU = "part_sku"
    PART_QUANTITY = "part_quantity"
    ETA = "eta"
    VISIT_DATE = "visit_date"
    VISIT_SLOT = "visit_slot"
    VISIT_TECHNICIAN = "visit_technician"
    LOCATION_ID = "location_id"
    LOCATION_NAME = "location_name"
    LOCATION_POSTCODE = "location_postcode"
    LOCATION_CITY = "location_city"
    LOCATION_COUNTRY = "location_country"
    SIGNED_BY = "signed_by"
    TIME_ZONE = "time_zone"


class SequenceSpec(_Spec):
    """A number the partner puts on each file, +1 per file: the hub keeps the last one
    per connector, so a gap between two files (one lost at the partner's end), a file
    sent again or an older one is told to the operator. The file itself still goes in."""

    field: str | None = Field(
        default=None,
        description="The codec's document field holding the number, e.g. header.seq "
        "(a fixed-width header's field); or give name_pattern.",
    )
    date_field: str | None = Field(
        default=None, description="The document field with the file's date, e.g. header.file_date."
    )
    name_pattern: str | None = Field(
        default=None,
        description="A regular expression on the file name with a group named seq (and "
        "one named date), for any codec: e.g. '_(?P<date>\\d{8})_(?P<seq>\\d{4})\\.txt$'.",
    )
    date_format: str = Field(default="%Y%m%d", description="strptime format of the date.")
    restart: Literal["never", "yearly", "monthly", "daily"] = Field(
        default="never",
        description="When the partner starts again at start (by the file's date): yearly "
        "means the first file dated in a new year may carry start without a gap.",
    )
    start: int = Field(default=1, ge=0, description="The first number of a series.")

    @model_validator(mode="after")
    def _one_source(self) -> SequenceSpec:
        if (self.field is None) == (self.name_pattern is None):
            raise ValueError("give either field (a document field) or name_pattern")
        if self.name_pattern is not None:
            try:
                groups = re.compile(self.name_pattern).groupindex
            except re.error as exc:
                raise ValueError(f"name_pattern is not a regular expression: {exc}") from None
            if "seq" not in groups:
                raise ValueError("name_pattern needs a group named seq: (?P<seq>...)")
            if self.date_field is not None:
                raise ValueError("with name_pattern, the date is its group named date")
        has_date = self.date_field is not None or (
            self.name_pattern is not None and "date" in re.compile(self.name_pattern).groupindex
        )
        if self.restart != "never" and not has_date:
            raise ValueError(f"restart: {self.restart} needs the file's date (date_field)")
        return self


class ErrorAnswerSpec(_Spec):
    """What the partner's error answer looks like ("no shipment found", an error object,
    a SOAP Fault): a document that is one is rejected whole, quoting the partner's code
    and message, instead of giving no event and no reject. Read from the codec's
    ``document_fields``, so any codec that has them can say it."""

    when: str = Field(
        description="The document field that tells an error answer: the answer is one when "
        "it has a value (or one of `values`), e.g. error_code read from $.error.code."
    )
    values: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Only these values of `when` mean an error (* and ? as in codes, e.g. "
        "[NOT_FOUND, 'E*']); default: any value. For a status such as OK/ERROR.",
    )
    code: str | None = Field(
        default=None, description="The document field with the partner's error code, quoted."
    )
    message: str | None = Field(
        default=None,
        description="The document field with the partner's message, or a template of "
        "document fields, e.g. '{fault_code}: {fault_text}'. Default: the `when` value.",
    )

    def fields_named(self) -> list[str]:
        """Every document field it reads: checked against the codec's when loaded."""
        names = [self.when, *([self.code] if self.code else [])]
        if self.message is not None:
            placeholders = TEMPLATE_FIELD.findall(self.message)
            names.extend(placeholders or [self.message])
        return names


TEMPLATE_FIELD = re.compile(r"{([^{}]+)}")
"""A document field in an error answer's message template: ``{name}`` (dots allowed)."""


class InboundSpec(_Spec):
    """Records of one message kind in, canonical events out."""

    direction: Literal["inbound"]
    description: str | None = None
    codec: CodecRef = Field(description="How the message's bytes become records.")
    file_pattern: str | None = Field(
        default=None, description="Which files carry this message, e.g. STATUTS_*.csv."
    )
    header: list[str] | None = Field(
        default=None,
        description="The header the partner sends; a file whose header differs is rejected "
        "whole, since its columns can no longer be trusted.",
    )
    event_type: EventType
    fields: dict[Target, FieldSpec] = Field(
        description="Canonical value -> where it comes from. occurred_at and raw_code are needed."
    )
    require_any: list[Target] = Field(
        default_factory=list,
        description="At least one of these must be present (e.g. a case reference or a serial).",
    )
    codes: dict[str, str | None] = Field(
        description="Partner code -> canonical status of event_type. One code, one value; "
        "null records a code seen but not mapped yet (its events stay flagged unmapped). A "
        "code with * or ? is a pattern (D* for every code starting with D), tried in order "
        "after the exact codes.",
    )
    identity: list[Target] = Field(
        default_factory=list,
        description="Targets that also tell two facts apart when the partner gives no event "
        "id (e.g. location_city: two scans at the same second in two places are two events).",
    )
    subject_template: str | None = Field(
        default=None,
        description="Builds the subject from other targets, e.g. '{parts_order_id}/{part_line}'.",
    )
    sequence: SequenceSpec | None = Field(
        default=None,
        description="Files numbered +1 each: a gap, a repeat or an older number between "
        "two files is flagged to the operator (the file still goes in).",
    )
    error_answer: ErrorAnswerSpec | None = Field(
        default=None,
        description="What the partner's error answer looks like (by document fields): "
        "such a message is rejected whole with the partner's code and message.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> InboundSpec:
        for needed in (Target.OCCURRED_AT, Target.RAW_CODE):
            if needed not in self.fields:
                raise ValueError(
                    f"fields must say where {needed.value} comes from: add a line "
                    f"`{needed.value}: {{column: <a field of the record>, required: true}}`"
                    + (" with its format" if needed is Target.OCCURRED_AT else "")
                )
        allowed = {status.value for status in STATUS_SETS[self.event_type]}
        unknown = sorted({v for v in self.codes.values() if v is not None and v not in allowed})
        if unknown:
            raise ValueError(
                f"codes map to {', '.join(unknown)}, which are not {self.event_type.value} "
                f"statuses ({', '.join(sorted(allowed))})"
            )
        missing = [t.value for t in (*self.require_any, *self.identity) if t not in self.fields]
        if missing:
            raise ValueError(
                f"require_any or identity names targets with no field: {', '.join(missing)}"
            )
        if self.subject_template:
            names = set(re.findall(r"{(\w+)}", self.subject_template))
            undefined = sorted(n for n in names if n not in {t.value for t in self.fields})
            if undefined:
                raise ValueError(f"subject_template uses undefined targets: {undefined}")
        return self


class ColumnSpec(_Spec):
    """One field of an outbound record: a path into the canonical context and its form."""

    source: str | None = Field(
        default=None,
        alias="from",
        description="Dotted path into the context, e.g. case.product.brand.",
        pattern=r"^[a-z_]+(\.[a-z_0-9]+)*$",
    )
    const: str | None = None
    template: str | None = Field(
        default=None,
        description="Text with {dotted.path} placeholders, e.g. "
        "'{ship_to.name}, {ship_to.address.city}'.",
    )
    format: str | None = Field(
        default=None,
        description="strftime pattern for dates and times, or 'iso8601-utc' (converted to UTC "
        "and written with Z: a local time is never stamped Z).",
    )
    codes: dict[str, str] | None = Field(
        default=None, description="Canonical value -> partner code."
    )
    default: str | None = Field(default=None, description="Written when the value is absent.")
    required: bool = False
    decimal: DecimalSeparator | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        if sum(s is not None for s in (self.source, self.const, self.template)) != 1:
            raise ValueError("give exactly one of from, const or template")
        return self


class RepeatSpec(_Spec):
    """Columns written once per item of a list (order lines): keys ``name.1``, ``name.2``…"""

    over: str = Field(pattern=r"^[a-z_]+(\.[a-z_0-9]+)*$", description="Dotted path to the list.")
    item: str = Field(default="item", description="Name of the current item in the paths.")
    columns: dict[str, ColumnSpec]


class BatchSpec(_Spec):
    """Messages due together to one connector sent as one file, one record each: the way
    to send more than one a second to a partner whose file names are to the second."""

    max_records: int = Field(
        ge=1, le=10_000, description="At most this many records (messages) in one file."
    )


class AnswerTarget(StrEnum):
    """Where a value read from a partner's answer is kept."""

    PARTNER_REF = "partner_ref"
    """The partner's own reference for the case (its order or job number): recorded as
    reported by the partner, shown on the case, and what links the partner's later
    events naming it to the case."""

    TRACKING_NUMBER = "tracking_number"
    """The tracking number of the parcel the message booked (a carrier's pickup):
    recorded as the case's parcel, carried by the connector's partner on the message's
    leg, so the carrier's events naming only the number link to the case at once and a
    later outbound message reads it as ``shipment`` or ``return_shipment``."""


class AnswerSpec(_Spec):
    """What the hub keeps of the partner's answer to a delivered message (the body of a
    2xx, an idempotent replay's included): read by a codec, kept by target."""

    codec: CodecRef = Field(description="How the answer's bytes become one record.")
    keep: dict[AnswerTarget, FieldSpec] = Field(
        min_length=1,
        description="Where each value goes -> which field of the answer holds it, e.g. "
        "partner_ref: {column: order_id, required: true}.",
    )


FILE_NAME_PLACEHOLDERS = frozenset({"now", "id"})
"""What a file name template may use: the time of sending and the outbox message id."""


def _file_name_placeholders(template: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"file_name {template!r}: {exc}") from exc
    return {re.split(r"[.\[]", name)[0] for _, name, _, _ in parsed if name is not None}


class OutboundSpec(_Spec):
    """Canonical objects out, one partner record each."""

    direction: Literal["outbound"]
    description: str | None = None
    codec: CodecRef = Field(description="How records become the message's bytes.")
    file_name: str | None = Field(
        default=None,
        description="Name of the written file. {now:<strftime>} is the time of sending (UTC), "
        "e.g. {now:%Y%m%d_%H%M%S}; {id} is the hub's outbox message id, 8 digits, unique by "
        "construction (in a batch, the first message's). A name that is already taken at "
        "the partner is never overwritten: a name with {now} moves on to the next second, "
        "one without waits for a retry. Default: <message>_{now:%Y%m%d_%H%M%S}.",
    )
    batch: BatchSpec | None = Field(
        default=None,
        description="For a codec that writes several records in one message (CSV): send "
        "the messages due together to the connector as one file "
        "of up to max_records lines, delivered (or retried) together. For a partner whose "
        "sheet allows several records per file; without it, one message is one file.",
    )
    columns: dict[str, ColumnSpec]
    repeat: RepeatSpec | None = Field(
        default=None, description="Columns repeated for each item of a list (XML, JSON only)."
    )
    answer: AnswerSpec | None = Field(
        default=None,
        description="Values kept from the partner's answer (a POST's 201, or the 200 of an "
        "idempotent replay), e.g. the supplier's order id as its reference for the case.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> OutboundSpec:
        if self.file_name is not None:
            unknown = sorted(_file_name_placeholders(self.file_name) - FILE_NAME_PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"file_name uses unknown placeholders {unknown}: only {{now:...}} and {{id}}"
                )
        return self


class MappingSpec(_Spec):
    """A partner's mapping file."""

    version: Literal[1]
    partner: Name
    description: str | None = None
    timezone: str = Field(
        default="UTC", description="IANA zone of the partner's local times (DST applied)."
    )
    ambiguous_times: Literal["earlier", "later", "reject"] = Field(
        default="earlier",
        description="A local time that happens twice (autumn DST change): which one it is.",
    )
    nonexistent_times: Literal["shift_forward", "reject"] = Field(
        default="shift_forward",
        description="A local time skipped by the spring DST change: move it past the gap, "
        "or reject the record.",
    )
    messages: dict[Name, Annotated[InboundSpec | OutboundSpec, Field(discriminator="direction")]]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def inbound(self, name: str) -> InboundSpec:
        spec = self.messages.get(name)
        if not isinstance(spec, InboundSpec):
            raise KeyError(name)
        return spec

    def outbound(self, name: str) -> OutboundSpec:
        spec = self.messages.get(name)
        if not isinstance(spec, OutboundSpec):
            raise KeyError(name)
        return spec
