"""The sender of retailer webhooks: the http-post transport's rules, each attempt sent
through urllib3's connection pool instead of httpx's.

A webhook is a signed POST to one URL the hub knows: no credentials (it carries its
signature), no OAuth, no redirect followed (the http-post transport follows none
either). httpx's client runs an auth flow, the redirect loop, event hooks, the cookie
jar and its own log line around its pool, and its pool (httpcore and h11) costs more
CPU a request than urllib3's (issue 17, docs/performance.md, Outbox). So, **by
design**, this sender:

- sends no credentials and takes no OAuth: its settings refuse them;
- keeps no cookies: one a receiver sets is never sent back;
- uses no proxy, not even one the environment names (``HTTPS_PROXY``): the webhook goes
  to the receiver's address directly;
- writes no httpx request line: the dispatcher's line, and this transport's own at
  debug, say each delivery.

Everything else is the http-post transport's, unchanged: the headers checked, the pacing,
the first attempt and tenacity's retries (Retry-After, else the hub's backoff), what each
answer means, the errors. The bytes on the wire are those httpx's client sends: ``Host``
as httpx writes it, the client's default headers (taken from an ``httpx.Client``), then
the transport's, then the message's, then ``Content-Length``, in that order and case.
TLS is verified with the context httpx makes (``httpx.create_ssl_context``: certifi's
authorities), and the timeouts are the transport's. The answer comes back as an
``httpx.Response`` over urllib3's undecoded body, and urllib3's errors as httpx's, so
that the retrying client reads, decodes and judges it as it reads any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import urllib3
from urllib3 import exceptions as wire

from adapters.transports.http.client import Request
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.settings import HttpPostSettings
from hub.errors import ConfigurationError

__all__ = ["WebhookTransport"]

# Connections kept alive per receiver: as many as httpx's pool keeps by default. The
# dispatcher sends at most DELIVERIES_PER_RECEIVER (8) at once to one receiver; more at
# once would open more connections, and urllib3 would close (with a warning) those it
# cannot keep.
_KEPT_ALIVE = 20


class WebhookTransport(HttpPostTransport):
    """Implements :class:`hub.ports.Sender` for a retailer's webhook URL: the http-post
    transport over urllib3's connection pool (see the module: no credentials, cookies,
    proxies or httpx log line, by design)."""

    def __init__(self, settings: HttpPostSettings, **options: Any) -> None:
        if settings.credentials or settings.oauth is not None:
            raise ConfigurationError(
                "a webhook carries its own signature: the webhook sender sends no "
                "credentials and takes no OAuth"
            )
        # TLS as httpx's client verifies it: its context, made once for both.
        self._tls = httpx.create_ssl_context()
        super().__init__(settings, **options)
        target = httpx.URL(self._post_url)
        self._target = target.raw_path.decode("ascii")
        # The pool for the URL's scheme, host and port, as urllib3 picks it.
        tls: dict[str, Any] = {"ssl_context": self._tls} if target.scheme == "https" else {}
        self._pool = urllib3.connection_from_url(
            self._post_url,
            timeout=urllib3.Timeout(connect=self._timeout.connect, read=self._timeout.read),
            maxsize=_KEPT_ALIVE,
            retries=False,
            **tls,
        )
        # The headers every attempt starts with, in httpx's order and case: Host, then
        # the client's defaults with the transport's merged over them.
        defaults = httpx.Headers(self._client.headers)
        defaults.update(self._headers)
        self._sent_headers = {"Host": target.netloc.decode("ascii")}
        self._sent_headers.update((k.decode(), v.decode()) for k, v in defaults.raw)
        self._sent_names = {name.lower() for name in self._sent_headers}
        # What the answer's ``url`` and ``request`` say: the one URL every attempt goes to.
        self._answered = httpx.Request("POST", target)

    def _own_client(self) -> httpx.Client:
        """The client only holds the default headers every attempt sends (no request
        goes through it); no proxy of the environment is looked up for it."""
        return httpx.Client(verify=self._tls, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close the connection pool and the client beside it."""
        self._pool.close()
        super().close()

    def __repr__(self) -> str:
        return f"WebhookTransport(url={self._post_url!r})"

    def _body(self, response: httpx.Response) -> Iterator[bytes]:
        """An answer with no ``Content-Encoding`` read as urllib3 hands it over: httpx's
        decoder for it is the identity, and its layers around the stream (decoder,
        chunkers, request context) cost a delivery more than urllib3's read (issue 17).
        An encoded answer is decoded by httpx, as any transport's is."""
        stream = response.stream
        if isinstance(stream, _Body) and not stream.encoded:
            return iter(stream)
        return super()._body(response)

    def _open(self, request: Request) -> _Exchange:
        if request.url != self._post_url or request.params:  # pragma: no cover - by design
            raise ConfigurationError(f"{request.where}: a webhook sender posts to its URL only")
        if self._sent_names.isdisjoint(name.lower() for name in request.headers):
            headers = self._sent_headers | request.headers
        else:  # a message's header replaces a default one, merged as httpx's client does
            merged = httpx.Headers(self._sent_headers)
            merged.update(request.headers)
            headers = {k.decode(): v.decode() for k, v in merged.raw}
        content = request.content or b""
        headers["Content-Length"] = str(len(content))
        return _Exchange(self._pool, request.method, self._target, content, headers, self._answered)


