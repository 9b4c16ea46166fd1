"""Durations as connectors.yaml writes them (``30s``, ``15m``, ``2h``, ``1d``), read
without pydantic: the reading commands work out a schedule's next run from the network's
outline (hub.partners.network_outline) and must not load the models' modules for it
(issue 17)."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_duration"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"([0-9]+)([smhd])", text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
