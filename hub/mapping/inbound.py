"""Applying an inbound mapping: one partner record in, one canonical event out (or why not).

Pure: no database, no clock except the ``recorded_at`` the caller passes. An unknown
code is not an error: the event keeps the raw code with no status and is flagged.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from hub.errors import Location, PartnerDataError
from hub.mapping.spec import (
    TEMPLATE_FIELD,
    ErrorAnswerSpec,
    FieldSpec,
    InboundSpec,
    MappingSpec,
    Target,
)
from hub.mapping.values import (
    InstantParser,
    ValueProblem,
    Zone,
    instant_parser,
    parse_amount,
    parse_date,
    parse_int,
    parse_zone,
    zone_name,
)
from hub.model.address import Place
from hub.model.event import (
    STATUS_SETS,
    AnyStatus,
    Event,
    EventDetails,
    EventType,
    MappedEvents,
    mapped_details,
)
from hub.model.work import PartsOrderLine, Quote, Shipment, Visit
from hub.ports import Record


class _T:
    """The targets this module reads, as plain class attributes: reading an enum's
    member goes through its metaclass, several times slower, dozens of times a record."""

    CARRIER: Final = Target.CARRIER
    CARRIER_NAME: Final = Target.CARRIER_NAME
    CASE_REF: Final = Target.CASE_REF
    ETA: Final = Target.ETA
    LOCATION_CITY: Final = Target.LOCATION_CITY
    LOCATION_COUNTRY: Final = Target.LOCATION_COUNTRY
    LOCATION_ID: Final = Target.LOCATION_ID
    LOCATION_NAME: Final = Target.LOCATION_NAME
    LOCATION_POSTCODE: Final = Target.LOCATION_POSTCODE
    NOTE: Final = Target.NOTE
    OCCURRED_AT: Final = Target.OCCURRED_AT
    PARTNER_EVENT_ID: Final = Target.PARTNER_EVENT_ID
    PARTNER_REF: Final = Target.PARTNER_REF
    PARTS_ORDER_ID: Final = Target.PARTS_ORDER_ID
    PART_LINE: Final = Target.PART_LINE
    PART_QUANTITY: Final = Target.PART_QUANTITY
    PART_SKU: Final = Target.PART_SKU
    QUOTE_AMOUNT: Final = Target.QUOTE_AMOUNT
    QUOTE_CURRENCY: Final = Target.QUOTE_CURRENCY
    RAW_CODE: Final = Target.RAW_CODE
    RAW_LABEL: Final = Target.RAW_LABEL
    REASON: Final = Target.REASON
    SERIAL_NUMBER: Final = Target.SERIAL_NUMBER
    SHIPMENT_LEG: Final = Target.SHIPMENT_LEG
    SIGNED_BY: Final = Target.SIGNED_BY
    SUBJECT: Final = Target.SUBJECT
    TIME_ZONE: Final = Target.TIME_ZONE
    TRACKING_NUMBER: Final = Target.TRACKING_NUMBER
    VISIT_DATE: Final = Target.VISIT_DATE
    VISIT_SLOT: Final = Target.VISIT_SLOT
    VISIT_TECHNICIAN: Final = Target.VISIT_TECHNICIAN


_DATES = {_T.ETA, _T.VISIT_DATE}
_INTEGERS = {_T.PART_LINE}
_LISTS = {_T.PART_SKU, _T.PART_QUANTITY}
"""Targets a record may repeat (structured codecs join repeated values with a newline)."""


class MissingValue(PartnerDataError):
    """A field the mapping requires is empty."""


class BadValue(PartnerDataError):
    """A field cannot be read as the mapping says (date, amount, number...)."""


class InvalidEvent(PartnerDataError):
    """The values were read but do not make a valid canonical event."""


@dataclass(frozen=True)
class _Reader:
    """One target's extraction and conversion, compiled once per mapping."""

    target: Target
    field_name: str | None
    extract: Callable[[Mapping[str, str | None]], str | None]
    convert: Callable[[str], Any] | None
    """None: the text is the value."""
    required: bool


def field_text(field: FieldSpec) -> Callable[[Mapping[str, str | None]], str | None]:
    """The field's text in a record: read, then narrowed by its pattern and translated by
    its values (what an inbound mapping and an answer's ``keep`` both use)."""
    return _extractor(field)


