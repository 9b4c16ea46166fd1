"""An inbound mapping's compiled plan: a record's event in one straight function.

The general path (``InboundMapping._values`` then ``_event``) reads a record target by
target through tuples into a dict of values, then hands them to ``MappedEvents``, which
checks each one again. A plan is the same work written out once per mapping and
message: each target read into a local of its own; the mapping's constants, codes and
what it proved of each value not checked again per record (a stripped column's text is
a stripped, non-empty ``str``; a status from the codes is of its type's set; a hashed id
is short ASCII; a quote or a parts line comes validated). It does the common case only:
at the first doubt (a value missing or that does not read, the record naming no case, a
text the model would not keep as given) it returns None, and the caller takes the
general path, which makes the same event or says why it rejects the record. So the
general path stays the definition; a plan gives exactly what it gives, for less work a
row (issue 17; ``tests/test_mapping_plan.py`` compares the two, and pins the logic of
the model's checks restated here, so that a check changed in the model and not here
fails a test rather than letting a plan keep what the model refuses).

Safe to compile: the source is this module's own text and identifiers it makes
(``v3``, ``k3``, ``c3``...). Every value a mapping or a partner's file gives (a column's
name, a constant, a pattern, the codes, a template) is bound in the function's namespace
under such an identifier, never written into the source: nothing from a partner's file
or mapping ever becomes code. No I/O: ``compile`` of a text built here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import CodeType
from typing import Any

from pydantic import ValidationError

from hub.mapping.inbound import _NO_DETAILS, InboundMapping, _nested
from hub.mapping.spec import Target
from hub.mapping.values import ValueProblem
from hub.model.event import (
    DETAIL_TEXTS,
    EVENT_ID_LONGEST,
    FIXED_ZONES_SEEN,
    RAW_TEXT_LONGEST,
    REFERENCE_LONGEST,
    Event,
    hashed_event_id,
    planned_details,
    planned_event,
    safe_text,
    sane_offset,
)

Plan = Callable[[Mapping[str, str | None], datetime], Event | None]
"""A record's fields and the message's ``recorded_at`` in; its event, or None to say
"take the general path"."""

_NESTED_READS = (
    Target.QUOTE_AMOUNT,
    Target.QUOTE_CURRENCY,
    Target.TRACKING_NUMBER,
    Target.CARRIER,
    Target.CARRIER_NAME,
    Target.SHIPMENT_LEG,
    Target.VISIT_DATE,
    Target.VISIT_SLOT,
    Target.VISIT_TECHNICIAN,
    Target.PART_SKU,
    Target.PART_QUANTITY,
    Target.PART_LINE,
    Target.ETA,
    Target.LOCATION_ID,
    Target.LOCATION_NAME,
    Target.LOCATION_POSTCODE,
    Target.LOCATION_CITY,
    Target.LOCATION_COUNTRY,
)
"""Every target the general path's ``_nested`` reads."""

# What the plan knows of a target's value when the record gives one.
_STRIPPED = "stripped"
"""A column's text, stripped: an exact ``str``, non-empty, with nothing to strip."""
_GIVEN = "given"
"""A column's text kept as given: non-empty, as the codec wrote it."""
_OTHER = "other"
"""Read by an extractor or a converter: nothing known beyond its type's."""
_CONSTANT = "constant"
"""The mapping's constant: checked when the plan is compiled."""


def compile_plan(mapping: InboundMapping) -> Plan | None:
    """The plan of ``mapping``, or None when it has none (every record then takes the
    general path): a zone given with each event, a partner id or constant the model
    would not keep as given."""
    return _Writer(mapping).plan()


RowPlan = Callable[[list[str], datetime], Event | None]
"""The same as a plan, for a record a codec gives as its row of cells (``""`` for an
empty one, which every reading of a mapping takes as no value, as it takes None).
(``hub.mapping.inbound.RowPlan``, repeated: this module imports that one.)"""


def compile_row_plan(mapping: InboundMapping, columns: tuple[str, ...]) -> RowPlan | None:
    """The plan of ``mapping`` for rows of ``columns``: each cell read by its place, no
    record made (a codec's row becomes a record only when the plan hands it on). None
    when the plan has a field only a record's fields can give (a pattern, a table)."""
    plan: RowPlan | None = _Writer(mapping, columns).plan()  # type: ignore[assignment]
    return plan


_CODE_KEPT = 256
"""Plans' code objects kept, by their source (then forgotten all at once)."""

_codes: dict[str, CodeType] = {}


