"""Reading a partner's API: its feed page by page, or one object by its key.

Implements :class:`hub.ports.PagedSource` on the retrying client; what is left to say
here is which request a page or an object is, and what a refusal of a GET means (a
cursor the partner forgot, an object it does not know, an endpoint that is not there).
"""

from __future__ import annotations

from urllib.parse import quote

from adapters.transports.http.client import Fetched, Request, RetryingClient
from adapters.transports.http.errors import EndpointNotFound, ItemNotFound, PartnerRejectedRequest
from adapters.transports.http.settings import HttpPullSettings
from hub.errors import ConfigurationError, CursorExpired, Location
from hub.ports import MessageRef, RawMessage

__all__ = ["REQUEST_ID_HEADERS", "HttpPullTransport"]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id")


class HttpPullTransport(RetryingClient[HttpPullSettings]):
    """Implements :class:`hub.ports.PagedSource` over HTTP with httpx.

    ``sleep`` serves every wait between attempts (Retry-After and backoff) and, unless a
    ``rate_limiter`` is given, the pacing too; ``clock`` paces, ``wall_clock`` reads
    Retry-After dates, ``jitter`` draws in [0, 1). Tests inject all four to run through
    rate limits and maintenance windows without sleeping. A ``client`` passed in stays
    the caller's to close.
    """

    def __repr__(self) -> str:
        return (
            f"HttpPullTransport(base_url={self.settings.base_url!r}, "
            f"page_path={self.settings.page_path!r}, item_path={self.settings.item_path!r}, "
            f"credentials=[{self._credential_sources()}])"
        )

    # -- PagedSource ---------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawMessage:
        """One page of the feed: the first without a cursor, the next ones with one."""
        path = self.settings.page_path
        if path is None:
            raise ConfigurationError("this connector has no page_path: it cannot page a feed")
        param = self.settings.cursor_param
        request = Request(
            method="GET",
            url=self._url(path),
            params=None if cursor is None else {param: cursor},
            ref_name=path if cursor is None else f"{path}?{param}={cursor}",
            cursor=cursor,
        )
        return self._message(request, self._exchange(request))

    def fetch_item(self, key: str) -> RawMessage:
        """One object by its key (a repair, a parcel), for re-synchronisation."""
        template = self.settings.item_path
        if template is None:
            raise ConfigurationError("this connector has no item_path: it cannot fetch by key")
        path = template.format(key=quote(key, safe=""))
        request = Request(method="GET", url=self._url(path), ref_name=path, item_key=key)
        return self._message(request, self._exchange(request))

    # -- what a GET's refusal means ------------------------------------------------------

    def _final_refusal(
        self, request: Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        partner_said = f"; the partner said: {excerpt}" if excerpt else ""
        if request.item_key is not None and status in (404, 410):
            return ItemNotFound(
                f"the partner knows no item {request.item_key!r} ({said})",
                key=request.item_key,
                status=status,
                location=Location(request.ref_name),
            )
        if status == 410:
            return CursorExpired(
                f"{request.where}: the partner no longer knows the cursor {request.cursor!r} "
                f"({said}): re-synchronise the open objects, then page again from the start"
            )
        if status == 404:
            return EndpointNotFound(
                f"{request.where}: the partner has no such endpoint ({said}); check base_url "
                f"and page_path{partner_said}"
            )
        if status in (400, 422):
            return PartnerRejectedRequest(
                f"{request.where}: the partner rejected the request ({said}){partner_said}",
                status=status,
                excerpt=excerpt,
            )
        return None

    def _message(self, request: Request, fetched: Fetched) -> RawMessage:
        metadata = {"url": fetched.url, "status": str(fetched.status)}
        content_type = fetched.headers.get("content-type")
        if content_type:
            metadata["content_type"] = content_type
        for header in REQUEST_ID_HEADERS:
            if header in fetched.headers:
                metadata["request_id"] = fetched.headers[header]
                break
        if request.attempts > 1:
            metadata["attempts"] = str(request.attempts)
        return RawMessage(
            ref=MessageRef(name=request.ref_name, size=len(fetched.content)),
            content=fetched.content,
            metadata=metadata,
        )