def _extractor(field: FieldSpec) -> Callable[[Mapping[str, str | None]], str | None]:
    """The field's text: read, then narrowed by its pattern and translated by its values."""
    read = _reader(field)
    if field.pattern is None and field.values is None and field.default is None:
        return read
    pattern = None if field.pattern is None else re.compile(field.pattern)
    table = field.values
    default = field.default

    def refined(fields: Mapping[str, str | None]) -> str | None:
        text = read(fields)
        if text is not None and pattern is not None:
            found = pattern.search(text)
            text = None if found is None else (found.group(1) if pattern.groups else found[0])
        if text is not None and table is not None:
            text = table.get(text)
        return text or default

    return refined


def _reader(field: FieldSpec) -> Callable[[Mapping[str, str | None]], str | None]:
    read = _raw_reader(field)
    if not field.normalize_space:
        return read

    def normalized(fields: Mapping[str, str | None]) -> str | None:
        text = read(fields)
        return None if text is None else " ".join(text.split()) or None

    return normalized


def _raw_reader(field: FieldSpec) -> Callable[[Mapping[str, str | None]], str | None]:
    if field.const is not None:
        constant = field.const
        return lambda _fields: constant
    strip = field.strip
    if field.column is not None:
        column = field.column

        def one(fields: Mapping[str, str | None]) -> str | None:
            raw = fields.get(column)
            if raw is None:
                return None
            return (raw.strip() if strip else raw) or None

        return one
    columns = list(field.columns or [])
    separator, skip_empty = field.separator, field.skip_empty

    def joined(fields: Mapping[str, str | None]) -> str | None:
        parts = []
        for name in columns:
            raw = (fields.get(name) or "").strip()
            if not raw:
                if skip_empty:
                    continue
                return None
            parts.append(raw)
        return separator.join(parts) or None

    return joined


