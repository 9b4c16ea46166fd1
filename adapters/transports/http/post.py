"""Delivering one rendered order to a partner's API by POST.

Implements :class:`hub.ports.Sender` on the retrying client: the message's headers are
checked before anything is sent, and the partner's answer is read as delivered, already
known, or refused (for the dead letters, or for an operator to look at).
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.transports.http.client import Request, RetryingClient
from adapters.transports.http.errors import (
    DeliveryConflict,
    DeliveryRejected,
    EndpointNotFound,
    HeaderConflict,
    UnexpectedResponse,
    UnsendableMessage,
)
from adapters.transports.http.settings import (
    DELIVERED,
    HEADER_NAME,
    HEADER_VALUE,
    HttpPostSettings,
    media_type,
)
from hub.errors import ConfigurationError
from hub.ports import DeliveryReceipt, OutboundMessage

__all__ = ["POST_USER_AGENT", "HttpPostTransport"]

logger = logging.getLogger(__name__)

POST_USER_AGENT = "aftersales-hub (http-post)"
# The order itself is wrong (invalid data, too big): an operator must correct it.
_REJECTED = frozenset({400, 413, 422})
_MAX_IDEMPOTENCY_KEY = 255
# Headers that frame the request: the HTTP library sets them from the body and the URL,
# and a message that set its own could desynchronise or redirect the request.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_SENDABLE_NAMES = 64
"""How many sets of a message's header names a transport keeps as checked: a mapping or
a webhook has one; more only if each message named its own headers."""


def _unsendable_value(message: OutboundMessage, name: str) -> UnsendableMessage:
    return UnsendableMessage(
        f"{message.name!r}: the value of its {name} header is empty or holds "
        "characters a header cannot carry; nothing was sent"
    )


class HttpPostTransport(RetryingClient[HttpPostSettings]):
    """Implements :class:`hub.ports.Sender`: delivers one rendered order by POST.

    A POST is retried (429 and 503 after their Retry-After, other 5xx, timeouts and
    dropped connections after backoff) although the partner may already have acted on an
    attempt whose answer we never saw. That is safe only because a repeat is harmless:
    every attempt carries the message's idempotency key in ``Idempotency-Key``, and both
    partners recognise a repeat on their own (TechniService answers 409 to an OrderRef it
    has, ColisExpress 200 with the first tracking number to a reference it has). Such an
    answer comes back as ``already_known=True``, also when the "first" delivery was our
    own lost attempt. Do not point this at a partner that honours neither the key nor a
    business reference: a retry there could create the order twice.

    What the order itself gets wrong (400, 413, 422) is never retried: it raises
    :class:`DeliveryRejected` for the dead letters, with the partner's error text.
    """

    user_agent = POST_USER_AGENT

    def __repr__(self) -> str:
        return (
            f"HttpPostTransport(base_url={self.settings.base_url!r}, "
            f"post_path={self.settings.post_path!r}, "
            f"content_type={self.settings.content_type!r}, "
            f"credentials=[{self._credential_sources()}])"
        )

    def __init__(self, settings: HttpPostSettings, **options: Any) -> None:
        super().__init__(settings, **options)
        # What every message's headers are checked against, worked out once: the same
        # for every message this transport sends (issue 17, eleventh pass).
        self._declared_media_type = media_type(settings.content_type)
        owned = [*self._headers, "Content-Type", settings.idempotency_header]
        self._taken = frozenset(name.lower() for name in owned) | _FRAMING_HEADERS
        self._post_url = self._url(settings.post_path)
        # 409 only gets here when conflict_is_success says it means "I have it".
        self._repeat_statuses = frozenset({409, settings.idempotent_ok_status})
        # What earlier messages' checks found sendable, so that the same content type and
        # the same header names (a webhook's three) are not matched again for every
        # message; only what passed is kept, and only so many (issue 17, sixteenth pass).
        self._sendable_type: str | None = None
        self._sendable_names: set[tuple[str, ...]] = set()

    # -- Sender --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """POST one message; returns once the partner has it, or raises a hub error."""
        request = Request(
            method="POST",
            url=self._post_url,
            ref_name=message.name,
            content=message.content,
            headers=self._message_headers(message),
        )
        fetched = self._exchange(request)
        already_known = fetched.status in self._repeat_statuses
        # The dispatcher logs every delivery with its ids; this line adds what it does
        # not know at info only (a repeat, a retry), and at debug for the ordinary case,
        # its text made only when a handler will take it (issue 17).
        ordinary = request.attempts == 1 and not already_known
        level = logging.DEBUG if ordinary else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "%s: %s delivered (%d%s, attempt %d)",
                request.where,
                message.name,
                fetched.status,
                ", the partner had it already" if already_known else "",
                request.attempts,
            )
        return DeliveryReceipt(
            status=fetched.status, body=fetched.content, already_known=already_known
        )

    def _message_headers(self, message: OutboundMessage) -> dict[str, str]:
        """Content-Type, the idempotency key and the message's own headers, checked
        before anything is sent."""
        declared = self.settings.content_type
        content_type = message.content_type or declared
        if content_type is not declared and media_type(content_type) != self._declared_media_type:
            raise ConfigurationError(
                f"{message.name!r} is rendered as {content_type!r} but the connector sends "
                f"{declared!r}: the mapping and the connector's content_type disagree"
            )
        if content_type is not self._sendable_type:
            if not HEADER_VALUE.fullmatch(content_type):
                raise UnsendableMessage(
                    f"{message.name!r}: its content type {content_type!r} cannot be sent as a "
                    "header"
                )
            self._sendable_type = content_type
        key = message.idempotency_key
        if not HEADER_VALUE.fullmatch(key) or len(key) > _MAX_IDEMPOTENCY_KEY:
            raise UnsendableMessage(
                f"{message.name!r}: its idempotency key is empty, longer than "
                f"{_MAX_IDEMPOTENCY_KEY} characters or not printable ASCII; without a valid "
                "key a retried POST is not safe, so nothing was sent"
            )
        headers = {"Content-Type": content_type, self.settings.idempotency_header: key}
        headers.update(self._extra_headers(message))
        return headers

    def _extra_headers(self, message: OutboundMessage) -> dict[str, str]:
        """The message's own headers, checked: each a valid name and value, none set twice
        and none replacing a header the transport owns (its credentials, the content
        type, the idempotency key, the framing). Values are never quoted in an error,
        since a header may carry a signature or a token.

        Names already found sendable together, in the same order, are not checked again
        (nothing about a name can fail a second time): only their values are, in the same
        order, so the first bad value gives the same error as the whole check would."""
        names = tuple(message.headers)
        if names in self._sendable_names:
            for name, value in message.headers.items():
                if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
                    raise _unsendable_value(message, name)
            return dict(message.headers)
        taken = self._taken
        extra: dict[str, str] = {}
        seen: set[str] = set()
        for name, value in message.headers.items():
            if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
                raise UnsendableMessage(
                    f"{message.name!r}: {name!r} is not a valid HTTP header name"
                )
            lowered = name.lower()
            if lowered in seen:
                raise UnsendableMessage(
                    f"{message.name!r}: its {name} header is given twice (names are not "
                    "case-sensitive); nothing was sent"
                )
            if lowered in taken:
                raise HeaderConflict(
                    f"{message.name!r}: its {name} header would replace one the transport "
                    "sets itself (credentials, idempotency key, content type or framing); "
                    "nothing was sent",
                    header=name,
                    message_name=message.name,
                )
            if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
                raise _unsendable_value(message, name)
            extra[name] = value
            seen.add(lowered)
        if len(self._sendable_names) < _SENDABLE_NAMES:
            self._sendable_names.add(names)
        return extra

    # -- what a POST's answer means ------------------------------------------------------

    def _accepts(self, status: int) -> bool:
        return status in DELIVERED or (status == 409 and self.settings.conflict_is_success)

    def _final_refusal(
        self, request: Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        partner_said = f"; the partner said: {excerpt}" if excerpt else ""
        if status in _REJECTED:
            return DeliveryRejected(
                f"{request.where}: the partner rejected {request.ref_name!r} ({said})"
                f"{partner_said}; not retried: correct the order, then send it again",
                status=status,
                excerpt=excerpt,
                message_name=request.ref_name,
            )
        if status == 409:
            return DeliveryConflict(
                f"{request.where}: the partner reports a conflict for {request.ref_name!r} "
                f"({said}){partner_said}; this connector does not treat 409 as delivered "
                "(conflict_is_success is off), so an operator must check",
                status=status,
                excerpt=excerpt,
                message_name=request.ref_name,
            )
        if status == 404:
            return EndpointNotFound(
                f"{request.where}: the partner has no such endpoint ({said}); check base_url "
                f"and post_path{partner_said}"
            )
        if 200 <= status < 300:
            return UnexpectedResponse(
                f"{request.where}: the partner answered {said} to {request.ref_name!r}, which "
                "says neither delivered nor refused; it may have the order: check before "
                "sending again",
                status=status,
            )
        return None
