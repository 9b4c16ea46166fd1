"""Events: the append-only facts everything else is derived from.

An event says that something happened to a case, when (with the offset the partner
gave), who reported it and in which of the partner's words. Its id is stable so the
same fact arriving twice is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Annotated, Any, NoReturn, Self, TypeVar, cast

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from hub.model.address import Place
from hub.model.parties import PartyId, Reference
from hub.model.statuses import STATUS_SETS as STATUS_SETS
from hub.model.statuses import AnyStatus as AnyStatus
from hub.model.statuses import EventType as EventType
from hub.model.statuses import Label
from hub.model.utc_texts import hourly_utc_text
from hub.model.work import PartsOrderLine, Quote, Shipment, Visit

EventId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
RawText = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
SerialNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
SignedBy = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def _longest(text_type: Any) -> int:
    """The longest text a constrained string type keeps, read from its constraints so
    that the fast path below and the model can never disagree."""
    for constraint in text_type.__metadata__:
        if isinstance(constraint, StringConstraints) and constraint.max_length is not None:
            return int(constraint.max_length)
    raise TypeError(f"{text_type} sets no max_length")


class _WrittenAsText:
    """A text enum written as the text it is: its value, the same bytes. pydantic-core
    writes an enum by reading ``.value``, which in Python 3.11 is Python code (enum's
    property), twice an event; as a ``str`` it copies the text in Rust. Validation and
    ``model_dump`` (the members themselves) are as they were."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        # Every schema an enum's handler returns takes a serialization (mypy sees the
        # union of all core schemas, a few of which do not).
        cast(dict[str, Any], schema)["serialization"] = core_schema.simple_ser_schema("str")
        return schema


class EventDetails(BaseModel):
    """What came with the status: a quote, a parcel, a visit, parts, a comment."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    quote: Quote | None = None
    shipment: Shipment | None = None
    visit: Visit | None = None
    parts: tuple[PartsOrderLine, ...] = ()
    parts_order_id: Reference | None = None
    serial_number: SerialNumber | None = None
    note: RawText | None = None
    reason: RawText | None = Field(default=None, description="A partner's reason code or text.")
    eta: dt.date | None = Field(default=None, description="When a part or parcel is expected.")
    location: Place | None = Field(
        default=None, description="Where it happened: a depot, a relay point, a sorting centre."
    )
    signed_by: SignedBy | None = Field(
        default=None, description="Who signed for a delivery (proof of delivery)."
    )

    def is_empty(self) -> bool:
        """Nothing came with the status (checked field by field: model equality is slow)."""
        return not self.parts and all(getattr(self, name) is None for name in _OPTIONAL_DETAILS)


_OPTIONAL_DETAILS = tuple(name for name in EventDetails.model_fields if name != "parts")


class Event(BaseModel):
    """The fact that something happened to a case.

    ``status`` is None when the partner's code is unknown to its mapping: the event is
    kept with its raw code and flagged ``unmapped`` instead of being dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: EventId = Field(description="Stable id used to de-duplicate the same fact.")
    case_ref: Reference | None = Field(
        description="The hub's case reference; None when the partner gave none (orphan)."
    )
    partner_ref: Reference | None = Field(
        default=None, description="The reporting party's own reference for the case."
    )
    type: Annotated[EventType, _WrittenAsText]
    status: Annotated[AnyStatus, _WrittenAsText] | None
    occurred_at: AwareDatetime = Field(description="When it happened, with the partner's offset.")
    recorded_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    reported_by: PartyId
    raw_code: RawText | None = None
    raw_label: RawText | None = None
    subject: Reference | None = Field(
        default=None,
        description="What the status is about inside the case: a tracking number, an order line.",
    )
    details: EventDetails = Field(default_factory=EventDetails)

    @model_validator(mode="before")
    @classmethod
    def _status_in_its_set(cls, data: Any) -> Any:
        """Read the status in the set its type names ('delivered' exists in all three)."""
        if not isinstance(data, dict):
            return data
        raw_type, status = data.get("type"), data.get("status")
        if status is None or raw_type is None:
            return data
        try:
            status_set = STATUS_SETS[EventType(raw_type)]
        except ValueError:
            return data  # the field validator reports the bad type
        try:
            return {**data, "status": status_set(status)}
        except ValueError as exc:
            allowed = ", ".join(s.value for s in status_set)
            raise ValueError(f"status {status!r} is not a {raw_type} status ({allowed})") from exc

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _sane_offset(cls, value: datetime) -> datetime:
        offset = value.utcoffset()
        if offset is None or abs(offset) > timedelta(hours=14):
            raise ValueError("the UTC offset must be between -14:00 and +14:00")
        return value

    @model_validator(mode="after")
    def _status_matches_type(self) -> Self:
        if self.status is not None and not isinstance(self.status, STATUS_SETS[self.type]):
            raise ValueError(f"status {self.status.value!r} does not belong to type {self.type}")
        if self.status is None and self.raw_code is None:
            raise ValueError("an event needs a canonical status or the partner's raw code")
        return self

    @property
    def unmapped(self) -> bool:
        """True when no mapping knew the partner's code."""
        return self.status is None

    @property
    def occurred_at_utc(self) -> datetime:
        return self.occurred_at.astimezone(UTC)

    @property
    def label(self) -> Label | None:
        return None if self.status is None else self.status.label