class InboundMapping:
    """A compiled inbound message spec of one partner."""

    def __init__(self, mapping: MappingSpec, message: str) -> None:
        self.partner = mapping.partner
        self.message = message
        self.spec: InboundSpec = mapping.inbound(message)
        self.zone = ZoneInfo(mapping.timezone)
        self.ambiguous = mapping.ambiguous_times
        self.nonexistent = mapping.nonexistent_times
        self.codes = self.spec.codes
        status_set = STATUS_SETS[self.spec.event_type]
        # The spec already checked every code's status against the set of its type.
        self._statuses: dict[str, AnyStatus | None] = {
            code: None if value is None else status_set(value) for code, value in self.codes.items()
        }
        self._patterns = [
            (re.compile(fnmatch.translate(code)), status)
            for code, status in self._statuses.items()
            if "*" in code or "?" in code
        ]
        self._readers = [
            _Reader(
                target,
                _field_name(field),
                _extractor(field),
                self._converter(target, field),
                field.required,
            )
            for target, field in self.spec.fields.items()
        ]
        # A zone given with each event (a checkpoint's local time): occurred_at is read
        # after it, in that zone, falling back to the mapping's when it is empty.
        self._event_zone = _T.TIME_ZONE in self.spec.fields
        self._zoned: dict[str, InstantParser] = {}
        steps = [
            (
                r.target,
                r.field_name,
                r.extract,
                None if self._event_zone and r.target is _T.OCCURRED_AT else r.convert,
                r.required,
                _plain_column(self.spec.fields[r.target]),
                self.spec.fields[r.target].strip,
            )
            for r in self._readers
        ]
        self._texts = tuple(
            (target, column, strip)
            for target, _, _, convert, required, column, strip in steps
            if column is not None and convert is None and not required
        )
        """Targets that are a column's text, maybe empty: read in a loop of their own,
        without a call (most fields of most mappings are; they can reject nothing)."""
        self._stripped_texts = tuple(
            (target, column) for target, column, strip in self._texts if strip
        )
        self._kept_texts = tuple(
            (target, column) for target, column, strip in self._texts if not strip
        )
        """The same, by whether the mapping strips them (a branch less a target)."""
        self._steps = [step for step in steps if (step[0], step[5], step[6]) not in self._texts]
        """The other targets, in the mapping's order: they may reject the record."""
        self._constants: dict[Target, Any] = {}
        """Targets whose value is the same in every record (a ``const``), worked out once."""
        self._required: list[tuple[Target, str, bool]] = []
        """Targets that are a column's text, required."""
        self._converted: list[tuple[Target, str, bool, Callable[[str], Any], bool]] = []
        """Targets that are a column's text, converted (a date, an amount...)."""
        self._extracted: list[
            tuple[Target, Callable[[Mapping[str, str | None]], str | None], Any, bool]
        ] = []
        """The other targets, read by their extractor (columns joined, a pattern...)."""
        for target, _, extract, convert, required, column, strip in self._steps:
            if self.spec.fields[target].const is not None:
                text = extract({})
                if text is None and not required:
                    continue  # never given
                if text is not None:
                    # A const its converter refuses is not kept here: it is read with
                    # the record's other values, so each record's reject says why.
                    with suppress(ValueProblem):
                        self._constants[target] = text if convert is None else convert(text)
                if target in self._constants:
                    continue
            if column is not None and convert is None and required:
                self._required.append((target, column, strip))
            elif column is not None and convert is not None:
                self._converted.append((target, column, strip, convert, required))
            else:
                self._extracted.append((target, extract, convert, required))
        self._event_type = self.spec.event_type
        self._events = MappedEvents(self._event_type, self.partner)
        """The message's events, built with what every one of them shares checked once."""
        self._identity_targets = tuple(self.spec.identity or ())
        fields = self.spec.fields
        self._plain_details = [(t, name) for t, name in _PLAIN_DETAILS.items() if t in fields]
        self._nested_details = any(t in fields for t in _NESTED_DETAILS)
        self._location = tuple((t, part) for t, part in _LOCATION.items() if t in fields)
        self._derived_subject = self.spec.subject_template is not None or (
            self.spec.event_type is EventType.SHIPMENT_STATUS and _T.TRACKING_NUMBER in fields
        )
        self._require_any = frozenset(self.spec.require_any)
        self._require_names = " or ".join(
            _field_name(self.spec.fields[t]) or t.value for t in self.spec.require_any
        )
        self._plan: Callable[[Mapping[str, str | None], datetime], Event | None] = self._first_plan
        """The compiled plan, written at the first record (a mapping loaded only to be
        checked never pays for it); a mapping without one answers None: the general path."""
        self._row_plans: dict[tuple[str, ...], RowPlan | None] = {}

    def row_plan(self, columns: tuple[str, ...]) -> RowPlan | None:
        """The plan for rows of ``columns`` (``hub.mapping.plan.compile_row_plan``),
        written once per columns' order (a partner's header seldom changes)."""
        try:
            return self._row_plans[columns]
        except KeyError:
            from hub.mapping.plan import compile_row_plan  # it reads this module's definitions

            if len(self._row_plans) >= _ROW_PLANS_KEPT:
                self._row_plans.clear()
            plan = self._row_plans[columns] = compile_row_plan(self, columns)
            return plan

    def _first_plan(self, fields: Mapping[str, str | None], recorded_at: datetime) -> Event | None:
        from hub.mapping.plan import compile_plan  # it reads this module's definitions

        self._plan = compile_plan(self) or _no_plan
        return self._plan(fields, recorded_at)

    def _converter(self, target: Target, field: FieldSpec) -> Callable[[str], Any] | None:
        if target is _T.OCCURRED_AT:
            return self._instants(self.zone)
        if target is _T.TIME_ZONE:
            return parse_zone
        if target is _T.QUOTE_AMOUNT:
            separator = field.decimal.value if field.decimal else "."
            return lambda text: parse_amount(text, separator)
        if target in _DATES:
            date_format = field.format
            return lambda text: parse_date(text, date_format)
        if target in _INTEGERS:
            return parse_int
        if target is _T.PART_QUANTITY:
            return lambda text: tuple(parse_int(part.strip()) for part in text.split("\n"))
        if target is _T.PART_SKU:
            return _skus
        return None

    def error_answer(self, document: Mapping[str, str | None]) -> str | None:
        """What the partner's error answer says, quoted, when the document's fields show
        it is one (the mapping's ``error_answer``); None for any other document."""
        spec = self.spec.error_answer
        if spec is None:
            return None
        signal = _squeezed(document.get(spec.when))
        if not signal or not _is_error(spec, signal):
            return None
        code = _squeezed(document.get(spec.code)) if spec.code else None
        message = _error_message(spec, document) or (None if code else signal)
        said = ": ".join(part for part in (code, message) if part)
        if len(said) > _QUOTED_CHARS:
            said = said[: _QUOTED_CHARS - 1] + "…"
        return f"the partner answered an error, not a {self.message} message: {said}"

    def map_record(
        self, record: Record, *, source: str, recorded_at: datetime
    ) -> Event | PartnerDataError:
        """The record's event, or the reason it is rejected (never raised).

        By the mapping's compiled plan (``hub.mapping.plan``) when it can, else by the
        general path, which the plan hands every record it has a doubt about."""
        event = self._plan(record.fields, recorded_at)
        if event is not None:
            return event
        return self.map_record_in_full(record, source=source, recorded_at=recorded_at)

    def map_record_in_full(
        self, record: Record, *, source: str, recorded_at: datetime
    ) -> Event | PartnerDataError:
        """``map_record`` by the general path alone: the definition the plan follows."""
        try:
            values = self._values(record, source)
            return self._event(values, record, source, recorded_at)
        except PartnerDataError as problem:
            return problem

    def _values(self, record: Record, source: str) -> dict[Target, Any]:
        """The record's typed values, or the first problem in the mapping's order.

        Read target by kind, each kind in a loop of its own (no per-target branching);
        a record with a problem is read again in the mapping's order, which finds the
        problem the mapping's order meets first (rejects are rare).
        """
        values = self._constants.copy()
        fields = record.fields
        self._read_texts(fields, values)
        for target, column, strip in self._required:
            raw = fields.get(column)
            text = None if raw is None else (raw.strip() if strip else raw) or None
            if text is None:
                return self._values_in_order(record, source)
            values[target] = text
        try:
            for target, column, strip, convert, required in self._converted:
                raw = fields.get(column)
                text = None if raw is None else (raw.strip() if strip else raw) or None
                if text is not None:
                    values[target] = convert(text)
                elif required:
                    return self._values_in_order(record, source)
            for target, extract, converts, required in self._extracted:
                text = extract(fields)
                if text is not None:
                    values[target] = text if converts is None else converts(text)
                elif required:
                    return self._values_in_order(record, source)
        except ValueProblem:
            return self._values_in_order(record, source)
        return self._checked(values, record, source)

    def _read_texts(self, fields: Mapping[str, str | None], values: dict[Target, Any]) -> None:
        """The plain texts (a column kept as given, stripped or not): none can fail, so
        both readings take them first."""
        for target, name in self._stripped_texts:
            raw = fields.get(name)
            if raw:
                kept = raw.strip()
                if kept:
                    values[target] = kept
        for target, name in self._kept_texts:
            raw = fields.get(name)
            if raw:
                values[target] = raw

    def _values_in_order(self, record: Record, source: str) -> dict[Target, Any]:
        """The record's values read target after target in the mapping's order: the
        first problem met is the one the reject names."""
        values: dict[Target, Any] = {}
        fields = record.fields
        self._read_texts(fields, values)
        for target, field_name, extract, convert, required, column, strip in self._steps:
            if column is not None:  # what _raw_reader's column reader does, inlined
                raw = fields.get(column)
                text = None if raw is None else (raw.strip() if strip else raw) or None
            else:
                text = extract(fields)
            if text is None:
                if required:
                    raise MissingValue(
                        f"{target.value} is required but empty",
                        location=Location(source, record.line, field_name),
                        raw=record.raw,
                    )
                continue
            if convert is None:
                values[target] = text
                continue
            try:
                values[target] = convert(text)
            except ValueProblem as problem:
                raise BadValue(
                    str(problem),
                    location=Location(source, record.line, field_name),
                    raw=record.raw,
                ) from problem
        return self._checked(values, record, source)

    def _checked(self, values: dict[Target, Any], record: Record, source: str) -> dict[Target, Any]:
        """The values once occurred_at is read in the record's zone and the record is
        known to name its case somehow."""
        if self._event_zone and _T.OCCURRED_AT in values:
            self._read_in_event_zone(values, record, source)
        if self._require_any and self._require_any.isdisjoint(values):
            raise MissingValue(
                f"the record needs {self._require_names} to find its case",
                location=Location(source, record.line),
                raw=record.raw,
            )
        return values

    def _by_pattern(self, raw_code: str) -> AnyStatus | None:
        for pattern, status in self._patterns:
            if pattern.match(raw_code):
                return status
        return None

    def _identity(self, values: dict[Target, Any]) -> str | None:
        if not self._identity_targets:
            return None
        return "\x1e".join(str(values.get(target) or "") for target in self._identity_targets)

    def _instants(self, zone: Zone) -> InstantParser:
        occurred_at = self.spec.fields[_T.OCCURRED_AT]
        return instant_parser(
            occurred_at.format or "iso8601",
            zone,
            ambiguous=self.ambiguous,
            nonexistent=self.nonexistent,
        )

    def _read_in_event_zone(self, values: dict[Target, Any], record: Record, source: str) -> None:
        """occurred_at, read in the zone the record gave (or the mapping's)."""
        zone: Zone = values.pop(_T.TIME_ZONE, self.zone)
        key = zone_name(zone)
        parse = self._zoned.get(key)
        if parse is None:
            if len(self._zoned) > _ZONES_KEPT:
                self._zoned.clear()
            parse = self._zoned[key] = self._instants(zone)
        try:
            values[_T.OCCURRED_AT] = parse(values[_T.OCCURRED_AT])
        except ValueProblem as problem:
            field = _field_name(self.spec.fields[_T.OCCURRED_AT])
            raise BadValue(
                str(problem), location=Location(source, record.line, field), raw=record.raw
            ) from problem

    def _event(
        self, values: dict[Target, Any], record: Record, source: str, recorded_at: datetime
    ) -> Event:
        get = values.get
        raw_code: str = values[_T.RAW_CODE]
        status = self._statuses.get(raw_code)
        if status is None and self._patterns and raw_code not in self._statuses:
            status = self._by_pattern(raw_code)
        subject = get(_T.SUBJECT)
        if not subject and self._derived_subject:
            subject = self._subject(values)
        try:
            return self._events.event(
                get(_T.PARTNER_EVENT_ID),
                get(_T.CASE_REF),
                get(_T.PARTNER_REF),
                raw_code,
                status,
                values[_T.OCCURRED_AT],
                recorded_at,
                get(_T.RAW_LABEL),
                subject,
                self._identity(values) if self._identity_targets else None,
                self._details(values, self._event_type, status),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            raise InvalidEvent(
                f"{path}: {first['msg']}", location=Location(source, record.line), raw=record.raw
            ) from exc

    def _details(
        self, values: dict[Target, Any], event_type: EventType, status: AnyStatus | None
    ) -> EventDetails:
        given: dict[str, Any] = {}
        for target, name in self._plain_details:
            if target in values:
                given[name] = values[target]
        if self._nested_details:
            _nested(values, event_type, status, self._location, given)
        return mapped_details(given) if given else _NO_DETAILS

    def _subject(self, values: dict[Target, Any]) -> str | None:
        if self.spec.subject_template:
            available = {t.value: v for t, v in values.items()}
            try:
                return self.spec.subject_template.format(**available)
            except KeyError:
                return None
        tracking = values.get(_T.TRACKING_NUMBER)
        if self.spec.event_type is EventType.SHIPMENT_STATUS and tracking:
            return str(tracking).upper()
        return None


def _no_plan(_fields: Mapping[str, str | None], _recorded_at: datetime) -> Event | None:
    """The plan of a mapping that has none: every record takes the general path."""
    return None


def _squeezed(text: str | None) -> str | None:
    """A document field's text with its whitespace runs made one space, or None."""
    if not text:
        return None
    return " ".join(text.split()) or None


def _is_error(spec: ErrorAnswerSpec, value: str) -> bool:
    if spec.values is None:
        return True
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in spec.values)


