"""Alpes Fret simulator: the carrier's side of its SFTP exchange, as its sheet says.

The carrier writes one IFTSTA D.01B interchange per file in ``/out/`` as
``IFTSTA_<interchange ref>.edi`` (first as ``.tmp``, renamed once whole), in UNOC
(ISO 8859-1), several messages per interchange, no line breaks, ``?`` releasing a
separator inside text. It reads the CONTRL each interchange is answered with from
``/in/`` (``CONTRL_<interchange ref>.edi``) and sends again, under the same name and
with the same bytes, every interchange whose CONTRL has not come within the hour.

The folders are plain directories: serve them with :class:`simulators.sftp.SftpServer`
(``/out`` and ``/in`` under its root) or with OpenSSH's sshd (absolute paths). The faults
the sheet implies are switches: an interchange whose UNT does not count its segments
(:attr:`Fault.WRONG_UNT`), one cut before its UNZ (:attr:`Fault.NO_UNZ`), and a file left
half-written under ``.tmp`` (:meth:`AlpesFretSimulator.drop_half_written`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo

from pydifact.parser import Parser
from pydifact.segments import Segment

__all__ = ["AlpesFretSimulator", "Contrl", "Fault", "Scan", "Sent", "release"]

PARIS = ZoneInfo("Europe/Paris")
RESEND_AFTER = timedelta(hours=1)
"""The sheet: without a CONTRL within one hour, the interchange is sent again."""


class Fault(Enum):
    """What can be wrong with an interchange the carrier sends."""

    WRONG_UNT = "wrong_unt"
    """The last message's UNT counts two segments too many."""
    NO_UNZ = "no_unz"
    """The interchange stops after its last UNT: no UNZ."""


@dataclass(frozen=True)
class Scan:
    """One status of one parcel: a consignment group (CNI) of an IFTSTA message."""

    tracking_number: str
    code: str
    at: datetime
    reference: str | None = None
    depot: str = "LYS"
    city: str = "LYON"
    remark: str | None = None
    signed_by: str | None = None


@dataclass(frozen=True)
class Sent:
    """An interchange the carrier wrote: its reference, file name and exact bytes."""

    reference: str
    name: str
    content: bytes
    sent_at: datetime
    faulty: bool = False


@dataclass(frozen=True)
class Contrl:
    """A CONTRL the carrier read from ``/in/``, as pydifact parsed it."""

    name: str
    control_reference: str
    interchange: str
    action: str
    uci_parties: tuple[str, str]
    faulty_segments: tuple[int, ...]
    segments: tuple[Segment, ...]

    @property
    def accepted(self) -> bool:
        return self.action == "7"


def release(text: str) -> str:
    """Text as an EDIFACT data element: every separator and ``?`` released by ``?``."""
    return "".join("?" + char if char in "?:+'" else char for char in text)


