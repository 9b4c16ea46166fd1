"""What both simulators share: a uvicorn server on a background thread, a clock that tests
can move by hand, a rate limiter, a maintenance switch and a log of every request.

:func:`serving` is the same background server for any ASGI app (the hub's own API in the
tests, a benchmark's receiver), so there is one way to run uvicorn in a thread.

The clock is injected everywhere time matters (rate limits, maintenance spans, token age,
push timestamps) so that tests can cross a one-second window or a seven-day expiry without
sleeping.
"""

from __future__ import annotations

import argparse
import math
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Clock = Callable[[], float]
"""Seconds since the Unix epoch, like :func:`time.time`."""

DEFAULT_START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
STARTUP_TIMEOUT = 10.0


class ManualClock:
    """A clock that only moves when told to, so tests cross time windows without sleeping."""

    def __init__(self, start: datetime | float = DEFAULT_START) -> None:
        self._lock = threading.Lock()
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never backwards: nothing in the simulators expects that)."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now += seconds

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self(), UTC)


def format_at(at: datetime | date | str) -> str:
    """A partner timestamp as text; strings pass through untouched so tests can send odd ones.

    A naive datetime stays naive (no offset) on purpose: some partners send local times.
    """
    if isinstance(at, str):
        return at
    if isinstance(at, datetime):
        return at.isoformat(timespec="seconds")
    return at.isoformat()


def retry_after_seconds(seconds: float) -> int:
    """A Retry-After value: whole seconds, rounded up, never zero (zero invites a hot loop)."""
    return max(1, math.ceil(seconds))


class RateLimiter:
    """At most ``limit`` accepted requests in any sliding ``window`` seconds.

    Refused requests are not counted, so the Retry-After it gives is exact: after that many
    seconds the oldest accepted request has left the window.
    """

    def __init__(self, limit: int | None, window: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()
        self.limit = limit
        self.window = window

    def check(self, now: float) -> int | None:
        """Count one request at ``now``; ``None`` if allowed, else the Retry-After seconds."""
        with self._lock:
            if self.limit is None:
                return None
            while self._accepted and self._accepted[0] <= now - self.window:
                self._accepted.popleft()
            if len(self._accepted) >= self.limit:
                return retry_after_seconds(self._accepted[0] + self.window - now)
            self._accepted.append(now)
            return None

    def reset(self) -> None:
        """Forget past requests (e.g. between two phases of a test)."""
        with self._lock:
            self._accepted.clear()


class Maintenance:
    """A maintenance window: for the next N requests, or until a point in time, or both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests_left = 0
        self._until: float | None = None
        self._retry_after: int | None = None

    def start(
        self,
        now: float,
        *,
        requests: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Open a window; ``retry_after`` overrides the announced wait (default: what is left)."""
        if requests is None and seconds is None:
            raise ValueError("give requests=N, seconds=S or both")
        with self._lock:
            self._requests_left = requests or 0
            self._until = None if seconds is None else now + seconds
            self._retry_after = retry_after

    def end(self) -> None:
        """Close the window at once."""
        with self._lock:
            self._requests_left = 0
            self._until = None

    def check(self, now: float) -> int | None:
        """``None`` if the service is up, else the Retry-After to announce (uses up a request)."""
        with self._lock:
            if self._requests_left > 0:
                self._requests_left -= 1
                return self._retry_after or 1
            if self._until is not None and now < self._until:
                return self._retry_after or retry_after_seconds(self._until - now)
            self._until = None
            return None

    @property
    def active(self) -> bool:
        """Whether a window is open (without using up a request)."""
        with self._lock:
            return self._requests_left > 0 or self._until is not None


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (a free port unless given), handed to uvicorn as is."""
    # IPPROTO_TCP, not the default 0: asyncio only turns Nagle off (TCP_NODELAY) on
    # sockets that say they are TCP, and with Nagle on every keep-alive answer waits
    # ~40 ms for the client's delayed ACK between its headers and its body.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def free_port() -> int:
    """A port free on loopback now, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_in_thread(server: uvicorn.Server, sock: socket.socket, name: str) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread; return once it accepts connections,
    so a caller never races the first request against the start."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=STARTUP_TIMEOUT)
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    return thread


@contextmanager
def serving(
    app: ASGIApp,
    *,
    config: Callable[..., uvicorn.Config] = uvicorn.Config,
    name: str = "uvicorn",
) -> Iterator[str]:
    """``app`` behind a real uvicorn on loopback, in a thread; yields its base URL.

    ``config`` builds the server's settings from uvicorn's keyword arguments, for an app
    whose settings are its own (e.g. which proxies it believes).
    """
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "access_log": False}
    server = uvicorn.Server(config(app, **options))
    sock = bind_loopback()
    try:
        thread = start_in_thread(server, sock, name)
    except BaseException:
        sock.close()
        raise
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator answered: tests count these (e.g. no retry storm after 401)."""

    method: str
    path: str
    query: str
    status: int
    at: float


class _RequestLogger:
    """ASGI wrapper recording every HTTP request's method, path and final status."""

    def __init__(self, app: ASGIApp, record: Callable[[RequestRecord], None], clock: Clock):
        self._app = app
        self._record = record
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            query = bytes(scope.get("query_string", b"")).decode("latin-1")
            self._record(
                RequestRecord(scope["method"], scope["path"], query, status, self._clock())
            )