def _error_message(spec: ErrorAnswerSpec, document: Mapping[str, str | None]) -> str | None:
    if spec.message is None:
        return None
    if TEMPLATE_FIELD.search(spec.message) is None:
        return _squeezed(document.get(spec.message))
    filled = TEMPLATE_FIELD.sub(lambda found: document.get(found[1]) or "", spec.message)
    return _squeezed(filled)


_QUOTED_CHARS = 300
"""At most this much of the partner's words in a reject's reason (the answer is archived)."""


def _skus(text: str) -> tuple[str, ...]:
    if "\n" not in text:
        return (text.strip(),) if text.strip() else ()
    return tuple(part.strip() for part in text.split("\n") if part.strip())


def _plain_column(field: FieldSpec) -> str | None:
    """The column a field reads as it is (maybe stripped), or None when its extractor
    does more (columns joined, a constant, a pattern, values, a default, spaces)."""
    if (
        field.column is None
        or field.normalize_space
        or field.pattern is not None
        or field.values is not None
        or field.default is not None
    ):
        return None
    return field.column


def _field_name(field: FieldSpec) -> str | None:
    if field.column is not None:
        return field.column
    if field.columns is not None:
        return " + ".join(field.columns)
    return None


RowPlan = Callable[[list[str], datetime], Event | None]
"""A plan reading a record's cells by their places (``hub.mapping.plan.RowPlan``)."""

