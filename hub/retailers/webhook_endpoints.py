"""Webhook endpoints a retailer manages itself, through the API: register, list, change,
disable, delete, test, rotate the secret.

They sit beside the operator's ``webhooks:`` of connectors.yaml (one per retailer, its
secret in an environment variable), and receive the same events the same way: the sync
engine writes one outbox message per endpoint, addressed ``webhook:<retailer>/<id>``, so
each endpoint is a queue of its own, in order per case, never twice for one event.

The hub generates each secret (``whsec_`` and 32 random bytes) and shows it once. It
must read it back to sign, so it cannot keep a hash: it keeps it encrypted (Fernet,
AES-128-CBC with HMAC-SHA256) with a key from ``$HUB_WEBHOOK_SECRETS_KEYS``, which never
enters the database. Rotating keeps the previous secret for a grace period, during which
every message carries both signatures, as the Standard Webhooks specification allows.

An endpoint's URL is refused unless it is HTTPS (or HTTP to loopback) and every address
its host resolves to is public, or inside ``$HUB_WEBHOOK_ALLOWED_NETWORKS``: a retailer
must not make the hub call into the hub's own network. The check is made again before
each delivery, so a name that later resolves to a private address is refused then.
"""

from __future__ import annotations

import base64
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.config.network import (
    WEBHOOK_KEYS_VARIABLE,
    WEBHOOK_NETWORKS_VARIABLE,
    ProxyNetwork,
    webhook_allowed_networks,
    webhook_secrets_keys,
)
from hub.errors import ConfigurationError, NotFoundError
from hub.ports import DeliveryReceipt
from hub.retailers.cases import InvalidFieldError
from hub.retailers.tenants import Retailer
from hub.retailers.webhooks import (
    EVENT_TYPE,
    FAILED_EVENT_TYPE,
    SECRET_PREFIX,
    test_payload,
    webhook_message,
    webhook_post_sender,
)
from hub.store import webhook_endpoints as store
from hub.store.db import Connection, Database
from hub.store.outbox import discard_target
from hub.store.webhook_endpoints import StoredEndpoint

__all__ = [
    "DEFAULT_GRACE",
    "EVENT_TYPES",
    "MAX_GRACE",
    "Endpoint",
    "EndpointChanges",
    "EndpointPage",
    "SecretBox",
    "SecretsKeyMissing",
    "TestDelivery",
    "check_url",
    "delete_endpoint",
    "endpoint_target",
    "get_endpoint",
    "list_endpoints",
    "register_endpoint",
    "rotate_secret",
    "secret_box",
    "send_test_event",
    "signing_secrets",
    "update_endpoint",
]

EVENT_TYPES = (EVENT_TYPE, FAILED_EVENT_TYPE)
"""The event types an endpoint may ask for; a test event reaches it whatever it asked."""

SECRET_BYTES = 32
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)
TEST_TIMEOUT = "10s"

Resolver = Callable[[str], list[str]]


class SecretsKeyMissing(ConfigurationError):
    """The operator has not set the key that encrypts webhook secrets at rest."""


def endpoint_target(retailer_id: str, endpoint_id: str) -> str:
    """The outbox target of an endpoint: one queue per endpoint."""
    return f"webhook:{retailer_id}/{endpoint_id}"


# --- secrets ------------------------------------------------------------------------------


