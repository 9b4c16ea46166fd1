"""The HTTP transport a connectors.yaml entry describes: the ``http-pull`` and
``http-post`` entry points, where the file's settings meet the resolved secrets.

The entry points are loaded to validate a connector's options, which every command
reading the network does: so this module imports the settings models only, and the
client (httpx, authlib: :mod:`.build`) when a transport is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, overload

from adapters.transports.http.spec import (
    HttpPostTransportSpec,
    HttpPullTransportSpec,
    WebhookTransportSpec,
)
from hub.ports import AdapterInfo, AdapterKind, Capability

if TYPE_CHECKING:
    from adapters.transports.http.post import HttpPostTransport
    from adapters.transports.http.pull import HttpPullTransport
    from adapters.transports.http.webhook import WebhookTransport

__all__ = ["HTTP_POST", "HTTP_PULL", "HTTP_WEBHOOK", "transport_from_spec", "webhook_from_spec"]


@overload
def transport_from_spec(
    spec: HttpPullTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> HttpPullTransport: ...


@overload
def transport_from_spec(
    spec: HttpPostTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> HttpPostTransport: ...


def transport_from_spec(
    spec: HttpPullTransportSpec | HttpPostTransportSpec,
    secrets: Mapping[str, str],
    default_pattern: str | None,
) -> HttpPullTransport | HttpPostTransport:
    """The transport a connectors.yaml entry describes (registered as ``http-pull`` and
    ``http-post``: the spec's type picks the reading or the delivering transport).

    ``secrets`` maps ``header:<Name>`` and ``bearer_token`` to values, as
    ``ConnectorSpec.secret_names()`` names them.
    """
    from adapters.transports.http.build import build_transport

    return build_transport(spec, secrets, default_pattern)


def webhook_from_spec(
    spec: WebhookTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> WebhookTransport:
    """The sender of a retailer's webhooks (registered as ``http-webhook``)."""
    del secrets, default_pattern  # none: the message is signed; addressed by path
    from adapters.transports.http.build import build_webhook_transport

    return build_webhook_transport(spec)


def _pull_modes(settings: object) -> frozenset[Capability]:
    """A feed with a page path is paged; an item path alone fetches object by object."""
    assert isinstance(settings, HttpPullTransportSpec)
    if settings.page_path is not None:
        since = {Capability.SINCE} if settings.since_param is not None else set()
        return frozenset({Capability.PAGED, Capability.PER_ITEM, *since})
    if settings.item_path is not None:
        return frozenset({Capability.PER_ITEM})
    return frozenset()


HTTP_PULL = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="http-pull",
    summary="A partner's REST API read page by page from a cursor, or object by object.",
    settings=HttpPullTransportSpec,
    factory=transport_from_spec,
    capabilities=frozenset({Capability.PAGED, Capability.PER_ITEM, Capability.SINCE}),
    configured=_pull_modes,
)
"""The ``http-pull`` entry point of ``hub.transports``."""

HTTP_POST = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="http-post",
    summary="A partner's REST API taking our messages by POST, idempotently retried.",
    settings=HttpPostTransportSpec,
    factory=transport_from_spec,
    capabilities=frozenset({Capability.SEND}),
)
"""The ``http-post`` entry point of ``hub.transports``."""

HTTP_WEBHOOK = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="http-webhook",
    summary="A retailer's webhook URL taking signed POSTs: http-post's rules over httpx's "
    "connection pool, without credentials, cookies or proxies.",
    settings=WebhookTransportSpec,
    factory=webhook_from_spec,
    capabilities=frozenset({Capability.SEND}),
)
"""The ``http-webhook`` entry point of ``hub.transports``: what the hub's retailer
webhooks are sent with (hub.retailers.webhooks)."""