class Simulator(ABC):
    """A partner simulator served by uvicorn on a background thread.

    Subclasses build a Starlette app; this class owns the socket, the thread and the
    request log. Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    path_prefix = ""
    """Prefix of every route, so ``base_url`` looks like the partner's documented one."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None):
        self.host = host
        self._wanted_port = port
        self.clock: Clock = clock or time.time
        self._lock = threading.RLock()
        self._requests: list[RequestRecord] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @abstractmethod
    def build_app(self) -> ASGIApp:
        """The partner's HTTP API."""

    def _serving(self) -> None:
        """Hook: the server is up (start background work here)."""
        return

    def _stopping(self) -> None:
        """Hook: the server is about to stop (end background work here)."""
        return

    # -- lifecycle ---------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        return bind_loopback(self.host, self._wanted_port)

    def _make_server(self) -> uvicorn.Server:
        app = _RequestLogger(self.build_app(), self._note_request, self.clock)
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        return uvicorn.Server(config)

    def start(self) -> Self:
        """Bind a port (a free one unless given) and serve on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._socket = self._bind()
        self._server = self._make_server()
        try:
            self._thread = start_in_thread(
                self._server, self._socket, f"{type(self).__name__}:{self.port}"
            )
        except RuntimeError:
            self.stop()
            raise
        self._serving()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._stopping()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the ``python -m`` entry points)."""
        self._socket = self._bind()
        print(f"{type(self).__name__} listening on {self.base_url}", flush=True)
        self._serving()
        try:
            self._make_server().run(sockets=[self._socket])
        finally:
            self._stopping()
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port actually bound (a free one when constructed with ``port=0``)."""
        if self._socket is None:
            raise RuntimeError("simulator not started")
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """Where the hub should point its connector, prefix included, no trailing slash."""
        return f"http://{self.host}:{self.port}{self.path_prefix}"

    # -- request log -------------------------------------------------------------------

    def _note_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the request log, e.g. before the part of a test that counts calls."""
        with self._lock:
            self._requests.clear()


def foreground_parser(name: str, port: int, rate_limit: int) -> argparse.ArgumentParser:
    """The options every simulator's ``python -m`` entry point takes (where to listen, its
    rate limit, whether to start without the sheet's sample); each adds its own after."""
    parser = argparse.ArgumentParser(description=f"{name} simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--rate-limit", type=int, default=rate_limit, help="calls/second; 0 for none"
    )
    parser.add_argument("--empty", action="store_true", help="start without the sheet's sample")
    return parser


def listen_options(arguments: argparse.Namespace) -> dict[str, Any]:
    """What :func:`foreground_parser`'s shared options give every simulator's constructor."""
    return {
        "host": arguments.host,
        "port": arguments.port,
        "rate_limit": arguments.rate_limit or None,
    }
