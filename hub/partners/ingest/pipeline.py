"""The pure half of ingestion: a codec and a mapping turn bytes into events and rejects.

Kept apart from storing so that replay, conformance and benchmarks parse exactly as a
run does without touching the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from hub.errors import PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.model.event import Event
from hub.partners.ingest.sequence import SequenceMark, read_mark
from hub.ports import Codec, Record


class MessageRejected(PartnerDataError):
    """The whole message is unusable (its header changed, it is not CSV...)."""


@dataclass(frozen=True)
class InboundPipeline:
    """The pure half of ingestion: bytes to events and rejects, no store involved."""

    codec: Codec
    mapping: InboundMapping

    def parse(
        self, content: bytes, *, source: str, recorded_at: datetime
    ) -> Iterator[Event | PartnerDataError]:
        """Every record's event or rejection, in file order; never raises for bad data."""
        records = self.codec.decode(content, source=source)
        while True:
            try:
                item = next(records)
            except StopIteration:
                return
            except PartnerDataError as whole:
                yield MessageRejected(
                    f"the whole message is rejected: {whole.reason}",
                    location=whole.location,
                    raw=whole.raw,
                )
                return
            if isinstance(item, Record):
                yield self.mapping.map_record(item, source=source, recorded_at=recorded_at)
            else:
                yield item

    def sequence_mark(self, content: bytes, *, source: str) -> SequenceMark | None:
        """The file's sequence number and date, when the mapping numbers its files."""
        spec = self.mapping.spec.sequence
        if spec is None:
            return None
        return read_mark(spec, self.codec, content, source=source)