_ROW_PLANS_KEPT = 16
"""Row plans a mapping keeps, one per order of columns its partner's files had."""

_ZONES_KEPT = 1_000
"""Parsers an inbound mapping keeps, one per zone its partner gave (then it forgets)."""

_PLAIN_DETAILS = {
    _T.PARTS_ORDER_ID: "parts_order_id",
    _T.SERIAL_NUMBER: "serial_number",
    _T.NOTE: "note",
    _T.REASON: "reason",
    _T.ETA: "eta",
    _T.SIGNED_BY: "signed_by",
}
"""Targets copied to the event's details as they are."""

_LOCATION = {
    _T.LOCATION_ID: "id",
    _T.LOCATION_NAME: "name",
    _T.LOCATION_POSTCODE: "postcode",
    _T.LOCATION_CITY: "city",
    _T.LOCATION_COUNTRY: "country",
}
"""Targets that say where it happened, by the part of the place each fills."""

_NESTED_DETAILS = (
    _T.QUOTE_AMOUNT,
    _T.TRACKING_NUMBER,
    _T.VISIT_DATE,
    _T.PART_SKU,
    *_LOCATION,
)
"""Targets that build a quote, a parcel, a visit, parts lines or a place."""

_NO_DETAILS = EventDetails()
"""Frozen, so every event with nothing beside its status can share it."""