_PARTY_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

_MAX_OFFSET = timedelta(hours=14)
_EVENT_ID_MAX = _longest(EventId)
_REFERENCE_MAX = _longest(Reference)
_RAW_TEXT_MAX = _longest(RawText)


_PARTIES_SEEN: set[str] = set()
"""Party ids found valid, so each partner's is checked once (there are a few dozen)."""


def _party_id(value: object) -> bool:
    if type(value) is not str:
        return False
    if value in _PARTIES_SEEN:
        return True
    if _PARTY_ID.fullmatch(value) is not None:
        if len(_PARTIES_SEEN) < 10_000:
            _PARTIES_SEEN.add(value)
        return True
    return False


def _text_kept(value: object, longest: int, *, stripped: bool = True) -> bool:
    """A non-empty ``str`` (not a subclass) within its length, with nothing the model
    would strip (when it strips)."""
    return (
        type(value) is str
        and 0 < len(value) <= longest
        and (not stripped or value.strip() == value)
    )


def _safe(text: str) -> bool:
    """No NUL and no lone surrogate; said without a regex (which walks every character
    in Python's engine): ASCII is known at once, other text is encoded (in C), which
    only a lone surrogate makes fail."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_FIXED_ZONES_SEEN: set[tzinfo] = set()
"""Fixed offsets found within 14 hours (an instant parser makes a handful)."""


def _sane_offset(value: datetime) -> bool:
    """An aware instant whose offset is within 14 hours (what ``_sane_offset`` wants)."""
    zone = value.tzinfo
    if zone in _FIXED_ZONES_SEEN:
        return True
    offset = value.utcoffset()
    if offset is None or not -_MAX_OFFSET <= offset <= _MAX_OFFSET:
        return False
    if type(zone) is timezone and len(_FIXED_ZONES_SEEN) < 1_000:
        _FIXED_ZONES_SEEN.add(zone)
    return True


_Model = TypeVar("_Model", bound=BaseModel)


def _trusted(model: type[_Model], fields: dict[str, Any], fields_set: set[str]) -> _Model:
    """An instance holding ``fields`` (every field, in the model's order) as given, as
    pydantic's ``model_construct`` makes one but without its per-field loop."""
    instance = _NEW(model)
    _set_dict(instance, fields)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


_TRUSTED_SLOTS = (
    "__dict__",
    "__pydantic_fields_set__",
    "__pydantic_extra__",
    "__pydantic_private__",
)
"""What ``model_construct`` sets on an instance, past a frozen model's ``__setattr__``."""

_NEW = object.__new__
"""A model's ``__new__`` (pydantic's models define none), called without looking it up."""

_set_dict, _set_fields_set, _set_extra, _set_private = (
    BaseModel.__dict__[name].__set__ for name in _TRUSTED_SLOTS
)
"""The slots' own setters: what ``object.__setattr__`` finds by the name and calls,
without the lookup and the argument tuple (about 1,900 instructions a model less;
``tests/test_event_fast_path.py`` checks that the models use these slots as they are)."""


class _EveryField(set[str]):
    """The fields set of every trusted event, one set shared by all of them (issue 17:
    a copy an event cost about 1,300 instructions a row, with its share of the
    collector's passes). pydantic changes an instance's fields set in place only where
    an attribute is set, which a frozen model refuses first; ``model_copy`` and
    ``__deepcopy__`` change a ``copy`` of it, which is a plain set. Any change to the
    shared set itself is refused, so that no caller can change every event's at once;
    pickled, it is a plain set."""

    def __copy__(self) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)

    def _refused(self, *_: object) -> NoReturn:
        raise TypeError("every trusted event shares this fields set: copy it to change it")

    add = discard = remove = pop = clear = update = _refused
    difference_update = intersection_update = symmetric_difference_update = _refused
    __ior__ = __iand__ = __isub__ = __ixor__ = _refused


_EVERY_EVENT_FIELD = _EveryField(Event.model_fields)
"""What a mapped event gives, every field: the one set every trusted event holds."""


