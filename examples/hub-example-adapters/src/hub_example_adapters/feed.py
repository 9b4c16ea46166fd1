"""The ``http-feed`` transport: a partner's change feed read page by page over HTTP.

Many partner APIs publish their changes as a feed: ``GET <url>`` gives the first page,
``GET <url>?cursor=<token>`` the page after the one that handed out ``<token>``. This
transport declares ``Capability.PAGED``, so the hub runs it as a paged source: the
hub's engine keeps the cursor in its database, advanced in the transaction that stores
each page's events, and the codec (JSON, XML) reads the next cursor out of the page.
The transport only fetches bytes for a cursor it is given; it keeps no state.

With ``item_url`` it also declares ``Capability.PER_ITEM``: one object by its key, which
the hub uses to re-synchronise open objects when the partner forgets a cursor (410).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import Request, urlopen

from pydantic import BaseModel, Field, HttpUrl

from hub.errors import ConfigurationError, CursorExpired, FatalError, TransientError
from hub.ports import AdapterInfo, AdapterKind, Capability, CursorSettings, MessageRef, RawMessage

__all__ = ["HTTP_FEED", "FeedSettings", "HttpFeedTransport", "build"]

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers that say "later": the run fails as transient and the hub retries it."""


class FeedSettings(CursorSettings):
    """Where the feed is; ``next_field``/``more_field`` (inherited) name the codec's
    document fields that carry the next cursor and whether more pages follow."""

    model_config = CursorSettings.model_config | {"title": "http-feed transport"}

    url: HttpUrl = Field(description="The feed's first page; later pages add the cursor.")
    cursor_param: str = Field(
        default="cursor", min_length=1, description="Query parameter carrying the cursor."
    )
    item_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="One object by its key, e.g. https://api.example/items/{key}; "
        "enables re-synchronisation when the partner forgets a cursor.",
    )
    token_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Variable holding a bearer token, sent as Authorization.",
    )
    timeout: float = Field(default=10, gt=0, le=300, description="Seconds per request.")
    max_bytes: int = Field(default=10_000_000, ge=1, description="Larger pages are refused.")


class HttpFeedTransport:
    """Implements :class:`hub.ports.PagedSource`: I/O only, no cursor kept here."""

    def __init__(self, settings: FeedSettings, token: str | None = None) -> None:
        self.settings = settings
        self._token = token

    def fetch_page(self, cursor: str | None) -> RawMessage:
        """The first page without a cursor, else the page after the one that gave it."""
        url = str(self.settings.url)
        name = urlsplit(url).path or "/"
        if cursor is not None:
            query = urlencode({self.settings.cursor_param: cursor})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
            name = f"{name}?{query}"
        return self._get(url, name, cursor=cursor)

    def fetch_item(self, key: str) -> RawMessage:
        """One object by its key, for re-synchronisation."""
        template = self.settings.item_url
        if template is None:
            raise ConfigurationError("this feed has no item_url: it cannot fetch by key")
        url = template.format(key=quote(key, safe=""))
        return self._get(url, urlsplit(url).path or "/", cursor=None)

    def _get(self, url: str, name: str, *, cursor: str | None) -> RawMessage:
        headers = {"Accept": "application/json, application/xml;q=0.9"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        request = Request(url, headers=headers, method="GET")  # noqa: S310 - http(s) only
        try:
            with urlopen(request, timeout=self.settings.timeout) as response:  # noqa: S310
                content = response.read(self.settings.max_bytes + 1)
                content_type = response.headers.get_content_type()
        except HTTPError as refused:
            raise self._refusal(name, refused.code, refused.headers, cursor) from None
        except (URLError, HTTPException, OSError) as failed:
            raise TransientError(f"GET {name}: {failed}") from None
        if len(content) > self.settings.max_bytes:
            raise FatalError(f"GET {name}: the page is larger than {self.settings.max_bytes} bytes")
        return RawMessage(MessageRef(name, len(content)), content, {"content_type": content_type})

    def _refusal(self, name: str, status: int, headers: Message, cursor: str | None) -> Exception:
        """The hub's error for a refused GET, chosen by what must happen next."""
        if status == 410 and cursor is not None:
            return CursorExpired(f"GET {name}: the partner no longer knows cursor {cursor!r}")
        if status in RETRIED_STATUSES:
            return TransientError(f"GET {name}: HTTP {status}", retry_after=_seconds(headers))
        if status in (401, 403, 404):
            return ConfigurationError(f"GET {name}: HTTP {status}; check the url and token")
        return FatalError(f"GET {name}: HTTP {status}")


def _seconds(headers: Message) -> float | None:
    value = headers.get("Retry-After")
    return float(value) if value is not None and value.strip().isdigit() else None


def build(
    settings: FeedSettings, secrets: Mapping[str, str], default_pattern: str | None
) -> HttpFeedTransport:
    """The factory the hub calls with checked settings and the token, when one is named."""
    del default_pattern  # a feed has no file names to match
    return HttpFeedTransport(settings, secrets.get("token"))


def _configured(settings: BaseModel) -> frozenset[Capability]:
    """Paging always; fetching by key only with an ``item_url``."""
    if isinstance(settings, FeedSettings) and settings.item_url is not None:
        return frozenset({Capability.PAGED, Capability.PER_ITEM})
    return frozenset({Capability.PAGED})


HTTP_FEED = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="http-feed",
    summary="A partner's change feed read page by page, the cursor kept by the hub "
    "(an example plugin).",
    settings=FeedSettings,
    factory=build,
    capabilities=frozenset({Capability.PAGED, Capability.PER_ITEM}),
    configured=_configured,
)
"""The ``http-feed`` entry point of ``hub.transports``."""