def _nested(
    values: dict[Target, Any],
    event_type: EventType,
    status: AnyStatus | None,
    location: tuple[tuple[Target, str], ...],
    nested: dict[str, Any],
) -> None:
    """The quote, parcel, visit, parts lines and place the record carries, and only
    those, added to ``nested``: most records carry none, and the details' defaults need
    no validating (they are stored as what differs from the defaults, so leaving them
    out changes nothing)."""
    if _T.QUOTE_AMOUNT in values:
        amount: Decimal = values[_T.QUOTE_AMOUNT]
        currency = values.get(_T.QUOTE_CURRENCY, "EUR")
        nested["quote"] = _quote(str(amount), currency)
    if _T.TRACKING_NUMBER in values:
        nested["shipment"] = Shipment.model_validate(
            {
                "tracking_number": values[_T.TRACKING_NUMBER],
                "carrier": values.get(_T.CARRIER),
                "carrier_name": values.get(_T.CARRIER_NAME),
                "leg": values.get(_T.SHIPMENT_LEG),
            }
        )
    if _T.VISIT_DATE in values:
        visit_date: date = values[_T.VISIT_DATE]
        slot = str(values.get(_T.VISIT_SLOT, "all_day")).lower()
        nested["visit"] = Visit.model_validate(
            {"date": visit_date, "slot": slot, "technician": values.get(_T.VISIT_TECHNICIAN)}
        )
    if _T.PART_SKU in values:
        line_status = status if event_type is EventType.PARTS_ORDER_STATUS and status else "placed"
        skus: tuple[str, ...] = values[_T.PART_SKU]
        quantities: tuple[int, ...] = values.get(_T.PART_QUANTITY, ())
        first_line = values.get(_T.PART_LINE, 1)
        eta = values.get(_T.ETA)
        nested["parts"] = tuple(
            _part_line(
                first_line + index,
                sku,
                quantities[index] if index < len(quantities) else 1,
                line_status,
                eta,
            )
            for index, sku in enumerate(skus)
        )
    if location:
        place = {part: values[target] for target, part in location if values.get(target)}
        if place:
            nested["location"] = Place.model_validate(place)


@lru_cache(maxsize=4_096)
def _quote(amount: str, currency: str) -> Quote:
    """A quote, validated once per amount and currency: partners quote the same prices
    again and again, and a frozen quote can be shared. The amount comes as its text so
    that 212.00 and 212.0 (equal decimals, written differently) stay apart. Validated
    as one document (the money inside the quote's validation): the same quote as
    ``Quote(amount_incl_tax=Money(...))``, one model's ``__init__`` less."""
    return _QUOTE({"amount_incl_tax": {"amount": Decimal(amount), "currency": currency}})


@lru_cache(maxsize=4_096)
def _part_line(
    line_no: int, sku: str, quantity: int, status: str, eta: date | None
) -> PartsOrderLine:
    """A parts line, validated once per value (the same parts are ordered every day); its
    status read by the validation (a member, or its text), as ``PartsOrderStatus`` reads
    it, without the enum's call in Python."""
    return _PARTS_LINE(
        {"line_no": line_no, "sku": sku, "quantity": quantity, "status": status, "eta": eta}
    )


_QUOTE = Quote.model_validate
_PARTS_LINE = PartsOrderLine.model_validate
