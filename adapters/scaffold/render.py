"""The draft mapping file: the codec block a format's reader wrote, and the fields and
codes the guesses found, each marked so the integrator knows what to check."""

from __future__ import annotations

import yaml

from adapters.scaffold.guess import Guesses
from adapters.scaffold.layout import Layout
from hub.model.event import STATUS_SETS, EventType

__all__ = ["render"]

_OPTIONAL_HINT = {
    "tracking_number": "the parcel's number: links the event to its case",
    "case_ref": "the case's reference as the retailer gave it",
    "partner_ref": "the partner's own reference of the case",
    "partner_event_id": "the partner's id of the event: the same event twice is one",
}


def quote(value: str) -> str:
    """A YAML double-quoted scalar."""
    return yaml.safe_dump(value, allow_unicode=True, default_style='"', width=1000).strip()


def _scalar(value: object) -> str:
    if isinstance(value, str):
        if not any(c.isalnum() for c in value):
            return quote(value)  # a delimiter: ";" reads better quoted
        plain = yaml.safe_dump(value, allow_unicode=True, width=1000).removesuffix("\n...\n")
        return plain.strip() if "\n" not in plain.strip() else quote(value)
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def _key(key: str) -> str:
    return _scalar(key)  # quoted when YAML would read it otherwise (no, on, 09)


def _flow(data: dict[str, object]) -> str:
    return "{" + ", ".join(f"{_key(k)}: {_scalar(v)}" for k, v in data.items()) + "}"


def _block(data: dict[str, object], indent: int) -> list[str]:
    """A codec block as an integrator writes it: one line per option and per field,
    small leaves ({start: 3, end: 12}) on one line."""
    lines = []
    pad = " " * indent
    for key, value in data.items():
        if isinstance(value, dict) and value:
            small = len(value) <= 3 and key not in ("fields", "document_fields")
            if small and all(not isinstance(v, dict | list) for v in value.values()):
                lines.append(f"{pad}{_key(key)}: {_flow(value)}")
            else:
                lines.append(f"{pad}{_key(key)}:")
                lines.extend(_block(value, indent + 2))
        elif isinstance(value, list):
            lines.append(f"{pad}{_key(key)}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{pad}{_key(key)}: {_scalar(value)}")
    return lines


def _field_lines(guesses: Guesses, layout: Layout, event_type: EventType) -> list[str]:
    lines: list[str] = []
    time = guesses.time
    if time is None:
        lines.append(
            "      # occurred_at: no value of the sample reads as a date and time. Say which "
            "field it is, e.g."
        )
        lines.append(
            '      # occurred_at: {column: <field>, format: "%d/%m/%Y %H:%M", required: true}'
        )
    else:
        source = (
            f"column: {quote(time.fields[0])}"
            if len(time.fields) == 1
            else f"columns: [{', '.join(quote(f) for f in time.fields)}]"
        )
        format_text = time.format if time.format == "iso8601" else quote(time.format)
        zone = "" if time.has_offset else ", read in the mapping's timezone"
        lines.append(
            f"      occurred_at: {{{source}, format: {format_text}, required: true}}"
            f"   # guess: the values fit{zone}"
        )
    if guesses.code is None:
        lines.append(
            "      # raw_code: no field has the few short values of a status code. Say which, e.g."
        )
        lines.append("      # raw_code: {column: <field>, required: true}")
    else:
        lines.append(
            f"      raw_code: {{column: {quote(guesses.code)}, required: true}}"
            f"   # guess: {len(guesses.codes)} distinct value(s)"
        )
    for target, name in guesses.targets.items():
        why = _OPTIONAL_HINT.get(target, "")
        lines.append(
            f"      {target}: {{column: {quote(name)}}}   # guess{': ' + why if why else ''}"
        )
    lines.extend(layout.extra_fields)
    if event_type is EventType.SHIPMENT_STATUS and "tracking_number" not in guesses.targets:
        lines.append("      # tracking_number: {column: <field>}   # the parcel's number")
    return lines


def render(
    partner: str, sample_name: str, kind: str, pattern: str, layout: Layout, guesses: Guesses
) -> tuple[str, list[str]]:
    """The draft's text, and the steps left to the integrator."""
    to_do = list(layout.to_do)
    event_type = (
        EventType.SHIPMENT_STATUS if "tracking_number" in guesses.targets else EventType.CASE_STATUS
    )
    if guesses.time is None:
        to_do.append(
            "no field reads as a date and time: write occurred_at under fields "
            "(the draft does not load until you do)"
        )
    elif not guesses.time.has_offset:
        to_do.append("times carry no offset: check the timezone line")
    if guesses.code is None:
        to_do.append(
            "no field looks like a status code: write raw_code under fields "
            "(the draft does not load until you do)"
        )
    statuses = ", ".join(sorted(status.value for status in STATUS_SETS[event_type]))
    code_lines = [
        f"      {quote(code)}: null   # seen {count} time(s): give its {event_type.value}"
        for code, count in sorted(guesses.codes.items())
    ]
    if code_lines:
        to_do.append(
            f"map the {len(code_lines)} code(s) listed under codes to {event_type.value} "
            "statuses (null: seen, not mapped yet)"
        )
    zone_note = (
        "used only for times without an offset"
        if guesses.time is not None and guesses.time.has_offset
        else "the zone of the partner's local times"
    )
    kinds = "case_status, shipment_status or parts_order_status"
    lines = [
        f"# Draft mapping for {partner}, written by `hub adapters new` from {sample_name}",
        f"# ({kind}). Every line marked 'guess' was inferred from the sample: check it",
        "# against the partner's sheet. See docs/adapters.md, 'Drafting a mapping'.",
        *(f"# {line}" for line in layout.about),
        "version: 1",
        f"partner: {partner}",
        f"timezone: Europe/Paris   # guess: {zone_note}",
        "",
        "messages:",
        "  status:",
        "    direction: inbound",
        f"    file_pattern: {quote(pattern)}   # guess: the sample's name, varying part starred",
        "    codec:",
        *_block(layout.codec, 6),
    ]
    if layout.header is not None:
        lines.append(f"    header: [{', '.join(quote(name) for name in layout.header)}]")
    lines += [
        f"    event_type: {event_type.value}   # guess: one of {kinds}",
        "    fields:",
        *_field_lines(guesses, layout, event_type),
        f"    # {event_type.value} statuses: {statuses}",
        "    codes:" if code_lines else "    codes: {}",
        *code_lines,
        "",
    ]
    return "\n".join(lines), to_do
