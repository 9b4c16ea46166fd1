"""``AdapterKind``, what an adapter is, in a module of its own.

`hub.ports` gives it to the adapters with the other ports; the network's models
(`hub.config.connector_spec`, `hub.config.registry`) take it from here, so that a
command reading a kept network (hub.partners.network_cache) does not import the ports'
protocols, dataclasses and pydantic settings model for one enumeration (issue 17).
"""

from __future__ import annotations

from enum import StrEnum


class AdapterKind(StrEnum):
    """What an adapter is, and the entry-point group it registers under."""

    CODEC = "codec"
    TRANSPORT = "transport"
    RECEIVER = "receiver"

    @property
    def group(self) -> str:
        return f"hub.{self.value}s"
