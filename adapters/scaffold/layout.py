"""What each format's reader hands the drafting: the codec block it wrote and the records
that codec reads from the sample.

The records come from the real codec built with the drafted settings, so the values the
guesses look at are exactly those the mapping will see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePath
from typing import Any

from hub.errors import PartnerDataError
from hub.ports import DecodeResult, Record

__all__ = ["Layout", "field_name", "file_pattern", "records_of", "settings_of"]


@dataclass
class Layout:
    """One sample read by one format's reader."""

    codec: dict[str, Any]
    """The codec block of the mapping, ``type`` first, as YAML will write it."""
    records: list[dict[str, str | None]]
    """The records the drafted codec reads from the sample, in order."""
    order: list[str]
    """The record's field names in the order the sample shows them."""
    header: list[str] | None = None
    inherited: frozenset[str] = frozenset()
    """Fields read from the object enclosing each record (JSON ``^``, XML ``../``)."""
    hints: dict[str, str] = field(default_factory=dict)
    """Field -> target, for what the format itself says (EDIFACT's CNI/2 is a consignment)."""
    about: list[str] = field(default_factory=list)
    """Lines for the head of the draft: what was found and how."""
    to_do: list[str] = field(default_factory=list)
    extra_fields: list[str] = field(default_factory=list)
    """Mapping field lines the format's reader can write itself (a CSV decimal comma)."""
    rejects: list[PartnerDataError] = field(default_factory=list)


def records_of(
    results: Iterable[DecodeResult],
) -> tuple[list[dict[str, str | None]], list[PartnerDataError]]:
    """A codec's records as plain dicts, and what it rejected."""
    records: list[dict[str, str | None]] = []
    rejects: list[PartnerDataError] = []
    for item in results:
        if isinstance(item, Record):
            records.append(dict(item.fields))
        elif isinstance(item, PartnerDataError):
            rejects.append(item)
    return records, rejects


def field_name(text: str, taken: set[str]) -> str:
    """A record field's name from a key, tag or column: letters, digits and _, unique."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_") or "field"
    if name[0].isdigit():
        name = f"f{name}"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.add(unique)
    return unique


def named_fields(
    own: dict[str, str], above: dict[str, str]
) -> tuple[dict[str, str], frozenset[str]]:
    """Field name -> path for a record's own values (path -> key) and those it reads from
    what encloses it, these named ``parent_<key>`` when the record has its own; and the
    names read from above."""
    taken: set[str] = set()
    fields = {field_name(key, taken): path for path, key in own.items()}
    inherited: set[str] = set()
    for path, key in above.items():
        unique = field_name(key if key not in taken else f"parent_{key}", taken)
        fields[unique] = path
        inherited.add(unique)
    return fields, frozenset(inherited)


def file_pattern(sample_name: str) -> str:
    """The sample's name with its varying part starred, so that the pattern matches it:
    parcel_events_CE123.json -> parcel_events_*.json, STATUTS_20261103_1415.csv ->
    STATUTS_*.csv. The varying part starts at the first piece holding a digit."""
    suffix = PurePath(sample_name).suffix
    stem = sample_name[: len(sample_name) - len(suffix)] if suffix else sample_name
    pieces = re.split(r"([_.\-])", stem)
    kept: list[str] = []
    for piece in pieces:
        if any(c.isdigit() for c in piece):
            break
        kept.append(piece)
    head = "".join(kept)
    pattern = f"{head}*{suffix}" if len(head) < len(stem) else f"{stem}*{suffix}"
    return pattern if fnmatchcase(sample_name, pattern) else sample_name


def settings_of(codec: dict[str, Any]) -> dict[str, Any]:
    """A codec block without its ``type``: what the codec's settings model validates."""
    return {key: value for key, value in codec.items() if key != "type"}
