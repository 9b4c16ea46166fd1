"""What a partner's answer can mean, as hub errors: every outcome of an HTTP exchange is
one of these (or a plain hub error), so the engine decides mechanically what to do next.

Transient faults (:class:`PartnerUnavailable`) come back later; configuration faults
(refused credentials, a path that points nowhere) wait for an operator; a refused order
(:class:`DeliveryRejected`) goes to the dead letters.
"""

from __future__ import annotations

from hub.errors import ConfigurationError, FatalError, Location, PartnerDataError, TransientError

__all__ = [
    "DeliveryConflict",
    "DeliveryRejected",
    "EndpointNotFound",
    "HeaderConflict",
    "ItemNotFound",
    "PartnerRefusedCredentials",
    "PartnerRejectedRequest",
    "PartnerUnavailable",
    "ResponseTooLarge",
    "RetryLater",
    "RetryableFailure",
    "UnexpectedResponse",
    "UnsendableMessage",
]


class PartnerUnavailable(TransientError):
    """The partner did not answer usefully after every attempt: the run should come back
    later. ``retry_after`` is the partner's last Retry-After, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        attempts: int,
        status: int | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.url = url
        self.attempts = attempts
        self.status = status


class RetryLater(PartnerUnavailable):
    """The partner asked for a longer pause than ``max_wait``: rather than block a worker
    for it, the scheduler comes back after ``retry_after`` seconds."""


class PartnerRefusedCredentials(ConfigurationError):
    """401 or 403: retrying with the same key cannot help; someone must fix the secret."""

    def __init__(self, message: str, *, status: int, variables: tuple[str, ...]) -> None:
        super().__init__(message)
        self.status = status
        self.variables = variables


class PartnerRejectedRequest(FatalError):
    """400 or 422: the partner calls our request invalid; sending it again changes nothing."""

    def __init__(self, message: str, *, status: int, excerpt: str) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class DeliveryRejected(PartnerRejectedRequest):
    """400, 413 or 422 to a delivered message: the order itself is wrong (a bad postcode,
    a field the partner's schema refuses). Never retried: it goes to the dead letters for
    an operator, with the partner's own words in ``excerpt``."""

    def __init__(self, message: str, *, status: int, excerpt: str, message_name: str) -> None:
        super().__init__(message, status=status, excerpt=excerpt)
        self.message_name = message_name


class DeliveryConflict(FatalError):
    """409 from a partner not known to mean "you sent this already" by it
    (``conflict_is_success`` off): the order may clash with another, so an operator looks
    rather than the hub guessing that it was delivered."""

    def __init__(self, message: str, *, status: int, excerpt: str, message_name: str) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt
        self.message_name = message_name


class UnsendableMessage(FatalError):
    """A message that cannot go on the wire as it is (its idempotency key is no valid
    header value): a fault of whatever built it, caught before anything is sent."""


class HeaderConflict(UnsendableMessage):
    """A message header that would replace one the transport sets itself (a credential,
    the idempotency key, the content type, the framing): refused before anything is sent,
    since a message able to swap the key or the credentials could defeat de-duplication
    or authenticate as someone else. ``header`` is the name; its value is never shown."""

    def __init__(self, message: str, *, header: str, message_name: str) -> None:
        super().__init__(message)
        self.header = header
        self.message_name = message_name


class EndpointNotFound(ConfigurationError):
    """404 on the paged feed or the delivery endpoint: base_url or the path points nowhere."""


class ItemNotFound(PartnerDataError):
    """The partner knows no object with this key (404, or 410 for one it deleted)."""

    def __init__(self, reason: str, *, key: str, status: int, location: Location) -> None:
        super().__init__(reason, location=location)
        self.key = key
        self.status = status


class ResponseTooLarge(FatalError):
    """A response beyond ``max_response_bytes``: refused before it can exhaust memory."""


class UnexpectedResponse(FatalError):
    """A status this transport has no rule for (a redirect, 405, 409, 501…): an operator
    must look, since guessing could lose data or loop."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class RetryableFailure(Exception):
    """One failed attempt worth another: caught by the retrying client, never raised
    beyond this package."""

    def __init__(self, what: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.retry_after = retry_after
