"""The CONTRL syntax acknowledgement (D:3:UN) the hub sends back for each interchange it
receives: accepted (UCI action 7), or rejected (action 4) with a UCM for each faulty
message and a UCS/UCD for each faulty segment and element.

Pure: the received bytes, our control reference and the time in, the CONTRL bytes out.
It is written with pydifact's serializer, in the received interchange's syntax and with
standard separators; UNB's parties are swapped (we answer the sender), UCI's
name the acknowledged interchange's sender and recipient unless told otherwise.
"""

from __future__ import annotations

from datetime import datetime

from pydifact.control.characters import Characters
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from adapters.codecs.edifact.interchange import (
    CODECS,
    STANDARD,
    Fault,
    Interchange,
    read_interchange,
)
from adapters.codecs.edifact.spec import UciParties

__all__ = ["ACCEPTED", "REJECTED", "acknowledgement", "contrl", "encode_contrl"]

ACCEPTED = "7"
"""UCI/UCM action 7: acknowledged, this level and all lower levels accepted."""
REJECTED = "4"
"""UCI/UCM action 4: this level and all lower levels rejected."""


def _segment(tag: str, *elements: str | list[str]) -> Segment:
    return Segment(tag, *elements)


def acknowledgement(
    interchange: Interchange,
    *,
    control_reference: str,
    prepared_at: datetime,
    uci_parties: UciParties = "acknowledged",
) -> list[Segment]:
    """The segments of the CONTRL interchange that answers ``interchange``.

    The UCI names the acknowledged interchange's sender then recipient (ISO 9735), or
    with ``uci_parties="swapped"`` the CONTRL's own sender first.
    """
    sender, recipient = interchange.party(2), interchange.party(3)
    first, second = (sender, recipient) if uci_parties == "acknowledged" else (recipient, sender)
    syntax = interchange.header.elements[0]
    syntax_id = [syntax] if isinstance(syntax, str) else [str(part) for part in syntax]
    faults = interchange.faults
    envelope_faults = [fault for fault in faults if fault.message is None]
    uci: list[str | list[str]] = [
        interchange.control_reference,
        first,
        second,
        REJECTED if faults else ACCEPTED,
    ]
    if envelope_faults:
        uci.append(envelope_faults[0].code)
    body = [_segment("UNH", "1", ["CONTRL", "D", "3", "UN"]), _segment("UCI", *uci)]
    for message in interchange.messages:
        own = [fault for fault in faults if fault.message == message.reference]
        if not own:
            continue
        body.append(_segment("UCM", message.reference, message.identifier, REJECTED, own[0].code))
        for fault in _by_segment(own):
            body.append(_segment("UCS", str(fault.position)))
            if fault.element is not None:
                body.append(_segment("UCD", fault.code, str(fault.element)))
    body.append(_segment("UNT", str(len(body) + 1), "1"))
    return [
        _segment(
            "UNB",
            syntax_id[:2] if len(syntax_id) > 1 else [syntax_id[0], "3"],
            recipient,
            sender,
            [prepared_at.strftime("%y%m%d"), prepared_at.strftime("%H%M")],
            control_reference,
        ),
        *body,
        _segment("UNZ", "1", control_reference),
    ]


def _by_segment(faults: list[Fault]) -> list[Fault]:
    return [fault for fault in faults if fault.position is not None]


def contrl(
    content: bytes,
    *,
    control_reference: str,
    prepared_at: datetime,
    source: str = "interchange",
    max_bytes: int = 10_000_000,
    uci_parties: UciParties = "acknowledged",
) -> bytes:
    """The CONTRL interchange acknowledging the interchange ``content``, encoded.

    ``control_reference`` must be unique per acknowledgement (the partner matches it);
    ``prepared_at`` is written in UNB as YYMMDD:HHMM. Raises DocumentError when the
    received bytes have no readable UNB: there is nothing to acknowledge then.
    """
    interchange = read_interchange(content, source=source, max_bytes=max_bytes)
    return encode_contrl(
        interchange,
        control_reference=control_reference,
        prepared_at=prepared_at,
        uci_parties=uci_parties,
    )


def encode_contrl(
    interchange: Interchange,
    *,
    control_reference: str,
    prepared_at: datetime,
    uci_parties: UciParties = "acknowledged",
) -> bytes:
    """The CONTRL answering an interchange already read, encoded in its syntax."""
    segments = acknowledgement(
        interchange,
        control_reference=control_reference,
        prepared_at=prepared_at,
        uci_parties=uci_parties,
    )
    text = Serializer(Characters.from_str(STANDARD)).serialize(segments, with_una_header=True)
    syntax = interchange.header.elements[0]
    declared = syntax if isinstance(syntax, str) else str(syntax[0])
    return text.encode(CODECS.get(declared, "ascii"))