@dataclass
class AlpesFretSimulator:
    """The carrier's folders: ``out_dir`` it writes to, ``in_dir`` it reads CONTRLs from."""

    out_dir: Path
    in_dir: Path
    sender: str = "ALPESFRET"
    recipient: str = "HUBSAV"
    next_reference: int = 417
    line_breaks: bool = False
    sent: dict[str, Sent] = field(default_factory=dict)
    """Every interchange sent, by reference."""
    awaiting: dict[str, Sent] = field(default_factory=dict)
    """Interchanges whose CONTRL has not come yet, by reference."""
    contrls: list[Contrl] = field(default_factory=list)
    """Every CONTRL read, in the order read."""
    resent: list[str] = field(default_factory=list)
    """The references of the interchanges sent again, once per resend."""

    def __post_init__(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.in_dir.mkdir(parents=True, exist_ok=True)

    # -- writing -----------------------------------------------------------------------

    def interchange(
        self,
        messages: Sequence[Sequence[Scan]],
        *,
        prepared_at: datetime,
        fault: Fault | None = None,
        reference: str | None = None,
    ) -> tuple[str, bytes]:
        """The bytes of one interchange holding these messages (one per list of scans)."""
        if reference is None:
            reference = f"{self.next_reference:08d}"
            self.next_reference += 1
        local = prepared_at.astimezone(PARIS)
        segments = [
            f"UNB+UNOC:3+{self.sender}:ZZZ+{self.recipient}:ZZZ+"
            f"{local:%y%m%d}:{local:%H%M}+{reference}"
        ]
        for number, scans in enumerate(messages, start=1):
            body = [
                f"UNH+{number}+IFTSTA:D:01B:UN",
                f"BGM+23+AF{local:%Y%m%d}-{reference[-4:]}-{number}+9",
                f"DTM+137:{local:%Y%m%d%H%M}:203",
            ]
            for sequence, scan in enumerate(scans, start=1):
                body += _group(sequence, scan)
            count = len(body) + 1
            if fault is Fault.WRONG_UNT and number == len(messages):
                count += 2
            segments += [*body, f"UNT+{count}+{number}"]
        if fault is not Fault.NO_UNZ:
            segments.append(f"UNZ+{len(messages)}+{reference}")
        end = "'\n" if self.line_breaks else "'"
        text = "UNA:+.? '" + ("\n" if self.line_breaks else "") + end.join(segments) + end
        return reference, text.encode("iso8859_1")

    def drop(
        self, messages: Sequence[Sequence[Scan]], *, now: datetime, fault: Fault | None = None
    ) -> Sent:
        """Write one interchange into ``/out/``: as ``.tmp`` first, renamed once whole."""
        reference, content = self.interchange(messages, prepared_at=now, fault=fault)
        sent = Sent(reference, f"IFTSTA_{reference}.edi", content, now, faulty=fault is not None)
        self._write(sent)
        self.sent[reference] = sent
        self.awaiting[reference] = sent
        return sent

    def drop_half_written(self, messages: Sequence[Sequence[Scan]], *, now: datetime) -> Path:
        """A file still being written: half its bytes under ``IFTSTA_<ref>.edi.tmp``."""
        reference, content = self.interchange(messages, prepared_at=now)
        partial = self.out_dir / f"IFTSTA_{reference}.edi.tmp"
        partial.write_bytes(content[: len(content) // 2])
        return partial

    def _write(self, sent: Sent) -> None:
        """Written whole under ``.tmp``, dated by the carrier's clock, then renamed."""
        partial = self.out_dir / f"{sent.name}.tmp"
        partial.write_bytes(sent.content)
        stamp = sent.sent_at.timestamp()
        os.utime(partial, (stamp, stamp))
        partial.replace(self.out_dir / sent.name)

    # -- CONTRLs and resends -----------------------------------------------------------

    def read_contrls(self) -> list[Contrl]:
        """Take every CONTRL waiting in ``/in/`` (the carrier deletes what it read)."""
        found = []
        for path in sorted(self.in_dir.glob("CONTRL_*.edi")):
            answer = parse_contrl(path.name, path.read_bytes())
            path.unlink()
            self.awaiting.pop(answer.interchange, None)
            found.append(answer)
        self.contrls += found
        return found

    def resend_overdue(self, now: datetime, *, after: timedelta = RESEND_AFTER) -> list[Sent]:
        """Send again, same name and bytes, each interchange unanswered for ``after``."""
        again = []
        for reference, sent in list(self.awaiting.items()):
            if now - sent.sent_at < after:
                continue
            again_sent = Sent(reference, sent.name, sent.content, now, sent.faulty)
            self._write(again_sent)
            self.awaiting[reference] = again_sent
            self.resent.append(reference)
            again.append(again_sent)
        return again


def _group(sequence: int, scan: Scan) -> list[str]:
    at = scan.at.astimezone(PARIS)
    group = [f"CNI+{sequence}+{scan.tracking_number}", f"STS+1+{scan.code}"]
    if scan.reference is not None:
        group.append(f"RFF+CU:{release(scan.reference)}")
    group.append(f"DTM+334:{at:%Y%m%d%H%M}:203")
    group.append(f"LOC+175+{scan.depot}::87:{release(scan.city)}")
    if scan.remark is not None:
        group.append(f"FTX+AAA+++{release(scan.remark)}")
    if scan.signed_by is not None:
        group.append(f"NAD+CN+++{release(scan.signed_by)}")
    return group


def _text(segment: Segment, element: int, component: int = 1) -> str:
    if len(segment.elements) < element:
        return ""
    data = segment.elements[element - 1]
    if isinstance(data, str):
        return data if component == 1 else ""
    return str(data[component - 1]) if len(data) >= component else ""


def parse_contrl(name: str, content: bytes) -> Contrl:
    """A CONTRL file as the carrier reads it (pydifact), whatever its separators."""
    segments = tuple(Parser().parse(content.decode("iso8859_1")))
    by_tag = {segment.tag: segment for segment in reversed(segments)}
    unb, uci = by_tag["UNB"], by_tag["UCI"]
    return Contrl(
        name=name,
        control_reference=_text(unb, 5),
        interchange=_text(uci, 1),
        action=_text(uci, 4),
        uci_parties=(_text(uci, 2), _text(uci, 3)),
        faulty_segments=tuple(int(_text(s, 1)) for s in segments if s.tag == "UCS"),
        segments=segments,
    )