def _code(source: str) -> CodeType:
    """The plan's code, compiled once per source: ``compile`` costs about 0.7 ms, and a
    mapping is built again for every push a partner sends (its values are bound per
    mapping, in the namespace; the source holds only this module's names)."""
    code = _codes.get(source)
    if code is None:
        if len(_codes) >= _CODE_KEPT:
            _codes.clear()
        code = _codes[source] = compile(source, "<inbound mapping plan>", "exec")
    return code


class _Writer:
    """Writes one plan's source and its namespace."""

    def __init__(self, mapping: InboundMapping, columns: tuple[str, ...] | None = None) -> None:
        self.mapping = mapping
        self.columns = columns
        """A row plan's columns, in the order its rows give their cells (else None: the
        plan reads a record's fields by name)."""
        self.at = {} if columns is None else {name: place for place, name in enumerate(columns)}
        self.names: dict[str, Any] = {"ValueProblem": ValueProblem}
        self.local: dict[Target, str] = {}
        """Each target of the mapping, by the local holding its value (None: none)."""
        self.kind: dict[Target, str] = {}
        self.required: set[Target] = set()
        self._detail_texts: set[Target] = set()
        self.source = ""
        """The plan's source, once written (for a reader, and the tests)."""

    def bind(self, name: str, value: Any) -> str:
        """``value`` in the namespace under ``name`` (an identifier of this module's)."""
        self.names[name] = value
        return name

    def plan(self) -> Plan | None:
        mapping = self.mapping
        if mapping._event_zone or not mapping._events._steady:
            return None
        reading = self._reading()
        if reading is None:
            return None
        if self.columns is None:
            lines = ["def plan(fields, recorded_at):", "    get = fields.get", "    try:"]
        else:
            lines = ["def plan(row, recorded_at):", "    try:"]
        lines += ["        " + line for line in reading]
        lines += ["    except ValueProblem:", "        return None"]
        after = self._event()
        if after is None:
            return None
        lines += ["    " + line for line in after]
        namespace = dict(self.names)
        self.source = "\n".join(lines) + "\n"
        exec(_code(self.source), namespace)  # noqa: S102 - only this module's text; values are bound
        plan: Plan = namespace["plan"]
        return plan

    def _cell(self, key: str, column: str) -> str:
        """The expression of a column's text: the field by its name bound as ``key``, or
        a row's cell by its place (None's text when the row has no such column)."""
        if self.columns is None:
            return f"get({self.bind(key, column)})"
        place = self.at.get(column)
        return "None" if place is None else f"row[{place}]"

    def _reading(self) -> list[str] | None:
        """Each target read into its local: None when the record gives no value (None:
        a row plan, for a field only a record's mapping of fields can read)."""
        mapping = self.mapping
        lines: list[str] = []
        stripped = dict(mapping._stripped_texts)
        kept = dict(mapping._kept_texts)
        required = {target: (column, strip) for target, column, strip in mapping._required}
        converted = {
            target: (column, strip, convert, needed)
            for target, column, strip, convert, needed in mapping._converted
        }
        extracted = {
            target: (extract, convert, needed)
            for target, extract, convert, needed in mapping._extracted
        }
        for number, target in enumerate(mapping.spec.fields):
            value = self.local[target] = f"v{number}"
            key = f"k{number}"
            if target in stripped:
                self.kind[target] = _STRIPPED
                cell = self._cell(key, stripped[target])
                lines += [f"t = {cell}", f"{value} = (t.strip() or None) if t else None"]
            elif target in kept:
                self.kind[target] = _GIVEN
                lines.append(f"{value} = {self._cell(key, kept[target])} or None")
            elif target in required:
                column, strip = required[target]
                self.kind[target] = _STRIPPED if strip else _GIVEN
                self.required.add(target)
                cell = self._cell(key, column)
                lines += [f"{value} = {cell}", f"if not {value}:", "    return None"]
                if strip:
                    lines += [f"{value} = {value}.strip()", f"if not {value}:", "    return None"]
            elif target in converted:
                column, strip, convert, needed = converted[target]
                self.kind[target] = _OTHER
                reader = self.bind(f"c{number}", convert)
                lines.append(f"t = {self._cell(key, column)}")
                if strip:
                    lines += ["if t:", "    t = t.strip()"]
                lines.append(f"{value} = {reader}(t) if t else None")
                if needed:
                    self.required.add(target)
                    lines += [f"if {value} is None:", "    return None"]
            elif target in extracted:
                extract, convert, needed = extracted[target]
                self.kind[target] = _OTHER
                read = self._extracted(number, target, extract)
                if read is None:
                    return None
                lines += read
                then = None if convert is None else self.bind(f"c{number}", convert)
                if needed:
                    self.required.add(target)
                    lines += [f"if {value} is None:", "    return None"]
                    if then is not None:
                        lines.append(f"{value} = {then}({value})")
                elif then is not None:
                    lines += [f"if {value} is not None:", f"    {value} = {then}({value})"]
            elif target in mapping._constants:
                self.kind[target] = _CONSTANT
                self.required.add(target)
                lines.append(f"{value} = {self.bind(f'K{number}', mapping._constants[target])}")
            else:  # a constant that is never given (spaces normalised to nothing)
                self.kind[target] = _CONSTANT
                lines.append(f"{value} = None")
        return lines

    def _extracted(
        self, number: int, target: Target, extract: Callable[[Mapping[str, str | None]], Any]
    ) -> list[str] | None:
        """The target's text by its extractor; columns only joined (a date and its time)
        are read here, as ``_raw_reader``'s ``joined`` reads them, without the call (None:
        a row plan cannot give the extractor a record's fields)."""
        field = self.mapping.spec.fields[target]
        value = f"v{number}"
        plainly_joined = (
            field.columns
            and field.pattern is None
            and field.values is None
            and field.default is None
            and not field.normalize_space
        )
        if not plainly_joined:
            if self.columns is not None:
                return None
            return [f"{value} = {self.bind(f'x{number}', extract)}(fields)"]
        lines: list[str] = []
        parts = []
        for place, column in enumerate(field.columns or ()):
            part = f"p{number}_{place}"
            cell = self._cell(f"k{number}_{place}", column)
            lines += [f"{part} = {cell}", f"{part} = {part}.strip() if {part} else ''"]
            parts.append(part)
        join = self.bind(f"j{number}", field.separator.join)
        if field.skip_empty:
            lines.append(f"{value} = {join}([p for p in ({', '.join(parts)},) if p]) or None")
        else:  # every part given, or no value (a date without its time)
            lines.append(
                f"{value} = {join}(({', '.join(parts)},)) if {' and '.join(parts)} else None"
            )
        return lines

    def _value(self, target: Target) -> str:
        """The local holding the target's value, or None's text when it has no field."""
        return self.local.get(target, "None")

    def _given(self, target: Target) -> bool:
        """The target always has a value once read (required, or a constant)."""
        return target in self.required

    def _text_check(
        self, target: Target, longest: int, stripped: bool, some: bool, *, inside: bool = False
    ) -> str | None:
        """A check that the target's text is what the model keeps as given (within
        ``longest``, non-empty when ``some``, with nothing to strip when ``stripped``),
        less what the mapping proved; "" when it proved all, None when a constant fails."""
        value, kind = self._value(target), self.kind.get(target)
        if kind is None:
            return ""
        if kind == _CONSTANT:
            constant = self.names.get(value.replace("v", "K", 1))
            if constant is None:
                return ""
            kept = (
                type(constant) is str
                and (len(constant) > 0 or not some)
                and len(constant) <= longest
                and (not stripped or constant.strip() == constant)
                and safe_text(constant)
            )
            return "" if kept else None
        if kind == _STRIPPED:
            check = f"len({value}) <= {longest}"
        elif kind == _GIVEN:
            check = f"type({value}) is str and len({value}) <= {longest}"
            if stripped:
                check += f" and {value}.strip() == {value}"
        else:
            check = f"type({value}) is str and len({value}) <= {longest}"
            if some:
                check += f" and 0 < len({value})"
            if stripped:
                check += f" and {value}.strip() == {value}"
        if inside or self._given(target):  # inside: where the value is known given
            return f"if not ({check}):\n    return None"
        return f"if {value} is not None and not ({check}):\n    return None"

    def _event(self) -> list[str] | None:
        """From the values read to the event (None: a constant the model would refuse)."""
        mapping = self.mapping
        spec = mapping.spec
        fields = spec.fields
        lines: list[str] = []
        if mapping._require_any:
            lines += [
                "if " + " and ".join(f"{self._value(t)} is None" for t in spec.require_any) + ":",
                "    return None",
            ]
        code = self._value(Target.RAW_CODE)
        if not self._given(Target.RAW_CODE):
            lines += [f"if {code} is None:", "    return None"]
        lines.append(f"status = {self.bind('statuses_get', mapping._statuses.get)}({code})")
        if mapping._patterns:
            self.bind("statuses", mapping._statuses)
            lines += [
                f"if status is None and {code} not in statuses:",
                f"    status = {self.bind('by_pattern', mapping._by_pattern)}({code})",
            ]
        lines += self._subject()
        if mapping._identity_targets:
            parts = ", ".join(f"str({self._value(t)} or '')" for t in mapping._identity_targets)
            lines.append(f"extra = {self.bind('IDENTITY_JOIN', chr(0x1E).join)}(({parts},))")

        details = self._details()
        if details is None:
            return None
        lines += details
        checks = self._event_checks()
        if checks is None:
            return None
        lines += checks
        lines += self._id()
        texts = [self._text(Target.CASE_REF), self._text(Target.PARTNER_REF)]
        if self._has_subject():
            texts.append("(subject or '')")
        texts += [self._text(Target.RAW_CODE), self._text(Target.RAW_LABEL)]
        if Target.PARTNER_EVENT_ID in fields:
            texts.insert(0, "given_id")
        texts += [self._text(t) for t, _ in mapping._plain_details if t in self._detail_texts]
        texts = [text for text in texts if text]
        if texts:  # ``safe_text``'s checks, inline (a call a row less: issue 17)
            self.bind("UNENCODABLE", UnicodeEncodeError)
            lines += [
                "said = ''.join((" + ", ".join(texts) + ",))",
                "if '\\x00' in said:",
                "    return None",
                "if not said.isascii():",
                "    try:",
                "        said.encode()",
                "    except UNENCODABLE:",
                "        return None",
            ]
        self.bind("EVENT", planned_event)
        self.bind("EVENT_TYPE", mapping._event_type)
        self.bind("PARTY", mapping.partner)
        lines += [
            "return EVENT({",
            "    'id': event_id,",
            f"    'case_ref': {self._value(Target.CASE_REF)},",
            f"    'partner_ref': {self._value(Target.PARTNER_REF)},",
            "    'type': EVENT_TYPE,",
            "    'status': status,",
            f"    'occurred_at': {self._value(Target.OCCURRED_AT)},",
            "    'recorded_at': recorded_at,",
            "    'reported_by': PARTY,",
            f"    'raw_code': {code},",
            f"    'raw_label': {self._value(Target.RAW_LABEL)},",
            f"    'subject': {self._subject_value()},",
            "    'details': details,",
            "})",
        ]
        return lines

    def _subject_value(self) -> str:
        """The subject's local, or None's text when no record gives one."""
        return "subject" if self._has_subject() else "None"

    def _has_subject(self) -> bool:
        """Some record may give the event a subject."""
        return Target.SUBJECT in self.mapping.spec.fields or self.mapping._derived_subject

    def _text(self, target: Target) -> str:
        """The target's text in the texts checked for NUL and lone surrogates (a
        constant was checked when compiled)."""
        if target not in self.kind or self.kind[target] == _CONSTANT:
            return ""
        value = self._value(target)
        return value if self._given(target) else f"({value} or '')"

    def _subject(self) -> list[str]:
        mapping = self.mapping
        spec = mapping.spec
        if not self._has_subject():
            return []  # the event's subject is None's text, written where it goes
        lines = [f"subject = {self._value(Target.SUBJECT)}"]
        if not mapping._derived_subject:
            return lines
        lines.append("if not subject:")
        if spec.subject_template:
            lines.append("    available = {}")
            for target, value in self.local.items():
                name = self.bind(f"n{value[1:]}", target.value)
                lines += [f"    if {value} is not None:", f"        available[{name}] = {value}"]
            template = self.bind("TEMPLATE_FORMAT", spec.subject_template.format)
            lines += [
                "    try:",
                f"        subject = {template}(**available)",
                "    except KeyError:",
                "        subject = None",
            ]
        else:  # a parcel's tracking number, when the mapping gives no template
            tracking = self._value(Target.TRACKING_NUMBER)
            lines.append(f"    subject = str({tracking}).upper() if {tracking} else None")
        return lines

    def _details(self) -> list[str] | None:
        """The event's details: plain values as given, the quote, parcel, visit, parts
        and place by the general path's own ``_nested``; each plain value checked as
        ``mapped_details`` checks it, less what the mapping proved."""
        mapping = self.mapping
        fields = mapping.spec.fields
        plain = mapping._plain_details
        if not plain and not mapping._nested_details:
            return [f"details = {self.bind('NO_DETAILS', _NO_DETAILS)}"]
        lines = ["given = {}"]
        for target, name in plain:
            value = self._value(target)
            check: str | None = ""
            if name in DETAIL_TEXTS:
                longest, stripped = DETAIL_TEXTS[name]
                check = self._text_check(target, longest, stripped, some=True, inside=True)
                self._detail_texts.add(target)
            elif name == "eta" and self.kind[target] == _CONSTANT:
                kept = type(self.names.get(f"K{value[1:]}", date.min)) is date
                check = "" if kept else None
            elif name == "eta":
                self.bind("date", date)
                check = f"if type({value}) is not date:\n    return None"
            if check is None:
                return None
            key = self.bind(f"d{value[1:]}", name)
            lines.append(f"if {value} is not None:")
            lines += ["    " + line for line in check.splitlines()]
            lines.append(f"    given[{key}] = {value}")
        if mapping._nested_details:
            triggers = [
                self._value(t)
                for t in (
                    Target.QUOTE_AMOUNT,
                    Target.TRACKING_NUMBER,
                    Target.VISIT_DATE,
                    Target.PART_SKU,
                )
                if t in fields
            ] + [self._value(t) for t, _ in mapping._location]
            self.bind("NESTED", _nested)
            self.bind("LOCATION", mapping._location)
            self.bind("EVENT_TYPE", mapping._event_type)
            lines.append("if " + " or ".join(f"{v} is not None" for v in triggers) + ":")
            lines.append("    read = {}")
            for target in _NESTED_READS:
                if target in fields:
                    value = self._value(target)
                    key = self.bind(f"T{value[1:]}", target)
                    lines += [f"    if {value} is not None:", f"        read[{key}] = {value}"]
            self.bind("ValidationError", ValidationError)  # the general path says why
            lines += [
                "    try:",
                "        NESTED(read, EVENT_TYPE, status, LOCATION, given)",
                "    except ValidationError:",
                "        return None",
            ]
        self.bind("DETAILS", planned_details)
        self.bind("NO_DETAILS", _NO_DETAILS)
        lines.append("details = DETAILS(given) if given else NO_DETAILS")
        return lines

    def _event_checks(self) -> list[str] | None:
        """What ``MappedEvents.event`` checks of each event, less what the mapping
        proved (None: a constant it would refuse)."""
        lines: list[str] = []
        for target, longest, stripped, some in (
            (Target.CASE_REF, REFERENCE_LONGEST, True, True),
            (Target.PARTNER_REF, REFERENCE_LONGEST, True, True),
            (Target.RAW_CODE, RAW_TEXT_LONGEST, False, False),
            (Target.RAW_LABEL, RAW_TEXT_LONGEST, False, False),
        ):
            check = self._text_check(target, longest, stripped, some)
            if check is None:
                return None
            if check:
                lines += check.splitlines()
        if self._has_subject():  # derived, or of a kind a check could skip less of: whole
            lines += [
                "if subject is not None and not (",
                f"    type(subject) is str and 0 < len(subject) <= {REFERENCE_LONGEST}",
                "    and subject.strip() == subject",
                "):",
                "    return None",
            ]
        at = self._value(Target.OCCURRED_AT)
        self.bind("datetime", datetime)
        self.bind("ZONES_SEEN", FIXED_ZONES_SEEN)
        self.bind("SANE_OFFSET", sane_offset)
        self.bind("EVENTS", self.mapping._events)
        lines += [
            f"if not (type({at}) is datetime",
            f"        and ({at}.tzinfo in ZONES_SEEN or SANE_OFFSET({at}))):",
            "    return None",
            "if recorded_at is not EVENTS._recorded and not EVENTS.recorded_kept(recorded_at):",
            "    return None",
        ]
        return lines

    def _id(self) -> list[str]:
        """The event's id: the partner's own, or the hashed one (``hashed_event_id``,
        the one definition)."""
        mapping = self.mapping
        self.bind("HASHED_ID", hashed_event_id)
        hashed = (
            f"event_id = HASHED_ID(PARTY, {self._value(Target.CASE_REF)}, "
            f"{self._value(Target.PARTNER_REF)}, EVENT_TYPE, {self._value(Target.RAW_CODE)}, "
            f"{self._value(Target.OCCURRED_AT)}, {self._subject_value()}, "
            f"{'extra' if mapping._identity_targets else 'None'})"
        )
        if Target.PARTNER_EVENT_ID not in mapping.spec.fields:
            return [hashed]
        given = self._value(Target.PARTNER_EVENT_ID)
        self.bind("PARTY_PREFIX", f"{mapping.partner}:")
        return [
            f"if {given}:",
            f"    event_id = given_id = f'{{PARTY_PREFIX}}{{{given}}}'",
            f"    if len(event_id) > {EVENT_ID_LONGEST}:",
            "        return None",
            "else:",
            "    " + hashed,
            "    given_id = ''",
        ]
