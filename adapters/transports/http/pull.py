"""Reading a partner's API: its feed page by page, or one object by its key.

Implements :class:`hub.ports.PagedSource` on the retrying client; what is left to say
here is which request a page or an object is, and what a refusal of a GET means (a
cursor the partner forgot, an object it does not know, an endpoint that is not there).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from adapters.transports.http.client import Fetched, Request, RetryingClient
from adapters.transports.http.errors import (
    EndpointNotFound,
    ItemNotFound,
    PartnerRejectedRequest,
    RetryableFailure,
    UnexpectedResponse,
)
from adapters.transports.http.faults import ItemSkipped, PartnerFault, match_fault
from adapters.transports.http.item_request import render_item_body
from adapters.transports.http.links import MalformedLinkHeader, parse_links
from adapters.transports.http.settings import HttpPullSettings
from hub.errors import ConfigurationError, CursorExpired, Location
from hub.ports import MORE_PAGES, NEXT_CURSOR, MessageRef, RawMessage

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
        style = self.settings.pagination.style
        if style == "link_header":
            request = self._link_request(path, cursor)
        elif style == "page_number":
            request = self._numbered_request(path, cursor)
        else:
            param = self.settings.cursor_param
            request = Request(
                method="GET",
                url=self._url(path),
                params=self._sized(None if cursor is None else {param: cursor}),
                ref_name=path if cursor is None else f"{path}?{param}={cursor}",
                cursor=cursor,
            )
        fetched = self._exchange(request)
        message = self._message(request, fetched)
        if style == "link_header":
            return replace(message, metadata={**message.metadata, **self._next_link(fetched)})
        if style == "page_number":
            number = self._page_number(cursor) + 1
            return replace(message, metadata={**message.metadata, NEXT_CURSOR: str(number)})
        return message

    def fetch_since(self, since: datetime | None) -> RawMessage:
        """The feed's first page from ``since`` (RFC 3339 in UTC, to the millisecond and
        never later than asked) in ``since_param``; without it, from the start. The pages
        after it are asked with :meth:`fetch_page` and the cursor this one hands over."""
        path, param = self.settings.page_path, self.settings.since_param
        if path is None or param is None:
            raise ConfigurationError(
                "this connector has no page_path and since_param: it cannot ask from a time"
            )
        if since is None:
            params, ref_name = None, path
        else:
            value = rfc3339(since)
            params, ref_name = {param: value}, f"{path}?{param}={value}"
        request = Request(
            method="GET", url=self._url(path), params=self._sized(params), ref_name=ref_name
        )
        fetched = self._exchange(request)
        message = self._message(request, fetched)
        if self.settings.pagination.style == "link_header":
            return replace(message, metadata={**message.metadata, **self._next_link(fetched)})
        return message

    def fetch_item(self, key: str) -> RawMessage:
        """One object by its key (a repair, a parcel): a GET of item_path, or the
        connector's item_request (a SOAP POST naming the key in its body)."""
        template = self.settings.item_path
        if template is None:
            raise ConfigurationError("this connector has no item_path: it cannot fetch by key")
        path = template.replace("{key}", quote(key, safe=""))
        asked = self.settings.item_request
        if asked is None:
            request = Request(method="GET", url=self._url(path), ref_name=path, item_key=key)
        else:
            request = Request(
                method=asked.method,
                url=self._url(path),
                # The path is the same for every item: the name tells them apart.
                ref_name=f"{path}#{quote(key, safe='')}",
                content=render_item_body(asked, key, self.settings.item_secrets),
                headers=dict(asked.headers),
                item_key=key,
            )
        return self._message(request, self._exchange(request))

    # -- faults said in the body -----------------------------------------------------------

    def _reads_whole(self, status: int) -> bool:
        return bool(self.settings.faults) or super()._reads_whole(status)

    def _fault(self, request: Request, status: int, content: bytes) -> Exception | None:
        """What a fault rule makes of this answer: wait, skip the item, or fail."""
        found = match_fault(self.settings.faults, status, content)
        if found is None:
            return None
        rule, said = found.rule, found.text
        if rule.then == "wait":
            return RetryableFailure(
                f"fault {said!r}, waiting {rule.wait}", status=status, retry_after=rule.wait_seconds
            )
        if rule.then == "skip" and request.item_key is not None:
            return ItemSkipped(
                f"the partner answered a fault for {request.item_key!r}, skipped: {said}",
                key=request.item_key,
                location=Location(request.ref_name),
            )
        return PartnerFault(f"{request.where}: the partner answered a fault: {said}")

    # -- pagination ----------------------------------------------------------------------

    def _sized(self, params: dict[str, str] | None) -> dict[str, str] | None:
        """The page size, when the connector asks for one, added to a page's query."""
        pagination = self.settings.pagination
        if pagination.size_param is None or pagination.size is None:
            return params
        return {**(params or {}), pagination.size_param: str(pagination.size)}

    def _numbered_request(self, path: str, cursor: str | None) -> Request:
        number = self._page_number(cursor)
        param = self.settings.pagination.page_param
        return Request(
            method="GET",
            url=self._url(path),
            params=self._sized({param: str(number)}),
            ref_name=f"{path}?{param}={number}",
            cursor=cursor,
        )

    def _page_number(self, cursor: str | None) -> int:
        if cursor is None:
            return self.settings.pagination.first_page
        if not cursor.isdigit():
            raise ConfigurationError(
                f"the stored cursor {cursor!r} is no page number: was the connector's "
                "pagination style changed? Clear its cursor to read from the first page"
            )
        return int(cursor)

    def _link_request(self, path: str, cursor: str | None) -> Request:
        """The first page at page_path; the next ones at the path and query their
        predecessor's ``rel="next"`` link gave, always on base_url's origin."""
        if cursor is None:
            return Request(
                method="GET", url=self._url(path), params=self._sized(None), ref_name=path
            )
        url = httpx.URL(self.settings.base_url).join(cursor)
        self._same_origin(url, f"the stored cursor {cursor!r}")
        return Request(method="GET", url=str(url), ref_name=cursor, cursor=cursor)

    def _next_link(self, fetched: Fetched) -> dict[str, str]:
        """The cursor of the page after this one, from its ``Link`` header: the path and
        query of its ``rel="next"`` target, resolved against the request's URL."""
        try:
            links = parse_links(fetched.headers.get_list("link"))
        except MalformedLinkHeader as exc:
            raise UnexpectedResponse(
                f"GET {fetched.url}: the Link header is malformed ({exc}); the next page "
                "cannot be known",
                status=fetched.status,
            ) from exc
        following = next((link for link in links if "next" in link.rels), None)
        if following is None:
            return {MORE_PAGES: "false"}
        url = httpx.URL(fetched.url).join(following.target)
        self._same_origin(url, f"the next page's link from GET {fetched.url}")
        return {NEXT_CURSOR: url.raw_path.decode("ascii"), MORE_PAGES: "true"}

    def _same_origin(self, url: httpx.URL, what: str) -> None:
        """Our credentials go to base_url's scheme, host and port, and nowhere else."""
        base = httpx.URL(self.settings.base_url)
        if _origin(url) != _origin(base):
            raise ConfigurationError(
                f"{what} points to {_shown_origin(url)}, not to base_url's "
                f"{_shown_origin(base)}: refused, so that our credentials stay with the "
                "partner. If the partner moved its API there, update base_url"
            )

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


def rfc3339(at: datetime) -> str:
    """``2026-11-05T13:12:09.250Z``: UTC, milliseconds cut (never rounded up, so that
    asking from it never skips an event of that instant)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _shown_origin(url: httpx.URL) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"
