"""The sender of retailer webhooks: the http-post transport's rules, each attempt sent
straight to httpx's connection pool instead of through ``httpx.Client.send``.

A webhook is a signed POST to a URL the hub knows: no credentials (it carries its
signature), no OAuth, no redirect followed (the http-post transport follows none
either). Around the pool, ``Client.send`` runs an auth flow, the redirect loop, event
hooks, a timer, the cookie jar and its own log line, and ``Client.build_request`` merges
the client's headers and cookies into a new request: a third of httpx's cost a POST
(issue 17, docs/performance.md, Outbox), none of it of use to a webhook. So, **by
design**, this sender:

- sends no credentials and takes no OAuth: its settings refuse them;
- keeps no cookies: one a receiver sets is never sent back;
- uses no proxy, not even one the environment names (``HTTPS_PROXY``): the webhook goes
  to the receiver's address directly;
- writes no httpx request line: the dispatcher's line, and this transport's own at
  debug, say each delivery.

Everything else is the http-post transport's, unchanged: the headers checked, the pacing,
the first attempt and tenacity's retries (Retry-After, else the hub's backoff), what each
answer means, the errors. The bytes on the wire are those the client would send: the
client's default headers (taken from an ``httpx.Client``, which also owns the pool and
closes it), then the transport's, then the message's, in that order. TLS is verified as
the client verifies it (the pool is ``httpx.HTTPTransport``'s, with its defaults), and
the timeouts are the transport's, as for any request.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from adapters.transports.http.client import Request
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.settings import HttpPostSettings
from hub.errors import ConfigurationError

__all__ = ["WebhookTransport"]


class WebhookTransport(HttpPostTransport):
    """Implements :class:`hub.ports.Sender` for a retailer's webhook URL: the http-post
    transport over httpx's connection pool alone (see the module: no credentials,
    cookies, proxies or httpx log line, by design)."""

    def __init__(self, settings: HttpPostSettings, **options: Any) -> None:
        if settings.credentials or settings.oauth is not None:
            raise ConfigurationError(
                "a webhook carries its own signature: the webhook sender sends no "
                "credentials and takes no OAuth"
            )
        self._pool = httpx.HTTPTransport()  # TLS as a client verifies it, by default
        super().__init__(settings, **options)
        self._sent_headers = httpx.Headers(self._client.headers)
        self._sent_headers.update(self._headers)
        self._extensions = {"timeout": self._timeout.as_dict()}
        # Every attempt goes to one URL: parsed once, not at every request.
        self._post_url = self._url(settings.post_path)
        self._parsed_post_url = httpx.URL(self._post_url)

    def _own_client(self) -> httpx.Client:
        """The client only holds the pool (closing one closes the other) and the default
        headers: no proxy of the environment is looked up for it, none is used."""
        return httpx.Client(transport=self._pool, follow_redirects=False, trust_env=False)

    def __repr__(self) -> str:
        return f"WebhookTransport(url={self._post_url!r})"

    def _open(self, request: Request) -> _Exchange:
        headers = self._sent_headers.copy()
        headers.update(request.headers)
        url = self._parsed_post_url if request.url == self._post_url else request.url
        sent = httpx.Request(
            request.method,
            url,
            params=request.params,
            content=request.content,
            headers=headers,
            extensions=self._extensions,
        )
        return _Exchange(self._pool, sent)


class _Exchange:
    """One request through the pool, its response closed on leaving (as the client's
    ``stream`` does)."""

    def __init__(self, pool: httpx.HTTPTransport, request: httpx.Request) -> None:
        self._pool = pool
        self._request = request
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        response = self._pool.handle_request(self._request)
        response.request = self._request
        self._response = response
        return response

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._response is not None:
            self._response.close()
