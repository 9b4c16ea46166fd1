"""What the simulated partners share: their pace within a round, how they write files,
and the bad lines the story makes them write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

CARRIER_OFFSET = timedelta(minutes=5)
REPAIRER_OFFSET = timedelta(minutes=40)
SUPPLIER_OFFSET = timedelta(minutes=20)
"""Within a round the carrier moves first, then the supplier, then the repairers, so a
step that follows another in the world also follows it in time."""


@dataclass(frozen=True)
class BadRow:
    """A line of a partner file that the hub must reject, and why the story broke it."""

    file: str
    line: int
    why: str


def write_then_rename(final: Path, content: bytes, suffix: str) -> None:
    """As the partners' software does: a temporary name, then the final one."""
    partial = final.with_name(final.name + suffix)
    partial.write_bytes(content)
    partial.rename(final)
