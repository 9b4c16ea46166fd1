"""What the operator commands share: the way times and spans read in a table, the
network and the operator's name (``--json`` and its writer: commands.common)."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from commands.common import NetworkOption, network_path

if TYPE_CHECKING:
    from hub.partners.network import Network


def ago(moment: datetime | None, now: datetime) -> str:
    """A moment relative to now ("5m ago", "in 2h03"), as a table reads best."""
    if moment is None:
        return "-"
    delta = now - moment
    return f"{span(delta)} ago" if delta >= timedelta() else f"in {span(-delta)}"


def span(delta: timedelta | None) -> str:
    """A duration in the coarsest unit that still tells: seconds, minutes, hours, days."""
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"
    return f"{seconds // 86400}d"


def network_of(network: NetworkOption) -> Network:
    """The network of ``--network`` (or the default), loaded for the command."""
    from hub.partners.network import open_network

    return open_network(network_path(network))


def operator_name() -> str:
    """Who acts, for the record: the login, or "operator" where there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
