"""Sequence numbers between files: the pure half (read a file's number, judge it against
the last one kept), so that any file codec's partner can say "+1 per file".

A gap means a file was lost at the partner's end; only an operator can ask for it, so it
is flagged, never refused: the file in hand is sound. A number seen again or an older one
is told too (a file re-sent, or files out of order). A series that starts again (each
1 January, say) is no gap when the file's date opens a new period.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from hub.errors import PartnerDataError
from hub.mapping.spec import SequenceSpec
from hub.ports import Codec

__all__ = ["SequenceMark", "SequenceVerdict", "WarningKind", "judge", "read_mark"]


class WarningKind(StrEnum):
    """What kind of file warning: each is shown and counted apart from rejects."""

    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_REPEATED = "sequence_repeated"
    SEQUENCE_OLDER = "sequence_older"


@dataclass(frozen=True)
class SequenceMark:
    """A file's sequence number and date, and the file it came from."""

    number: int
    text: str
    on: date | None
    source: str

    def dump(self) -> str:
        """As kept in the store (the connector's ``sequence`` cursor)."""
        return json.dumps(
            {
                "number": self.number,
                "text": self.text,
                "date": None if self.on is None else self.on.isoformat(),
                "source": self.source,
            },
            sort_keys=True,
        )

    @classmethod
    def load(cls, value: str) -> SequenceMark:
        data = json.loads(value)
        on = data.get("date")
        return cls(
            int(data["number"]), str(data["text"]), on and date.fromisoformat(on), data["source"]
        )


@dataclass(frozen=True)
class SequenceVerdict:
    """A warning to keep about a file, and whether its number becomes the last one."""

    kind: WarningKind
    reason: str


def read_mark(
    spec: SequenceSpec, codec: Codec, content: bytes, *, source: str
) -> SequenceMark | None:
    """The file's number and date, or None when it has none the hub can read (a file
    without a header is refused by its own controls, not judged here)."""
    if spec.name_pattern is not None:
        found = re.search(spec.name_pattern, source.rsplit("/", 1)[-1])
        if found is None:
            return None
        text, day = found.group("seq"), found.groupdict().get("date")
    else:
        document_fields = getattr(codec, "document_fields", None)
        if document_fields is None:
            return None
        try:
            values = document_fields(content, source=source)
        except PartnerDataError:
            return None
        text = values.get(spec.field or "")
        day = values.get(spec.date_field) if spec.date_field else None
    if text is None or not text.strip().isdigit():
        return None
    on = None
    if day:
        try:
            on = datetime.strptime(day.strip(), spec.date_format).date()
        except ValueError:
            on = None
    return SequenceMark(int(text), text.strip(), on, source)


def _period(on: date | None, restart: str) -> tuple[int, ...] | None:
    if on is None or restart == "never":
        return None
    if restart == "yearly":
        return (on.year,)
    if restart == "monthly":
        return (on.year, on.month)
    return (on.year, on.month, on.day)


def judge(
    spec: SequenceSpec, last: SequenceMark | None, mark: SequenceMark
) -> SequenceVerdict | None:
    """None when the file follows the last one (or is the first seen); else the warning."""
    if last is None:
        return None
    before, now = _period(last.on, spec.restart), _period(mark.on, spec.restart)
    if before is not None and now is not None and now > before:
        if mark.number == spec.start:
            return None
        return SequenceVerdict(
            WarningKind.SEQUENCE_GAP,
            f"sequence gap: {mark.source} is number {mark.text}, but the series starts "
            f"again at {spec.start} with {mark.on}; the files before it are missing "
            f"(last received: {last.text} in {last.source})",
        )
    expected = last.number + 1
    if mark.number == expected:
        return None
    if mark.number > expected:
        missing = mark.number - expected
        numbers = str(expected) if missing == 1 else f"{expected} to {mark.number - 1}"
        return SequenceVerdict(
            WarningKind.SEQUENCE_GAP,
            f"sequence gap: {mark.source} is number {mark.text} after {last.text} "
            f"({last.source}): {missing} file{'s' if missing != 1 else ''} ({numbers}) "
            "lost at the partner's end; the file itself went in",
        )
    if mark.number == last.number:
        return SequenceVerdict(
            WarningKind.SEQUENCE_REPEATED,
            f"sequence repeated: {mark.source} has number {mark.text} again, as "
            f"{last.source} had; the file went in (its events already known are not doubled)",
        )
    return SequenceVerdict(
        WarningKind.SEQUENCE_OLDER,
        f"sequence older: {mark.source} has number {mark.text}, below the last one "
        f"({last.text} in {last.source}); the file went in, out of order",
    )


def advances(spec: SequenceSpec, last: SequenceMark | None, mark: SequenceMark) -> bool:
    """Whether the mark becomes the last one kept: only a number further on (or a new
    period's), so that a late file does not make the next one look like a gap."""
    if last is None:
        return True
    before, now = _period(last.on, spec.restart), _period(mark.on, spec.restart)
    if before is not None and now is not None and now != before:
        return now > before
    return mark.number > last.number