class SecretBox:
    """Encrypts secrets with the first key, decrypts with any (key rotation)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretsKeyMissing(
                f"retailers' webhook endpoints need ${WEBHOOK_KEYS_VARIABLE} (a Fernet key, "
                "e.g. from `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError):
            raise SecretsKeyMissing(
                f"${WEBHOOK_KEYS_VARIABLE}: each key must be 32 url-safe base64-encoded bytes"
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretsKeyMissing(
                f"a webhook secret cannot be decrypted with ${WEBHOOK_KEYS_VARIABLE}: "
                "the key that encrypted it was removed"
            ) from None


def secret_box(environ: Mapping[str, str] | None = None) -> SecretBox:
    return SecretBox(webhook_secrets_keys(environ))


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes, as the specification writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signing_secrets(endpoint: StoredEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The secrets a message to ``endpoint`` is signed with now: the current one, and the
    previous one while its grace period lasts."""
    current = [box.open(endpoint.secret)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret is not None and until is not None and now < until:
        return [*current, box.open(endpoint.previous_secret)]
    return current


# --- the URL ------------------------------------------------------------------------------


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def check_url(
    url: str,
    *,
    allowed: Sequence[ProxyNetwork] | None = None,
    resolve: Resolver = _resolve,
) -> str:
    """``url`` if the hub may POST to it; ``InvalidFieldError`` on ``url`` saying why."""
    networks = webhook_allowed_networks() if allowed is None else allowed
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidFieldError("url", "must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidFieldError("url", "must carry no credentials: the signature is the proof")
    if parts.fragment:
        raise InvalidFieldError("url", "must have no #fragment")
    host = parts.hostname
    try:
        addresses = [ip_address(host)]
    except ValueError:
        try:
            addresses = [ip_address(found.split("%")[0]) for found in resolve(host)]
        except (OSError, UnicodeError):
            raise InvalidFieldError("url", f"its host {host!r} does not resolve") from None
    if not addresses:
        raise InvalidFieldError("url", f"its host {host!r} does not resolve")
    for address in addresses:
        if not address.is_global and not any(address in network for network in networks):
            raise InvalidFieldError(
                "url",
                f"its host {host!r} is at {address}, a private, loopback or reserved "
                f"address the hub does not call (the operator may allow it in "
                f"${WEBHOOK_NETWORKS_VARIABLE})",
            )
    if parts.scheme == "http" and not all(_loopback(address) for address in addresses):
        raise InvalidFieldError("url", "must be https:// (plain http only to loopback)")
    return url


def _loopback(address: IPv4Address | IPv6Address) -> bool:
    return address.is_loopback


# --- the endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as its retailer sees it: never its secret."""

    id: str
    url: str
    description: str | None
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None

    @classmethod
    def of(cls, stored: StoredEndpoint, now: datetime) -> Endpoint:
        until = stored.previous_secret_until
        return cls(
            id=stored.id,
            url=stored.url,
            description=stored.description,
            event_types=stored.event_types,
            enabled=stored.enabled,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            previous_secret_expires_at=until if until is not None and until > now else None,
        )


@dataclass(frozen=True)
class EndpointPage:
    items: list[Endpoint]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class EndpointChanges:
    """What a PATCH may change; None leaves a field as it is."""

    url: str | None = None
    description: str | None = None
    event_types: tuple[str, ...] | None = None
    enabled: bool | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found(endpoint_id: str) -> NotFoundError:
    """One message for a missing endpoint and another retailer's alike."""
    return NotFoundError(f"no webhook endpoint {endpoint_id}")


def _event_types(event_types: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(event_types or EVENT_TYPES))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise InvalidFieldError(
            "event_types", f"unknown {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return chosen


def register_endpoint(
    connection: Connection,
    retailer: Retailer,
    *,
    url: str,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool = True,
    box: SecretBox,
    now: datetime | None = None,
) -> tuple[Endpoint, str]:
    """A new endpoint and its secret, the only time the secret is shown."""
    moment = now or _now()
    secret = new_secret()
    stored = StoredEndpoint(
        id="we_" + secrets.token_hex(10),
        retailer_id=retailer.id,
        url=check_url(url),
        description=description,
        event_types=_event_types(event_types),
        enabled=enabled,
        secret=box.seal(secret),
        previous_secret=None,
        previous_secret_until=None,
        created_at=moment,
        updated_at=moment,
    )
    store.insert_endpoint(connection, stored)
    return Endpoint.of(stored, moment), secret


def list_endpoints(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int
) -> EndpointPage:
    """A page of the retailer's endpoints, by id."""
    rows = store.endpoints_of(connection, retailer.id, after=after, limit=limit + 1)
    moment = _now()
    items = [Endpoint.of(row, moment) for row in rows[:limit]]
    has_more = len(rows) > limit
    return EndpointPage(items, items[-1].id if has_more and items else None, has_more)


def _stored(
    connection: Connection, retailer: Retailer, endpoint_id: str, *, for_update: bool = False
) -> StoredEndpoint:
    found = store.get_endpoint(connection, retailer.id, endpoint_id, for_update=for_update)
    if found is None:
        raise _not_found(endpoint_id)
    return found


def get_endpoint(connection: Connection, retailer: Retailer, endpoint_id: str) -> Endpoint:
    return Endpoint.of(_stored(connection, retailer, endpoint_id), _now())


def update_endpoint(
    connection: Connection, retailer: Retailer, endpoint_id: str, changes: EndpointChanges
) -> Endpoint:
    """Change the endpoint; disabling it gives up on what was waiting for it (the
    retailer said it does not want it), as deleting does."""
    stored = _stored(connection, retailer, endpoint_id, for_update=True)
    moment = _now()
    changed = replace(
        stored,
        url=stored.url if changes.url is None else check_url(changes.url),
        description=stored.description if changes.description is None else changes.description,
        event_types=(
            stored.event_types if changes.event_types is None else _event_types(changes.event_types)
        ),
        enabled=stored.enabled if changes.enabled is None else changes.enabled,
        updated_at=moment,
    )
    store.update_endpoint(connection, changed)
    if not changed.enabled:
        discard_target(connection, endpoint_target(retailer.id, endpoint_id))
    return Endpoint.of(changed, moment)


def delete_endpoint(connection: Connection, retailer: Retailer, endpoint_id: str) -> None:
    """Remove the endpoint and give up on what was waiting for it."""
    if not store.delete_endpoint(connection, retailer.id, endpoint_id):
        raise _not_found(endpoint_id)
    discard_target(connection, endpoint_target(retailer.id, endpoint_id))


def rotate_secret(
    connection: Connection,
    retailer: Retailer,
    endpoint_id: str,
    *,
    grace: timedelta = DEFAULT_GRACE,
    box: SecretBox,
    now: datetime | None = None,
) -> tuple[Endpoint, str]:
    """A new secret, shown once; the current one keeps signing for ``grace`` (zero ends
    it now). A secret still in its grace from an earlier rotation ends at once."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise InvalidFieldError("grace_period_seconds", f"must be 0 to {MAX_GRACE.days} days")
    stored = _stored(connection, retailer, endpoint_id, for_update=True)
    moment = now or _now()
    secret = new_secret()
    rotated = replace(
        stored,
        secret=box.seal(secret),
        previous_secret=stored.secret if grace else None,
        previous_secret_until=moment + grace if grace else None,
        updated_at=moment,
    )
    store.update_endpoint(connection, rotated)
    return Endpoint.of(rotated, moment), secret


# --- a test event -------------------------------------------------------------------------


@dataclass(frozen=True)
class TestDelivery:
    """What the endpoint answered a test event."""

    message_id: str
    delivered: bool
    status: int | None
    error: str | None


def send_test_event(
    database: Database, retailer: Retailer, endpoint_id: str, *, box: SecretBox
) -> TestDelivery:
    """POST a ``webhook.test`` event to the endpoint now, signed like every message, and
    say what it answered. Sent once, outside the outbox: it is a question, not news."""
    with database.reading() as connection:
        stored = _stored(connection, retailer, endpoint_id)
    moment = _now()
    message_id = "msg_test_" + secrets.token_hex(12)
    check_url(stored.url)
    message = webhook_message(
        test_payload(endpoint_id=stored.id, retailer=retailer.id, sent_at=moment),
        message_id=message_id,
        secret=signing_secrets(stored, box, moment),
        now=moment,
    )
    sender = webhook_post_sender(stored.url, timeout=TEST_TIMEOUT, max_attempts=1)
    try:
        receipt: DeliveryReceipt = sender.send(message)
    except Exception as error:  # noqa: BLE001 - any failure is the answer to report
        status = getattr(error, "status", None)
        known = status if isinstance(status, int) else None
        return TestDelivery(message_id, False, known, str(error))
    finally:
        close = getattr(sender, "close", None)
        if callable(close):
            close()
    return TestDelivery(message_id, True, receipt.status, None)