class _Exchange:
    """One request through the pool, its answer an ``httpx.Response`` whose body is read
    from the connection as the client reads it; closed on leaving (as the client's
    ``stream`` does): a connection whose answer was read whole goes back to the pool,
    one left unread is closed."""

    def __init__(
        self,
        pool: urllib3.HTTPConnectionPool,
        method: str,
        target: str,
        content: bytes,
        headers: dict[str, str],
        answered: httpx.Request,
    ) -> None:
        self._pool = pool
        self._method = method
        self._target = target
        self._content = content
        self._headers = headers
        self._answered = answered
        self._response: httpx.Response | None = None
        self._stream: _Body | None = None

    def __enter__(self) -> httpx.Response:
        with _as_httpx_errors:
            answer = self._pool.urlopen(
                self._method,
                self._target,
                body=self._content,
                headers=self._headers,
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
        # http.client reads the status line and headers as Latin-1: the same bytes go to
        # httpx (which takes str only as ASCII), the receiver's reason phrase with them.
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        self._stream = stream = _Body(answer)
        self._response = httpx.Response(
            answer.status,
            headers=headers,
            stream=stream,
            request=self._answered,
            extensions={"reason_phrase": (answer.reason or "").encode("latin-1")},
        )
        return self._response

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        response = self._response
        if response is not None and self._stream is not None and not response.is_closed:
            # What ``Response.close`` does, without the context manager it wraps the
            # stream's close in (it only names the request on an httpx error, and closing
            # this body raises none). With the encoding asked of urllib3's headers (``_body``),
            # 16 k instructions a delivery less (issue 17, eighteenth pass).
            response.is_closed = True
            self._stream.close()


class _Body(httpx.SyncByteStream):
    """An answer's body as urllib3 reads it off the connection (undecoded: httpx's
    response decodes it, as it decodes any)."""

    def __init__(self, answer: urllib3.BaseHTTPResponse) -> None:
        self._answer = answer

    @property
    def encoded(self) -> bool:
        """Whether the answer names a ``Content-Encoding``: asked of urllib3's headers,
        whose lookup of a missing name raises nothing (httpx's raises and catches a
        ``KeyError``)."""
        return "content-encoding" in self._answer.headers

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors:
            yield from self._answer.stream(65536, decode_content=False)

    def close(self) -> None:
        if not self._answer.closed:  # left unread: the connection cannot be reused
            self._answer.close()
        self._answer.release_conn()


class _AsHttpxErrors:
    """urllib3's errors as the httpx errors the retrying client judges (the original
    kept as the cause, where a refused certificate is looked for). One stateless object
    for the module, not a generator's context manager built at each of the two entries
    a delivery makes (issue 17)."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None or not isinstance(error, wire.HTTPError):
            return
        if isinstance(error, wire.NewConnectionError):  # before its base, ConnectTimeoutError
            raise httpx.ConnectError(str(error)) from error
        if isinstance(error, wire.ConnectTimeoutError):
            raise httpx.ConnectTimeout(str(error)) from error
        if isinstance(error, wire.ReadTimeoutError):
            raise httpx.ReadTimeout(str(error)) from error
        if isinstance(error, wire.SSLError):
            raise httpx.ConnectError(str(error)) from error
        if isinstance(error, wire.ProtocolError):
            raise httpx.RemoteProtocolError(str(error)) from error
        raise httpx.TransportError(str(error)) from error


_as_httpx_errors = _AsHttpxErrors()
