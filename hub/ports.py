"""The ports adapters plug into: transports move bytes, codecs turn bytes into records,
receivers answer partners' pushes.

The core depends on these shapes only; `adapters/` implements them, and a third-party
package can too. Every adapter describes itself with an ``AdapterInfo`` registered under
an entry point (``hub.codecs``, ``hub.transports``, ``hub.receivers``): its settings
model, its factory and its capabilities. The core validates settings against the model
and dispatches on capabilities, never on an adapter's classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from hub.adapter_kind import AdapterKind as AdapterKind
from hub.closing import Closing as Closing
from hub.errors import PartnerDataError


@dataclass(frozen=True)
class MessageRef:
    """A message a transport can see but has not fetched yet (a file, a page, a push)."""

    name: str
    size: int | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class RawMessage:
    """Bytes exactly as a partner sent them, with where they came from."""

    ref: MessageRef
    content: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Transport(Protocol):
    """I/O only: list, fetch, acknowledge (archive or remember), and put messages."""

    def list(self) -> list[MessageRef]: ...

    def fetch(self, ref: MessageRef) -> RawMessage: ...

    def acknowledge(self, ref: MessageRef) -> None: ...

    def put(self, name: str, content: bytes) -> None: ...


@dataclass(frozen=True)
class Record:
    """One logical record of a message: its fields as text, its line and its raw text."""

    line: int
    fields: Mapping[str, str | None]
    raw: str

    @classmethod
    def deferred(
        cls, line: int, fields: Mapping[str, str | None], write_raw: Callable[[], str]
    ) -> Self:
        """A record whose raw text is written when first read, then kept.

        The raw text is read only when the record is rejected; a codec whose raw text
        costs a serialisation (an XML element written back as text) defers it so that
        the records a mapping accepts never pay for it. ``write_raw`` must give the text
        the codec would have given at once: it may depend on nothing that changes later.
        """
        record = cls.__new__(cls)
        record.__dict__.update(line=line, fields=fields, _write_raw=write_raw)
        return record

    if not TYPE_CHECKING:  # hidden from type checkers: ``raw`` is a str for them

        def __getattr__(self, name: str) -> str:
            """Reached only for what the instance lacks: a deferred record's raw text,
            the first time it is read."""
            write_raw = self.__dict__.get("_write_raw") if name == "raw" else None
            if write_raw is None:
                raise AttributeError(name)
            raw = write_raw()
            object.__setattr__(self, "raw", raw)
            return raw


DecodeResult = Record | PartnerDataError


@runtime_checkable
class Codec(Protocol):
    """Pure bytes <-> records. A bad record is yielded as an error, never raised."""

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]: ...

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes: ...


@runtime_checkable
class DocumentCodec(Codec, Protocol):
    """A codec for structured documents, which also carry values about the whole
    document (a page's next token, the parcel every event belongs to)."""

    def document_fields(self, content: bytes, *, source: str) -> Mapping[str, str | None]: ...


class Columns(tuple[str, ...]):
    """The names of the cells of the rows that follow, in their order (a header read):
    what ``RowCodec.decode_rows`` yields before its rows."""

    __slots__ = ()


Row = tuple[int, list[str], str]
"""A record a codec has not made: its line, its cells in the order of the last
``Columns`` (``""`` for an empty one), its raw text."""


@runtime_checkable
class RowCodec(Codec, Protocol):
    """A codec whose records are rows of cells under a header (CSV): it can give the
    rows themselves, so that a mapping's plan reads each cell by its place and a
    record is made only for a row the plan hands on (issue 17)."""

    def decode_rows(
        self, content: bytes, *, source: str
    ) -> Iterator[Columns | Row | DecodeResult] | None:
        """What ``decode`` yields, each ``Record`` given as its ``Row`` after the
        ``Columns`` it is read by; None when this codec's messages are not read so (file
        controls that count the records)."""
        ...

    def row_record(self, columns: Columns, row: Row) -> Record:
        """The record ``decode`` gives for ``row``."""
        ...


@dataclass(frozen=True)
class Acknowledgement:
    """The answer a partner expects for one message it sent, built by the codec.

    ``values`` are what its file name may use (the acknowledged interchange's reference,
    its sender); ``accepted`` says whether it accepts the message or refuses it.
    """

    content: bytes
    accepted: bool
    values: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class AcknowledgingCodec(Codec, Protocol):
    """A codec whose partner expects an acknowledgement of every message it sends.

    Pure, like every codec: the received bytes, the control reference the hub keeps and
    the time in; the acknowledgement out. Raises a ``PartnerDataError`` when the message
    cannot be acknowledged at all (no envelope to answer).
    """

    def acknowledgement(
        self, content: bytes, *, control_reference: str, prepared_at: datetime, source: str
    ) -> Acknowledgement: ...


NEXT_CURSOR = "next_cursor"
"""Metadata key of a page: the cursor of the page after it, when not in the document."""
MORE_PAGES = "more"
"""Metadata key of a page: ``"true"`` or ``"false"``, whether another page follows."""


@runtime_checkable
class PagedSource(Protocol):
    """A partner API read page by page with an opaque cursor (REST pull).

    I/O only: the cursor comes in, the page's raw bytes come out. Reading the next
    cursor out of the page is the codec's job, storing it is the engine's; unless the
    transport learned it from outside the document (an HTTP ``Link`` header, a page
    number): then the page's metadata carries it as :data:`NEXT_CURSOR`, with
    :data:`MORE_PAGES` ``"true"``/``"false"`` when the transport knows whether more
    follow (without it, the document's ``more`` field, else "the page had records").
    """

    def fetch_page(self, cursor: str | None) -> RawMessage: ...

    def fetch_item(self, key: str) -> RawMessage:
        """One object by its key (a repair, a parcel), for re-synchronisation."""
        ...


@runtime_checkable
class SinceSource(PagedSource, Protocol):
    """A paged feed asked from a point in time (``?modified_since=<RFC 3339>``).

    The hub keeps the newest ``occurred_at`` of the events it stored from the feed and
    asks each run's first page from it; the pages after it are followed as any paged
    source's (``fetch_page`` with the next cursor). The partner answers the events at
    that same instant again: the hub tells them apart by their event ids.
    """

    def fetch_since(self, since: datetime | None) -> RawMessage:
        """The first page of the changes at or after ``since`` (None: from the start)."""
        ...


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message for a partner, with the key that makes re-sending it harmless.

    ``headers`` are extra headers this one message needs (a webhook's signature, which
    covers its body and time): the transport sends them after its own and refuses any
    that would replace one of those. They are copied into a read-only mapping so that a
    message, once built, cannot change under a retry; they take no part in ``hash``.
    """

    name: str
    content: bytes
    content_type: str
    idempotency_key: str
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


@dataclass(frozen=True)
class DeliveryReceipt:
    """What the partner answered to a delivered message."""

    status: int
    body: bytes
    # The partner had it already (409 treated as success, or an idempotent 200).
    already_known: bool


@runtime_checkable
class Sender(Protocol):
    def send(self, message: OutboundMessage) -> DeliveryReceipt: ...


@dataclass(frozen=True)
class PushRequest:
    """A partner's push as the hub received it, before anything is trusted.

    ``headers`` keys are lower-case (HTTP header names are case-insensitive);
    ``received_at`` is the clock a receiver checks signing times against.
    """

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str]
    client: str | None
    received_at: datetime

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class AcceptedPush:
    """A push the receiver authenticated: the message to archive, and the values of the
    request its answer needs (read now, so that the answer never touches the body)."""

    message: RawMessage
    values: Mapping[str, str] = field(default_factory=dict)


class RefusalKind(StrEnum):
    """Why a push is refused; the receiver chooses the status for each."""

    UNAUTHENTICATED = "unauthenticated"
    """Not provably from the partner (credentials, signature, signing time)."""
    TOO_LARGE = "too_large"
    """Larger than the receiver accepts: it could never be stored."""
    MALFORMED = "malformed"
    """The receiver cannot read what its answer needs from the body (not XML, not JSON)."""


@dataclass(frozen=True)
class PushRefusal:
    """A push the hub will not keep, and the reason given to the partner."""

    kind: RefusalKind
    reason: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PushAnswer:
    """The HTTP answer a receiver renders for a partner."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Receiver(Protocol):
    """Inbound HTTP for one connector: who may push, and what the partner is answered.

    Pure: no I/O and no storage. The hub archives an accepted push in its own short
    transaction and only then asks for the answer, so a 2xx always means "kept".
    """

    def authenticate(self, request: PushRequest) -> AcceptedPush | PushRefusal: ...

    def answer(self, push: AcceptedPush, message_id: int) -> PushAnswer:
        """The answer for a push archived under ``message_id``."""
        ...

    def refuse(self, refusal: PushRefusal) -> PushAnswer: ...


class Capability(StrEnum):
    """What an adapter can do: the core chooses how to run a connector from these."""

    LIST = "list"
    """Transport: list, fetch and acknowledge messages (files in a folder, an inbox)."""
    PUT = "put"
    """Transport: write a message where the partner reads it (a file)."""
    SEND = "send"
    """Transport: deliver a message and get the partner's answer (an HTTP POST)."""
    PAGED = "paged"
    """Transport: read a partner's changes page by page from a cursor the hub keeps."""
    PER_ITEM = "per_item"
    """Transport: fetch one object by its key (an open parcel, a repair)."""
    SINCE = "since"
    """Transport: a paged feed whose first page is asked from a time the hub keeps (the
    newest event stored), e.g. ``modified_since``: builds a :class:`SinceSource`."""
    DECODE = "decode"
    """Codec: bytes to records."""
    ENCODE = "encode"
    """Codec: records to bytes."""
    DOCUMENT = "document"
    """Codec: also values about the whole document (a page's next cursor)."""
    MANY_RECORDS = "many_records"
    """Codec: one encoded message may hold several records (a file of lines)."""
    ACKNOWLEDGE = "acknowledge"
    """Codec: builds the acknowledgement the partner expects for each message it sent
    (an EDIFACT CONTRL): the core stores it and puts it through the connector's transport."""
    RECEIVE = "receive"
    """Receiver: authenticate a partner's push and answer it."""


@dataclass(frozen=True)
class AttachedFile:
    """Marks a settings field naming a file next to the mapping (an XSD, a layout).

    Codecs do no I/O, so the mapping loader reads the file, writes its absolute path back
    into the field and hands its bytes to the codec in the field named ``content_field``
    (which the settings exclude from their schema). Use it as
    ``Annotated[str | None, AttachedFile("xsd_document")]``.
    """

    content_field: str


class CursorSettings(BaseModel):
    """What a transport with ``Capability.PAGED`` says about its pages: which document
    fields of the codec carry the next cursor and whether more pages follow.

    A paged transport's settings model inherits these; the engine reads and stores the
    cursor, so the transport itself stays I/O only.

    Built on first use (``defer_build``): every command imports this module, and the
    first pydantic model built in a process also pays for pydantic's plugin lookup; the
    commands that read the store alone need neither (issue 17).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    next_field: str = Field(default="next", description="Document field with the next cursor.")
    more_field: str | None = Field(
        default="more", description="Document field saying whether more pages follow."
    )


@dataclass(frozen=True)
class AdapterInfo:
    """An adapter as it registers itself: what the core needs to check and build it.

    ``settings`` is the pydantic model of its options in ``connectors.yaml`` or in a
    mapping, every key beside ``type`` and ``package`` (its JSON Schema is exported to
    ``schemas/``); fields of the settings whose names end in ``_env`` name the
    environment variables that hold its secrets.

    ``factory`` builds the adapter from validated settings: a codec's as
    ``factory(settings, columns, direction)`` (the message's header or columns, or None;
    ``"inbound"`` to read, ``"outbound"`` to write), a
    transport's as ``factory(settings, secrets, default_pattern)`` (secrets keyed by the
    ``_env`` field's name without the suffix, ``name:key`` for a mapping of variables),
    a receiver's as ``factory(settings, secrets)`` returning a :class:`Receiver`.

    ``capabilities`` is what the adapter can do at all; ``configured`` optionally narrows
    it to what given settings enable (a pull with only an item path cannot page).
    """

    kind: AdapterKind
    name: str
    summary: str
    settings: type[BaseModel]
    factory: Callable[..., object]
    capabilities: frozenset[Capability]
    configured: Callable[[BaseModel], frozenset[Capability]] | None = None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def enabled(self, settings: BaseModel) -> frozenset[Capability]:
        """The capabilities these settings make use of (never more than declared)."""
        if self.configured is None:
            return self.capabilities
        return self.configured(settings) & self.capabilities
