"""Sending to partners: canonical data rendered by the partner's mapping, then delivered.

Rendering is pure (mapping, then codec, validated against the partner's XSD where it
has one); delivery is the connector's transport: a file written then renamed on SFTP or
in a folder, or a POST that the partner recognises when it comes twice. Each message
carries an idempotency key, so a retry after a lost answer is harmless. When to send is
the sync engine's decision, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.errors import ConfigurationError, OutboundNameTaken
from hub.mapping.spec import OutboundSpec
from hub.partners.connectors import Connector
from hub.ports import DeliveryReceipt, OutboundMessage, Sender, Transport

CONTENT_TYPES = {"csv": "text/csv", "xml": "application/xml", "json": "application/json"}

FILE_DELIVERED = 0
"""The receipt status of a file written to a partner's server: there is no answer."""


def _outbound(connector: Connector) -> OutboundSpec:
    message = connector.message
    if not isinstance(message, OutboundSpec):
        raise ConfigurationError(f"connector {connector.name!r} does not send messages")
    return message


def render(
    connector: Connector,
    contexts: Sequence[Mapping[str, Any]],
    *,
    identifier: str,
    now: datetime | None = None,
) -> OutboundMessage:
    """One message from canonical contexts: one record each (a CSV file may hold many,
    an XML or JSON document holds one)."""
    spec = _outbound(connector)
    if spec.codec.type != "csv" and len(contexts) != 1:
        raise ConfigurationError(
            f"connector {connector.name!r}: a {spec.codec.type} message holds one record"
        )
    mapping = connector.outbound_mapping()
    records = [mapping.render(context) for context in contexts]
    content = connector.codec().encode(records)
    moment = now or datetime.now(UTC)
    return OutboundMessage(
        name=mapping.file_name(now=moment, identifier=identifier),
        content=content,
        content_type=CONTENT_TYPES.get(spec.codec.type, "application/octet-stream"),
        idempotency_key=f"{connector.name}:{identifier}",
    )


NAME_ATTEMPTS = 30
"""Seconds tried for a free name when the partner's names are to the second."""


def render_and_deliver(
    connector: Connector,
    contexts: Sequence[Mapping[str, Any]],
    *,
    identifier: str,
    now: datetime | None = None,
) -> DeliveryReceipt:
    """Render and send; a file name rendered from the time and already taken at the
    partner (two orders in one second) moves on to the next second's name.

    A name that does not change with the time is not tried again: it stays taken, and
    the outbox retries the message later.
    """
    moment = now or datetime.now(UTC)
    message = render(connector, contexts, identifier=identifier, now=moment)
    for _ in range(NAME_ATTEMPTS - 1):
        try:
            return deliver(connector, message)
        except OutboundNameTaken:
            moment += timedelta(seconds=1)
            later = render(connector, contexts, identifier=identifier, now=moment)
            if later.name == message.name:
                raise
            message = later
    return deliver(connector, message)


def deliver(connector: Connector, message: OutboundMessage) -> DeliveryReceipt:
    """Hand the message to the partner through the connector's transport."""
    transport = connector.transport()
    try:
        if isinstance(transport, Sender):
            return transport.send(message)
        if isinstance(transport, Transport):
            transport.put(message.name, message.content)
            return DeliveryReceipt(status=FILE_DELIVERED, body=b"", already_known=False)
        raise ConfigurationError(f"connector {connector.name!r} cannot send (it only reads)")
    finally:
        close = getattr(transport, "close", None)
        if callable(close):
            close()