class MappedEvents:
    """The events one inbound message makes (one type, one reporting partner), with
    what is the same for every event of the message checked once: its type, the
    partner's id, the instant it is recorded.

    An inbound mapping has already typed its values (statuses from its codes, instants
    with their offsets), so most events need no second look: when every value is kept
    as given, the event is built without pydantic's validation, several times faster.
    A mapping makes an event per record, so this is its per-row cost: each event's own
    values are checked inline, and any doubt goes through ``Event(...)`` as ever.
    """

    def __init__(self, event_type: EventType, reported_by: str) -> None:
        self.type = event_type
        self.reported_by = reported_by
        self._statuses = STATUS_SETS.get(event_type)
        self._steady = self._steady_parts_kept()
        """The type and the partner's id are kept as given (else: full validation)."""
        self._recorded: datetime | None = None
        """The last ``recorded_at`` found kept as given (a message has one)."""

    def _steady_parts_kept(self) -> bool:
        return (
            type(self.type) is EventType
            and self._statuses is not None
            and type(self.reported_by) is str
            and _party_id(self.reported_by)
        )

    def recorded_kept(self, recorded_at: datetime) -> bool:
        """True when ``recorded_at`` is kept as given (then remembered as the message's)."""
        if type(recorded_at) is not datetime:
            return False
        if recorded_at.tzinfo in _FIXED_ZONES_SEEN or _sane_offset(recorded_at):
            self._recorded = recorded_at
            return True
        return False

    def event(
        self,
        partner_event_id: str | None,
        case_ref: str | None,
        partner_ref: str | None,
        raw_code: str | None,
        status: AnyStatus | None,
        occurred_at: datetime,
        recorded_at: datetime,
        raw_label: str | None,
        subject: str | None,
        extra: str | None,
        details: EventDetails,
    ) -> Event:
        """The event these values make, the same as ``Event(...)`` with every field
        given and its id by ``stable_event_id`` (given the raw code, no status): built
        without pydantic's validation when every value is kept as given, else by
        ``Event(...)``, which then decides and says why it refuses."""
        reported_by = self.reported_by
        event_type = self.type
        if partner_event_id:
            event_id = f"{reported_by}:{partner_event_id}"
            given_id = event_id
        else:
            event_id = _hashed_id(
                reported_by,
                case_ref,
                partner_ref,
                event_type,
                raw_code,
                occurred_at,
                subject,
                extra,
            )
            given_id = ""  # a party id, ":h:" and hex digits: ASCII, within 200
        fields: dict[str, Any] = {
            "id": event_id,
            "case_ref": case_ref,
            "partner_ref": partner_ref,
            "type": event_type,
            "status": status,
            "occurred_at": occurred_at,
            "recorded_at": recorded_at,
            "reported_by": reported_by,
            "raw_code": raw_code,
            "raw_label": raw_label,
            "subject": subject,
            "details": details,
        }
        # What differs from event to event, checked inline (what _text_kept, _party_id
        # and _sane_offset say): a call costs as much as a check, for every event.
        if (
            self._steady
            and (
                case_ref is None
                or (
                    type(case_ref) is str
                    and 0 < len(case_ref) <= _REFERENCE_MAX
                    and case_ref.strip() == case_ref
                )
            )
            and (
                partner_ref is None
                or (
                    type(partner_ref) is str
                    and 0 < len(partner_ref) <= _REFERENCE_MAX
                    and partner_ref.strip() == partner_ref
                )
            )
            and (
                subject is None
                or (
                    type(subject) is str
                    and 0 < len(subject) <= _REFERENCE_MAX
                    and subject.strip() == subject
                )
            )
            and (raw_code is None or (type(raw_code) is str and len(raw_code) <= _RAW_TEXT_MAX))
            and (raw_label is None or (type(raw_label) is str and len(raw_label) <= _RAW_TEXT_MAX))
            and (raw_code is not None if status is None else type(status) is self._statuses)
            and type(occurred_at) is datetime
            and (occurred_at.tzinfo in _FIXED_ZONES_SEEN or _sane_offset(occurred_at))
            and (recorded_at is self._recorded or self.recorded_kept(recorded_at))
            and type(details) is EventDetails
            and len(event_id) <= _EVENT_ID_MAX
            and _safe(
                "".join(
                    (
                        given_id,
                        case_ref or "",
                        partner_ref or "",
                        subject or "",
                        raw_code or "",
                        raw_label or "",
                    )
                )
            )
        ):
            return _trusted(Event, fields, _EVERY_EVENT_FIELD)
        return Event(**fields)


_DETAIL_TEXTS: dict[str, tuple[int, bool]] = {
    "parts_order_id": (_REFERENCE_MAX, True),
    "serial_number": (_longest(SerialNumber), True),
    "note": (_RAW_TEXT_MAX, False),
    "reason": (_RAW_TEXT_MAX, False),
    "signed_by": (_longest(SignedBy), True),
}
"""Details that are text: the longest kept, and whether the model strips it."""

