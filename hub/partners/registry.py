"""Finding transports and codecs by the name connectors.yaml and mappings give them.

Adapters register through Python entry points (groups ``hub.transports`` and
``hub.codecs``), so the core never imports a partner or an adapter, and a third-party
package adds its own by declaring an entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib.metadata import entry_points
from typing import Any, cast

from hub.errors import ConfigurationError
from hub.ports import Codec, PagedSource, Sender, Transport

TRANSPORTS = "hub.transports"
CODECS = "hub.codecs"

TransportFactory = Callable[[Any, Mapping[str, str], str | None], Transport | PagedSource | Sender]
CodecFactory = Callable[[Any, Sequence[str] | None], Codec]


@cache
def _factories(group: str) -> dict[str, Callable[..., Any]]:
    return {entry.name: entry.load() for entry in entry_points(group=group)}


def names(group: str) -> list[str]:
    return sorted(_factories(group))


def _factory(group: str, name: str) -> Callable[..., Any]:
    factories = _factories(group)
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ConfigurationError(
            f"no {group.removeprefix('hub.')[:-1]} named {name!r} is installed (known: {known})"
        )
    return factories[name]


def transport_factory(name: str) -> TransportFactory:
    return cast(TransportFactory, _factory(TRANSPORTS, name))


def codec_factory(name: str) -> CodecFactory:
    return cast(CodecFactory, _factory(CODECS, name))
