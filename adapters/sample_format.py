"""The formats `hub adapters new` drafts a mapping from.

Apart from adapters.scaffold, whose readers import every codec: the command line names
these formats in its options, and must not load the codecs to start (issue 17)."""

from __future__ import annotations

from enum import StrEnum


class SampleFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    XML = "xml"
    EDIFACT = "edifact"
    FIXED_WIDTH = "fixed_width"
