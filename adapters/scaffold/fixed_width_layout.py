"""A fixed-width sample: record types told apart by a prefix of common length (01, 02,
09), a header and a trailer when a type only starts or ends the file, the most frequent
other type the detail and the rest its children; fields are the runs of columns that
hold something on some line of the type, cut where every line changes from letters to
digits."""

from __future__ import annotations

from collections import Counter
from typing import Any

from adapters.codecs.fixed_width.codec import FixedWidthCodec
from adapters.codecs.fixed_width.spec import FixedWidthCodecSpec
from adapters.scaffold.layout import Layout, records_of, settings_of
from hub.errors import ConfigurationError

__all__ = ["fixed_width_layout"]


def _decode(sample: bytes) -> tuple[str, str]:
    try:
        if sample.startswith(b"\xef\xbb\xbf"):
            return sample.decode("utf-8-sig"), "utf-8-sig"
        return sample.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return sample.decode("iso-8859-15"), "iso-8859-15"


def _prefix_length(lines: list[str]) -> int:
    """The shortest prefix that tells lines into 2 to 9 types; 1 line type: its first
    character (a file of one kind of line still needs a prefix)."""
    for length in range(1, 5):
        kinds = {line[:length] for line in lines}
        if 2 <= len(kinds) <= 9 and all(k.strip() == k and k for k in kinds):
            return length
    return 1


def _kind(char: str) -> str:
    return "digit" if char.isdigit() else "alpha" if char.isalpha() else "other"


def _runs(lines: list[str], start: int) -> list[tuple[int, int]]:
    """1-based inclusive (start, end) of each field of lines of one type: a field ends
    where no line has text running across into the next column, or where every line
    goes from letters to digits or back (RECU000189 is a code then an amount)."""
    width = max(len(line) for line in lines)
    padded = [line.ljust(width) for line in lines]

    def joined(k: int, begin: int) -> bool:  # columns k-1 and k belong to one field
        both = [line for line in padded if line[k - 1] != " " and line[k] != " "]
        if not both:
            return False
        if k - begin < 3 or k + 2 > width:
            return True  # a letter or two before digits is a prefix (SN8842), not a field
        pairs = {(_kind(line[k - 1]), _kind(line[k])) for line in both}
        return not all(a != b and "other" not in (a, b) for a, b in pairs)

    runs: list[tuple[int, int]] = []
    begin = start
    for k in range(start + 1, width + 1):
        if k < width and joined(k, begin):
            continue
        filled = [i for i in range(begin, k) if any(line[i] != " " for line in padded)]
        if filled:
            runs.append((filled[0] + 1, filled[-1] + 1))
        begin = k
    return runs


def fixed_width_layout(sample: bytes, sample_name: str) -> Layout:
    """The fixed_width codec block for files like ``sample``, and the records it reads."""
    text, encoding = _decode(sample)
    terminator = "\r\n" if "\r\n" in text else "\n"
    lines = [line for line in text.split(terminator) if line.strip()]
    if not lines:
        raise ConfigurationError(f"{sample_name}: the sample has no line to learn from")
    length = _prefix_length(lines)
    by_prefix: dict[str, list[str]] = {}
    for line in lines:
        by_prefix.setdefault(line[:length], []).append(line)
    counts = Counter(line[:length] for line in lines)
    first, last = lines[0][:length], lines[-1][:length]
    roles: dict[str, str] = {}
    if len(counts) > 1 and counts[first] == 1:
        roles[first] = "header"
    if len(counts) > 1 and counts[last] == 1 and last not in roles:
        roles[last] = "trailer"
    others = [p for p in counts if p not in roles]
    if not others:  # two lines of two types: no header and trailer without a detail
        roles.clear()
        others = list(counts)
    detail = max(others, key=lambda p: (counts[p], -lines.index(by_prefix[p][0])))
    records: dict[str, Any] = {}
    for prefix in by_prefix:
        role = roles.get(prefix) or ("detail" if prefix == detail else "child")
        name = role if role != "child" else f"line_{prefix.lower()}"
        fields = {
            f"pos{s}_{e}": {"start": s, "end": e} for s, e in _runs(by_prefix[prefix], length)
        }
        spec: dict[str, Any] = {"prefix": prefix}
        if role != "detail":
            spec["role"] = role
        if role == "child":
            spec["child_of"] = "detail"
        spec["fields"] = fields
        records[name] = spec
    controls = {part: "required" for part in ("header", "trailer") if part in roles.values()}
    codec: dict[str, Any] = {
        "type": "fixed_width",
        "encoding": encoding,
        "line_length": max(len(line) for line in lines),
    }
    if terminator == "\r\n":
        codec["line_terminator"] = "\r\n"
    codec["records"] = records
    if controls:
        codec["controls"] = controls
    try:
        codec_instance = FixedWidthCodec(FixedWidthCodecSpec.model_validate(settings_of(codec)))
    except (ConfigurationError, ValueError) as exc:
        raise ConfigurationError(
            f"{sample_name}: the drafted fixed_width codec is refused: {exc}"
        ) from exc
    decoded, rejects = records_of(codec_instance.decode(sample, source=sample_name))
    detail_fields = list(records["detail"]["fields"])
    about = [
        f"Record types by their first {length} character(s): "
        + ", ".join(f"{p!r} {roles.get(p) or ('detail' if p == detail else 'child')} "
                    f"({counts[p]} line(s))" for p in by_prefix),
        "Fields are named by their positions (pos<start>_<end>): rename them from the sheet.",
    ]  # fmt: skip
    to_do = [
        "name the fixed-width fields from the partner's sheet (pos<start>_<end> now), and "
        "check where each starts and ends: two fields written side by side read as one"
    ]
    if "trailer" in roles.values():
        to_do.append(
            "the trailer may count lines or sum amounts: say so under codec.controls "
            "(count, totals) so a file cut short is refused"
        )
    return Layout(
        codec=codec,
        records=decoded,
        order=detail_fields,
        rejects=rejects,
        about=about,
        to_do=to_do,
    )
