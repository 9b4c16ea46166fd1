"""The pure half of ingestion: a codec and a mapping turn bytes into events and rejects.

Kept apart from storing so that replay, conformance and benchmarks parse exactly as a
run does without touching the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from hub.errors import Location, PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.model.event import Event
from hub.partners.ingest.sequence import SequenceMark, read_mark
from hub.partners.rejection import WHOLE_MESSAGE_REJECTED
from hub.ports import Codec, DocumentCodec, Record


class MessageRejected(PartnerDataError):
    """The whole message is unusable (its header changed, it is not CSV...)."""


class ErrorAnswer(MessageRejected):
    """The partner answered an error ("no shipment found", a SOAP Fault) where the
    message was expected, as the mapping's ``error_answer`` describes: rejected whole,
    quoting the partner's code and message, never "0 events, 0 rejects"."""


def dry_run_line(event: Event) -> bytes:
    """The event as the dry run prints it: one JSON line, UTF-8, without ``recorded_at``
    (which only says when the command ran).

    The bytes ``model_dump_json(exclude={"recorded_at"})`` writes, newline added, from the
    model's serializer itself: ``model_dump_json`` decodes them to text, which the
    terminal's stream then encodes back (a microsecond an event, a sixth of a line).
    """
    # A set, not a frozenset: pydantic-core reads any other collection item by item.
    return type(event).__pydantic_serializer__.to_json(event, exclude={"recorded_at"}) + b"\n"


_RAW_CHARS = 2_000
"""The start of an error answer kept with its reject (the whole answer is archived)."""


@dataclass(frozen=True)
class InboundPipeline:
    """The pure half of ingestion: bytes to events and rejects, no store involved."""

    codec: Codec
    mapping: InboundMapping

    def parse(
        self, content: bytes, *, source: str, recorded_at: datetime
    ) -> Iterator[Event | PartnerDataError]:
        """Every record's event or rejection, in file order; never raises for bad data."""
        answered = self._error_answer(content, source)
        if answered is not None:
            yield answered
            return
        records = self.codec.decode(content, source=source)
        while True:
            try:
                item = next(records)
            except StopIteration:
                return
            except PartnerDataError as whole:
                yield MessageRejected(
                    WHOLE_MESSAGE_REJECTED + whole.reason,
                    location=whole.location,
                    raw=whole.raw,
                )
                return
            if isinstance(item, Record):
                yield self.mapping.map_record(item, source=source, recorded_at=recorded_at)
            else:
                yield item

    def _error_answer(self, content: bytes, source: str) -> ErrorAnswer | None:
        """The rejection of a document the mapping's ``error_answer`` recognises. A
        document whose fields cannot be read is left to ``decode``, which says why."""
        if self.mapping is None:
            return None  # a codec's own tests, refusing files whole
        spec = self.mapping.spec.error_answer
        # The mapping asked first: a runtime protocol's isinstance walks the protocol's
        # members at every call, 150 k instructions, 1.7 % of a small file (issue 17).
        if spec is None or not isinstance(self.codec, DocumentCodec):
            return None  # no error answer described; or no document fields to read it
        try:
            document = self.codec.document_fields(content, source=source)
        except PartnerDataError:
            return None
        said = self.mapping.error_answer(document)
        if said is None:
            return None
        return ErrorAnswer(
            WHOLE_MESSAGE_REJECTED + said,
            location=Location(source, None, spec.when),
            raw=content[:_RAW_CHARS].decode("utf-8", errors="replace"),
        )

    def sequence_mark(self, content: bytes, *, source: str) -> SequenceMark | None:
        """The file's sequence number and date, when the mapping numbers its files."""
        spec = self.mapping.spec.sequence
        if spec is None:
            return None
        return read_mark(spec, self.codec, content, source=source)