_DETAIL_MODELS: dict[str, type[Any]] = {
    "quote": Quote,
    "shipment": Shipment,
    "visit": Visit,
    "location": Place,
}
"""Details that are models, validated as themselves before they are given."""


_DETAIL_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in EventDetails.model_fields.items()
}


def _details_kept(given: dict[str, Any]) -> bool:
    """True when validating ``given`` as EventDetails would keep every value as it is
    (a sufficient condition, as ``_kept_as_given`` for events)."""
    for name, value in given.items():
        text = _DETAIL_TEXTS.get(name)
        if text is not None:
            longest, stripped = text
            if not (
                type(value) is str
                and 0 < len(value) <= longest
                and (not stripped or value.strip() == value)
                and "\x00" not in value
                and (value.isascii() or _safe(value))
            ):
                return False
        elif name == "eta":
            if type(value) is not dt.date:
                return False
        elif name == "parts":
            if type(value) is not tuple or any(type(line) is not PartsOrderLine for line in value):
                return False
        elif _DETAIL_MODELS.get(name) is not type(value):
            return False
    return True


def mapped_details(given: dict[str, Any]) -> EventDetails:
    """The details these values make: the same as ``EventDetails(**given)``.

    Plain values already typed by the mapping, and quotes, parcels, visits, parts and
    places already validated as themselves, are kept as given; any doubt goes through
    full validation.
    """
    if _details_kept(given):
        return _trusted(EventDetails, {**_DETAIL_DEFAULTS, **given}, set(given))
    return EventDetails(**given)


def planned_event(fields: dict[str, Any]) -> Event:
    """The event holding ``fields`` (every field, in the model's order) as given.

    For an inbound mapping's compiled plan (``hub.mapping.plan``), which has checked
    every value as ``MappedEvents.event`` does (or proved it when the mapping was
    compiled) and falls back to that path at any doubt: one way of making a trusted
    event, so that the two paths make the same ones."""
    return _trusted(Event, fields, _EVERY_EVENT_FIELD)


def planned_details(given: dict[str, Any]) -> EventDetails:
    """The details ``mapped_details(given)`` makes when it keeps every value as given,
    for a plan that has checked them as ``mapped_details`` does."""
    return _trusted(EventDetails, {**_DETAIL_DEFAULTS, **given}, set(given))


def stable_event_id(
    *,
    reported_by: str,
    partner_event_id: str | None = None,
    case_ref: str | None = None,
    partner_ref: str | None = None,
    type: EventType,
    raw_code: str | None,
    status: str | None = None,
    occurred_at: datetime,
    subject: str | None = None,
    extra: str | None = None,
) -> str:
    """The id that makes the same fact the same event, however often it arrives.

    A partner's own event id wins; otherwise the fields that identify the fact are
    hashed (instant in UTC, so a re-sent line in another offset is still the same).
    """
    if partner_event_id:
        return f"{reported_by}:{partner_event_id}"
    code = raw_code if raw_code is not None else status
    return _hashed_id(reported_by, case_ref, partner_ref, type, code, occurred_at, subject, extra)


def _hashed_id(
    reported_by: str,
    case_ref: str | None,
    partner_ref: str | None,
    type: EventType,
    code: str | None,
    occurred_at: datetime,
    subject: str | None,
    extra: str | None,
) -> str:
    """The hashed id of ``stable_event_id``, its one definition (``MappedEvents`` calls
    it per event, positionally): the ids stored must never change."""
    # Joined in one go (a StrEnum joins as its value); None is written as a NUL.
    identity = "\x1f".join(
        (
            reported_by,
            "\x00" if case_ref is None else case_ref,
            "\x00" if partner_ref is None else partner_ref,
            type,
            "\x00" if code is None else code,
            _utc_text(occurred_at),
            "\x00" if subject is None else subject,
        )
    )
    if extra is not None:  # only then: the ids of mappings without it never change
        identity = f"{identity}\x1f{extra}"
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return f"{reported_by}:h:{digest[:40]}"


_utc_text = hourly_utc_text(datetime.isoformat, "+00:00")
"""``at.astimezone(UTC).isoformat()``, the instant's text in an id, its hour's text
written once an hour (``isoformat`` costs about 10,000 instructions an id)."""


EVENT_ID_LONGEST = _EVENT_ID_MAX
REFERENCE_LONGEST = _REFERENCE_MAX
RAW_TEXT_LONGEST = _RAW_TEXT_MAX
DETAIL_TEXTS = _DETAIL_TEXTS
"""The longest texts an event and its details keep (and whether a detail is stripped),
as the model's types say: what a plan checks."""
safe_text = _safe
sane_offset = _sane_offset
FIXED_ZONES_SEEN = _FIXED_ZONES_SEEN
hashed_event_id = _hashed_id
"""The checks and the id a plan shares with ``MappedEvents``: one definition each."""
