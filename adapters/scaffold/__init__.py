"""Drafting a new partner's mapping from one sample file, for `hub adapters new`.

The format is told from the bytes (and the file's extension when the bytes leave it
open); each format's reader (one module each) writes the codec block and reads the
sample with that very codec; the guesses (time, status code, references) and the
writing of the draft are shared. What the sample cannot say is left out, so that loading
the draft names it, rather than written as a placeholder that would pass the checks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from adapters.sample_format import SampleFormat
from adapters.scaffold.csv_layout import csv_layout
from adapters.scaffold.edifact_layout import edifact_layout
from adapters.scaffold.fixed_width_layout import fixed_width_layout
from adapters.scaffold.guess import guess_targets
from adapters.scaffold.json_layout import json_layout
from adapters.scaffold.layout import Layout, file_pattern
from adapters.scaffold.render import render
from adapters.scaffold.xml_layout import xml_layout
from hub.errors import ConfigurationError

__all__ = ["Draft", "SampleFormat", "detect_format", "draft_mapping"]


_READERS: dict[SampleFormat, Callable[[bytes, str], Layout]] = {
    SampleFormat.CSV: csv_layout,
    SampleFormat.JSON: json_layout,
    SampleFormat.XML: xml_layout,
    SampleFormat.EDIFACT: edifact_layout,
    SampleFormat.FIXED_WIDTH: fixed_width_layout,
}


@dataclass(frozen=True)
class Draft:
    """A mapping draft and what the integrator must still do."""

    yaml_text: str
    format: SampleFormat
    codes_seen: dict[str, int]
    code_column: str | None
    to_do: list[str]


def _delimited(text: str) -> bool:
    """Lines cut by one delimiter the same number of times (quotes respected)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (";", ",", "\t", "|"):
        counts = [
            len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        ]
        if counts and counts[0] > 1 and sum(c == counts[0] for c in counts) >= 0.8 * len(counts):
            return True
    return False


def detect_format(sample: bytes, sample_name: str) -> SampleFormat:
    """What the sample is: JSON, XML, EDIFACT by their first bytes; delimited or fixed-width
    lines by whether one delimiter cuts every line alike (the extension decides a tie)."""
    head = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        try:
            json.loads(sample.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ConfigurationError(f"{sample_name} starts like JSON but is not: {exc}") from exc
        return SampleFormat.JSON
    if head[:1] == b"<":
        return SampleFormat.XML
    if head[:3] in (b"UNA", b"UNB"):
        return SampleFormat.EDIFACT
    suffix = PurePath(sample_name).suffix.lower()
    if suffix in (".edi", ".edifact"):
        return SampleFormat.EDIFACT
    text = sample.decode("latin-1")
    if suffix in (".csv", ".tsv") or _delimited(text):
        return SampleFormat.CSV
    return SampleFormat.FIXED_WIDTH


def draft_mapping(
    partner: str, sample: bytes, sample_name: str, *, sample_format: SampleFormat | None = None
) -> Draft:
    """A mapping draft for ``partner`` that reads files like ``sample``."""
    if not sample.strip():
        raise ConfigurationError(f"{sample_name} is empty: a draft needs a sample with records")
    kind = sample_format or detect_format(sample, sample_name)
    layout = _READERS[kind](sample, sample_name)
    if not layout.records:
        reasons = "; ".join(str(r) for r in layout.rejects[:3]) or "no record found"
        raise ConfigurationError(
            f"{sample_name}: read as {kind.value}, the sample gives no record ({reasons}); "
            "give --format if the format was mistaken"
        )
    guesses = guess_targets(layout.records, layout.order, layout.hints, layout.inherited)
    text, to_do = render(
        partner, sample_name, kind.value, file_pattern(sample_name), layout, guesses
    )
    if layout.rejects:
        to_do.append(
            f"{len(layout.rejects)} record(s) of the sample are rejected by the drafted codec: "
            f"first {layout.rejects[0]}"
        )
    return Draft(text, kind, dict(guesses.codes), guesses.code, to_do)
