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


def render_record(connector: Connector, context: Mapping[str, Any]) -> dict[str, str | None]:
    """One partner record from one canonical context; raises when the context lacks what
    the partner's format needs, so a bad case can be refused before anything is sent."""
    _outbound(connector)
    return connector.outbound_mapping().render(context)


def compose(
    connector: Connector,
    records: Sequence[Mapping[str, str | None]],
    *,
    identifier: str,
    now: datetime,
) -> OutboundMessage:
    """One message from rendered records (a CSV file may hold many, an XML or JSON
    document holds one), named for ``now`` and ``identifier``."""
    spec = _outbound(connector)
    if spec.codec.type != "csv" and len(records) != 1:
        raise ConfigurationError(
            f"connector {connector.name!r}: a {spec.codec.type} message holds one record"
        )
    return OutboundMessage(
        name=connector.outbound_mapping().file_name(now=now, identifier=identifier),
        content=connector.codec().encode([dict(record) for record in records]),
        content_type=CONTENT_TYPES.get(spec.codec.type, "application/octet-stream"),
        idempotency_key=f"{connector.name}:{identifier}",
    )


def render(
    connector: Connector,
    contexts: Sequence[Mapping[str, Any]],
    *,
    identifier: str,
    now: datetime | None = None,
) -> OutboundMessage:
    """One message from canonical contexts: one record each."""
    records = [render_record(connector, context) for context in contexts]
    return compose(connector, records, identifier=identifier, now=now or datetime.now(UTC))


NAME_ATTEMPTS = 30
"""Seconds tried for a free name when the partner's names are to the second."""


def render_and_deliver(
    connector: Connector,
    contexts: Sequence[Mapping[str, Any]],
    *,
    identifier: str,
    now: datetime | None = None,
) -> DeliveryReceipt:
    """Render and send; see ``deliver_records``."""
    records = [render_record(connector, context) for context in contexts]
    return deliver_records(connector, records, identifier=identifier, now=now)


def deliver_records(
    connector: Connector,
    records: Sequence[Mapping[str, str | None]],
    *,
    identifier: str,
    now: datetime | None = None,
) -> DeliveryReceipt:
    """Send rendered records as one message; a file name rendered from the time and
    already taken at the partner moves on to the next second's name, over one connection.

    A name that does not change with the time is not tried again: it stays taken, and
    the outbox retries the message later.
    """
    moment = now or datetime.now(UTC)
    message = compose(connector, records, identifier=identifier, now=moment)
    transport = _open(connector)
    try:
        for _ in range(NAME_ATTEMPTS - 1):
            try:
                return _send(transport, message)
            except OutboundNameTaken:
                moment += timedelta(seconds=1)
                later = compose(connector, records, identifier=identifier, now=moment)
                if later.name == message.name:
                    raise
                message = later
        return _send(transport, message)
    finally:
        _close(transport)


def deliver(connector: Connector, message: OutboundMessage) -> DeliveryReceipt:
    """Hand the message to the partner through the connector's transport."""
    transport = _open(connector)
    try:
        return _send(transport, message)
    finally:
        _close(transport)


def _open(connector: Connector) -> Sender | Transport:
    transport = connector.transport()
    if isinstance(transport, Sender | Transport):
        return transport
    _close(transport)
    raise ConfigurationError(f"connector {connector.name!r} cannot send (it only reads)")


def _send(transport: Sender | Transport, message: OutboundMessage) -> DeliveryReceipt:
    if isinstance(transport, Sender):
        return transport.send(message)
    transport.put(message.name, message.content)
    return DeliveryReceipt(status=FILE_DELIVERED, body=b"", already_known=False)


def _close(transport: object) -> None:
    close = getattr(transport, "close", None)
    if callable(close):
        close()
