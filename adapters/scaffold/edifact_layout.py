"""A UN/EDIFACT sample: separators from its UNA (or the standard's), one record per
segment group, the group's leading tag known for common messages (IFTSTA's CNI) or found
as the first repeating segment that is not a qualified detail (DTM, RFF, LOC...). Every
value of a group's segments becomes a field named by its path."""

from __future__ import annotations

from collections import Counter
from typing import Any

from adapters.codecs.edifact.codec import EdifactCodec
from adapters.codecs.edifact.spec import EdifactCodecSpec
from adapters.scaffold.layout import Layout, field_name, records_of, settings_of
from hub.errors import ConfigurationError

__all__ = ["edifact_layout"]

Segment = tuple[str, list[list[str]]]
"""A tag and its elements, each a list of components."""

_SERVICE = frozenset({"UNA", "UNB", "UNG", "UNH", "UNT", "UNE", "UNZ"})
# Segments whose first component is a qualifier, usually several in one group.
_QUALIFIED = frozenset(
    {"DTM", "RFF", "LOC", "NAD", "FTX", "QTY", "MOA", "PRI", "PIA", "IMD", "MEA", "CTA",
     "COM", "TDT", "GIN", "PCI", "ALI", "DOC", "TOD", "TSR", "CNT", "EQD", "SEL"}
)  # fmt: skip
# The group each record is, for messages whose guides say so.
_LEADING = {
    "IFTSTA": "CNI", "IFTMIN": "CNI", "IFTMCS": "CNI", "DESADV": "CPS", "ORDERS": "LIN",
    "ORDRSP": "LIN", "ORDCHG": "LIN", "INVOIC": "LIN", "RECADV": "CPS", "INVRPT": "LIN",
}  # fmt: skip
# What the standard says some values are.
_HINTS = {
    "CNI/2": "tracking_number",  # the consignment's number
    "RFF[CU]/1/2": "case_ref",  # the consignor's reference
    "DTM[334]/1/2": "occurred_at",  # the status event's date and time
    "STS/2/1": "raw_code",  # the status
    "FTX[AAA]/4": "note",
}
_DTM_FORMATS = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}


def _split(text: str, separator: str, release: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(release + char)
            escaped = False
        elif char == release:
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str, release: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped or char != release:
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def segments(text: str) -> tuple[list[Segment], str]:
    """The interchange's segments, and where its separators came from."""
    text = text.lstrip("\ufeff \r\n")
    component, element, release, terminator = ":", "+", "?", "'"
    origin = "the standard's separators (no UNA)"
    if text.startswith("UNA") and len(text) >= 9:
        component, element, release, terminator = text[3], text[4], text[6], text[8]
        text = text[9:]
        origin = f"separators from the UNA: {component} {element} {release} {terminator}"
    found: list[Segment] = []
    for raw in _split(text, terminator, release):
        raw = raw.strip("\r\n ")
        if not raw:
            continue
        tag, *data = _split(raw, element, release)
        found.append(
            (tag, [[_unescape(c, release) for c in _split(e, component, release)] for e in data])
        )
    return found, origin


def _leading(messages: list[list[Segment]], kinds: set[str]) -> str:
    for kind in kinds:
        if kind in _LEADING:
            return _LEADING[kind]
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for message in messages:
        for position, (tag, _) in enumerate(message):
            counts[tag] += 1
            first[tag] = min(first.get(tag, position), position)
    repeating = [t for t in counts if counts[t] > 1 and t not in _QUALIFIED and t != "BGM"]
    if not repeating:
        repeating = [t for t in counts if t != "BGM"] or list(counts)
    return min(repeating, key=lambda t: first[t])


def edifact_layout(sample: bytes, sample_name: str) -> Layout:
    """The edifact codec block for interchanges like ``sample``, and the groups it reads."""
    unb_text = sample.decode("latin-1")
    found, origin = segments(unb_text)
    syntax = next((e[0][0] for tag, e in found if tag == "UNB" and e and e[0]), "")
    messages: list[list[Segment]] = []
    kinds: set[str] = set()
    for tag, data in found:
        if tag == "UNH":
            messages.append([])
            if len(data) > 1 and data[1]:
                kinds.add(data[1][0])
        elif tag == "UNT" or tag in _SERVICE:
            continue
        elif messages:
            messages[-1].append((tag, data))
    leading = _leading(messages, kinds)
    paths: dict[str, str] = {}  # path -> name
    for message in messages:
        inside = False
        for tag, data in message:
            inside = inside or tag == leading
            if not inside:
                continue
            qualifier = (
                data[0][0] if tag in _QUALIFIED and data and data[0] and data[0][0] else None
            )
            head = f"{tag}[{qualifier}]" if qualifier else tag
            for e, element in enumerate(data, start=1):
                for c, value in enumerate(element, start=1):
                    if not value or (qualifier and (e, c) == (1, 1)):
                        continue
                    if tag == "DTM" and (e, c) == (1, 3):
                        continue  # the date's format code: said by the format guessed
                    path = f"{head}/{e}/{c}" if len(element) > 1 or c > 1 else f"{head}/{e}"
                    paths.setdefault(path, tag)
    # A value written as TAG/e where another occurrence has components: use TAG/e/1 then.
    for path in [p for p in paths if p.count("/") == 1]:
        if f"{path}/1" in paths:
            del paths[path]
    taken: set[str] = set()
    fields: dict[str, str] = {}
    hints: dict[str, str] = {}
    for path in paths:
        name = field_name(path.lower().replace("[", "_").replace("]", "").replace("/", "_"), taken)
        fields[name] = path
        target = _HINTS.get(path) or _HINTS.get(f"{path}/1")
        if target is None and path.startswith("LOC["):
            target = {"/2/1": "location_id", "/2/4": "location_name"}.get(path[-4:])
        if target:
            hints[name] = target
    codec: dict[str, Any] = {"type": "edifact", "record": leading}
    if syntax:
        codec["encoding"] = syntax
    codec["fields"] = fields
    try:
        codec_instance = EdifactCodec(EdifactCodecSpec.model_validate(settings_of(codec)))
    except (ConfigurationError, ValueError) as exc:
        raise ConfigurationError(
            f"{sample_name}: the drafted edifact codec is refused: {exc}"
        ) from exc
    records, rejects = records_of(codec_instance.decode(sample, source=sample_name))
    about = [
        f"Interchange read with {origin}; messages {', '.join(sorted(kinds)) or '(none)'}.",
        f"Records: the {leading} groups ({len(records)} read).",
        "Field names are their segment paths: TAG[qualifier]/element/component.",
    ]
    to_do = []
    dtm_formats = {e[0][2] for tag, e in found if tag == "DTM" and e and len(e[0]) > 2 and e[0][2]}
    unknown = sorted(dtm_formats - set(_DTM_FORMATS))
    if unknown:
        to_do.append(f"DTM format code(s) {', '.join(unknown)}: check occurred_at's format")
    return Layout(
        codec=codec,
        records=records,
        order=list(fields),
        hints=hints,
        rejects=rejects,
        about=about,
        to_do=to_do,
    )
