"""The pure half of ingestion: a codec and a mapping turn bytes into events and rejects.

Kept apart from storing so that replay, conformance and benchmarks parse exactly as a
run does without touching the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import cast

from hub.errors import Location, PartnerDataError
from hub.mapping.inbound import InboundMapping, RowPlan
from hub.model.event import Event
from hub.partners.ingest.sequence import SequenceMark, read_mark
from hub.partners.rejection import WHOLE_MESSAGE_REJECTED
from hub.ports import Codec, Columns, DecodeResult, DocumentCodec, Record, Row, RowCodec


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


def _rejected_whole(whole: PartnerDataError) -> MessageRejected:
    """A codec's refusal of the whole message (a header it cannot read, an unclosed
    quote), said as the message's rejection: what records and rows alike end with."""
    return MessageRejected(
        WHOLE_MESSAGE_REJECTED + whole.reason, location=whole.location, raw=whole.raw
    )


_ROW_CODECS: dict[type, bool] = {}
"""Whether each codec type met is a ``RowCodec`` (a handful of types)."""

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
        rows = self._rows(content, source)
        if rows is not None:
            yield from self._parse_rows(rows, source, recorded_at)
            return
        records = self.codec.decode(content, source=source)
        while True:
            try:
                item = next(records)
            except StopIteration:
                return
            except PartnerDataError as whole:
                yield _rejected_whole(whole)
                return
            if isinstance(item, Record):
                yield self.mapping.map_record(item, source=source, recorded_at=recorded_at)
            else:
                yield item

    def _rows(self, content: bytes, source: str) -> Iterator[Columns | Row | DecodeResult] | None:
        """The message as rows, when the codec gives rows (``RowCodec``, asked once a
        pipeline) and the mapping has a plan; else None: records, as ever."""
        if not self._reads_rows:
            return None
        return cast(RowCodec, self.codec).decode_rows(content, source=source)

    @cached_property
    def _reads_rows(self) -> bool:
        """Asked once a pipeline, and once a codec's type: a runtime protocol's isinstance
        walks the protocol's members (about 13 µs), and a push builds its pipeline."""
        if self.mapping is None:
            return False
        kind = type(self.codec)
        reads = _ROW_CODECS.get(kind)
        if reads is None:
            reads = _ROW_CODECS[kind] = isinstance(self.codec, RowCodec)
        return reads

    def _parse_rows(
        self,
        rows: Iterator[Columns | Row | DecodeResult],
        source: str,
        recorded_at: datetime,
    ) -> Iterator[Event | PartnerDataError]:
        """``parse`` over rows: each by the mapping's row plan, read by its cells'
        places; a row the plan hands on (or every row, without one) made the record
        ``decode`` would have given, and mapped as ``parse`` maps it."""
        codec = cast(RowCodec, self.codec)
        mapping = self.mapping
        columns = Columns()
        plan: RowPlan | None = None
        while True:
            try:
                item = next(rows)
            except StopIteration:
                return
            except PartnerDataError as whole:
                yield _rejected_whole(whole)
                return
            if type(item) is tuple:  # a Row (no cast: a call a row)
                if plan is not None:
                    event = plan(item[1], recorded_at)  # type: ignore[arg-type]
                    if event is not None:
                        yield event
                        continue
                    record = codec.row_record(columns, item)  # type: ignore[arg-type]
                    yield mapping.map_record_in_full(record, source=source, recorded_at=recorded_at)
                    continue
                record = codec.row_record(columns, item)  # type: ignore[arg-type]
                yield mapping.map_record(record, source=source, recorded_at=recorded_at)
            elif isinstance(item, Columns):
                columns = item
                plan = mapping.row_plan(columns)
            elif isinstance(item, Record):
                yield mapping.map_record(item, source=source, recorded_at=recorded_at)
            else:
                yield item  # type: ignore[misc]

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
