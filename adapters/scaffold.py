"""Drafting a new partner's mapping from one sample file.

An integrator starts from the partner's sheet and a sample; this writes the parts a
machine can guess (encoding, separator, header, date and amount formats, the codes seen)
and marks every guess with a comment, so the draft loads and the conformance run can
show what is left to decide.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import yaml

from adapters.codecs.csv.codec import CsvCodec
from adapters.codecs.csv.sniff import SniffedCsv, ValueFormat, sniff_dialect
from hub.ports import Record

_CODE_SHAPE = re.compile(r"^[A-Z0-9_]{1,12}$")
_REFERENCE_WORDS = ("réf", "ref", "order", "commande", "dossier", "case")


@dataclass(frozen=True)
class Draft:
    """A mapping draft and what the integrator must still do."""

    yaml_text: str
    codes_seen: dict[str, int]
    code_column: str | None
    to_do: list[str]


def _quote(value: str) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_style='"').strip()


def _best(sniffed: SniffedCsv, wanted: ValueFormat) -> str | None:
    for column in sniffed.columns:
        if any(m.format is wanted and m.exact and m.total for m in column.formats):
            return column.name
    return None


def _code_column(records: list[Record], header: tuple[str, ...]) -> tuple[str | None, Counter[str]]:
    best: tuple[str | None, Counter[str]] = (None, Counter())
    for name in header:
        values = Counter(v.strip() for r in records if (v := r.fields.get(name)) and v.strip())
        if not values or not all(_CODE_SHAPE.match(v) for v in values):
            continue
        if len(values) <= 40 and len(values) > len(best[1]):
            best = (name, values)
    return best


def draft_mapping(partner: str, sample: bytes, sample_name: str) -> Draft:
    """A loadable mapping file for ``partner`` that reads files like ``sample``."""
    sniffed = sniff_dialect(sample)
    records = [
        item
        for item in CsvCodec(sniffed.to_dialect()).decode(sample, source=sample_name)
        if isinstance(item, Record)
    ]
    code_column, codes = _code_column(records, sniffed.header)
    to_do: list[str] = []
    fields: list[str] = []

    instant = _best(sniffed, ValueFormat.DATETIME_ISO_OFFSET)
    local_instant = _best(sniffed, ValueFormat.DATETIME_ISO_LOCAL)
    day = _best(sniffed, ValueFormat.DATE_DMY) or _best(sniffed, ValueFormat.DATE_ISO)
    clock = _best(sniffed, ValueFormat.TIME_HM)
    if instant or local_instant:
        fields.append(
            f"      occurred_at: {{column: {_quote(instant or local_instant or '')}, "
            "format: iso8601, required: true}"
        )
        if not instant:
            to_do.append("times have no offset: check the timezone line")
    elif day:
        day_format = "%d/%m/%Y" if _best(sniffed, ValueFormat.DATE_DMY) else "%Y-%m-%d"
        if clock:
            fields.append(
                f"      occurred_at: {{columns: [{_quote(day)}, {_quote(clock)}], "
                f'format: "{day_format} %H:%M", required: true}}'
            )
        else:
            fields.append(
                f'      occurred_at: {{column: {_quote(day)}, format: "{day_format}", '
                "required: true}"
            )
        to_do.append("times have no offset: check the timezone line")
    else:
        fields.append('      occurred_at: {const: "1970-01-01T00:00:00Z"}  # guess: none found')
        to_do.append("no date column was recognised: say where occurred_at comes from")

    if code_column:
        fields.append(f"      raw_code: {{column: {_quote(code_column)}, required: true}}")
    else:
        fields.append("      raw_code: {const: UNKNOWN}  # guess: no code column found")
        to_do.append("no status-code column was recognised: say where raw_code comes from")

    references = [
        name for name in sniffed.header if any(word in name.lower() for word in _REFERENCE_WORDS)
    ]
    if references:
        fields.append(f"      case_ref: {{column: {_quote(references[0])}}}  # guess: check")
        if len(references) > 1:
            fields.append(f"      partner_ref: {{column: {_quote(references[1])}}}  # guess")
    else:
        to_do.append("no reference column was recognised: say where case_ref comes from")
    for column in sniffed.columns:
        if column.decimal_separator == "," and any(
            m.format is ValueFormat.DECIMAL_COMMA
            and m.exact
            and not any(o.format is ValueFormat.INTEGER and o.exact for o in column.formats)
            for m in column.formats
        ):
            fields.append(
                f'      quote_amount: {{column: {_quote(column.name)}, decimal: ","}}  # guess'
            )
            break

    encoding = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "latin-1": "latin-1"}[sniffed.encoding]
    terminator = "\\n" if sniffed.line_terminator == "\n" else "\\r\\n"
    header = ", ".join(_quote(name) for name in sniffed.header)
    code_lines = [
        f"      {_quote(code)}: null   # seen {count} time(s): give its canonical status"
        for code, count in sorted(codes.items())
    ]
    if code_lines:
        to_do.append(f"map the {len(code_lines)} code(s) listed under codes")
    text = "\n".join(
        [
            f"# Draft mapping for {partner}, written by `hub adapters new` from {sample_name}.",
            "# Every line marked 'guess' was inferred from the sample: check it against the",
            "# partner's sheet. See docs/new-partner.md.",
            "version: 1",
            f"partner: {partner}",
            "timezone: Europe/Paris   # guess: the zone of the partner's local times",
            "",
            "messages:",
            "  status:",
            "    direction: inbound",
            f"    file_pattern: {_quote(_pattern(sample_name))}   # guess",
            "    codec:",
            "      type: csv",
            f"      encoding: {encoding}",
            f"      delimiter: {_quote(sniffed.delimiter)}",
            f'      line_terminator: "{terminator}"',
            f"    header: [{header}]",
            "    event_type: case_status   # or shipment_status, parts_order_status",
            "    fields:",
            *fields,
            "    codes:" if code_lines else "    codes: {}",
            *code_lines,
            "",
        ]
    )
    return Draft(text, dict(codes), code_column, to_do)


def _pattern(sample_name: str) -> str:
    """STATUTS_20261103_1415.csv -> STATUTS_*.csv: digits and what follows become a star."""
    stem, dot, suffix = sample_name.partition(".")
    head = re.split(r"[_-]?\d", stem, maxsplit=1)[0]
    return f"{head}_*{dot}{suffix}" if head != stem else sample_name
