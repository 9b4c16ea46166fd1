"""The retailer webhooks' sender (``http-webhook``): the http-post transport's rules
over urllib3's connection pool, with no credentials, cookies or proxy by design.

Real HTTP on loopback throughout: a raw socket that records the very bytes a request
puts on the wire, a FastAPI receiver for answers and cookies, a TLS server whose
certificate nobody trusts, a server that never answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError
from urllib3 import exceptions as wire_errors

from adapters.transports.http.errors import DeliveryRejected, PartnerUnavailable, ResponseTooLarge
from adapters.transports.http.from_spec import transport_from_spec
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.settings import Credential, HttpPostSettings
from adapters.transports.http.spec import HttpPostTransportSpec, WebhookTransportSpec
from adapters.transports.http.webhook import WebhookTransport, _as_httpx_errors
from hub.errors import ConfigurationError
from hub.ports import OutboundMessage, Sender
from hub.retailers.webhooks import CONTENT_TYPE, webhook_message, webhook_post_sender
from simulators.server import bind_loopback
from tests.api_support import serving

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
NOW = dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC)
ANSWER = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


def a_webhook(message_id: str = "msg_1") -> OutboundMessage:
    body = {"type": "case.event", "case_reference": "ME-000123", "label": "Réparé"}
    return webhook_message(body, message_id=message_id, secret=SECRET, now=NOW)


def settings(url: str, **options: object) -> HttpPostSettings:
    values: dict[str, object] = {
        "post_path": "/hub",
        "content_type": CONTENT_TYPE,
        "timeout": 5.0,
        "max_attempts": 3,
    }
    return HttpPostSettings(url, **(values | options))  # type: ignore[arg-type]


class Recorder:
    """A bare HTTP/1.1 server on a socket: each request's bytes as received, answered
    on a kept-alive connection with the next of ``answers`` (the last one repeated; 204
    by default), or not at all, when ``silent``."""

    def __init__(self, *, silent: bool = False, answers: Sequence[bytes] = (ANSWER,)) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self.silent = silent
        self._answers = list(answers)
        self._listener = bind_loopback()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        with connection, suppress(ConnectionError):  # a client may close mid-answer
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, rest = pending.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(rest) < length:
                    rest += connection.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                pending = rest[length:]
                if self.silent:
                    connection.recv(1)  # until the client gives up and closes
                    return
                connection.sendall(
                    self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
                )

    def close(self) -> None:
        self._listener.close()


@contextmanager
def recording(*, silent: bool = False, answers: Sequence[bytes] = (ANSWER,)) -> Iterator[Recorder]:
    recorder = Recorder(silent=silent, answers=answers)
    try:
        yield recorder
    finally:
        recorder.close()


def sender_for(url: str) -> WebhookTransport:
    """The sender the hub builds for a webhook URL (through the registry)."""
    sender = webhook_post_sender(url)
    assert isinstance(sender, WebhookTransport)
    return sender


def test_the_hub_sends_webhooks_with_this_sender() -> None:
    sender = sender_for("http://127.0.0.1:9/hub")
    try:
        assert isinstance(sender, Sender)
    finally:
        sender.close()


def test_the_bytes_on_the_wire_are_those_the_http_post_transport_sends() -> None:
    """Headers (names, case, order, values) and body, byte for byte, on two requests of
    one kept-alive connection: the http-post transport through httpx's client, this
    sender through its pool."""
    with recording() as wire:
        spec = HttpPostTransportSpec(base_url=wire.url, post_path="/hub", content_type=CONTENT_TYPE)
        through_client = transport_from_spec(spec, {}, None)
        direct = sender_for(f"{wire.url}/hub")
        try:
            for message_id in ("msg_1", "msg_2"):
                assert through_client.send(a_webhook(message_id)).status == 204
                assert direct.send(a_webhook(message_id)).status == 204
        finally:
            through_client.close()
            direct.close()
    first, second, third, fourth = wire.requests
    assert first == second
    assert third == fourth
    head = first.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /hub HTTP/1.1"
    names = [line.split(b":")[0].lower() for line in head[1:]]
    assert names[0] == b"host"
    assert {b"webhook-id", b"webhook-signature", b"idempotency-key", b"content-length"} <= set(
        names
    )
    assert b"user-agent: aftersales-hub (http-post)" in [line.lower() for line in head]


def test_a_message_header_named_as_a_default_one_replaces_it() -> None:
    """A message's header that the client also sends by default (``Accept``) replaces
    it, among the message's headers, as httpx's client merges them: the same bytes."""
    signed = a_webhook()
    message = OutboundMessage(
        name=signed.name,
        content=signed.content,
        content_type=signed.content_type,
        idempotency_key=signed.idempotency_key,
        headers={**signed.headers, "accept": "application/json"},
    )
    with recording() as wire:
        spec = HttpPostTransportSpec(base_url=wire.url, post_path="/hub", content_type=CONTENT_TYPE)
        through_client = transport_from_spec(spec, {}, None)
        direct = sender_for(f"{wire.url}/hub")
        try:
            assert through_client.send(message).status == 204
            assert direct.send(message).status == 204
        finally:
            through_client.close()
            direct.close()
    first, second = wire.requests
    assert first == second
    head = first.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert [line for line in head if line.lower().startswith(b"accept:")] == [
        b"accept: application/json"
    ]


def test_an_answer_is_read_as_the_http_post_transport_reads_it() -> None:
    """An answer whose header is not ASCII (Latin-1 on the wire), whose body is gzipped
    and sent in chunks: delivered by both transports, with the same body."""
    answer = (
        b"HTTP/1.1 200 OK\r\nx-note: caf\xe9\r\ncontent-encoding: gzip\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    body = gzip.compress(b'{"received": true}')
    answer += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with recording(answers=[answer]) as wire:
        spec = HttpPostTransportSpec(base_url=wire.url, post_path="/hub", content_type=CONTENT_TYPE)
        through_client = transport_from_spec(spec, {}, None)
        direct = sender_for(f"{wire.url}/hub")
        try:
            receipts = [
                transport.send(a_webhook(f"msg_{number}"))
                for number, transport in enumerate((through_client, direct, direct))
            ]
        finally:
            through_client.close()
            direct.close()
    assert [receipt.status for receipt in receipts] == [200, 200, 200]
    assert {receipt.body for receipt in receipts} == {b'{"received": true}'}
    assert len(wire.requests) == 3
    assert wire.connections == 2  # one a transport: the answer read whole, kept alive


def test_an_answer_without_encoding_is_read_as_urllib3_hands_it_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An answer with no Content-Encoding (httpx's decoder would be the identity) is read
    straight from urllib3, its body the same, still bounded by max_response_bytes; an
    encoded one goes through httpx's decoding, as any transport's does (issue 17)."""
    decoded: list[int] = []
    iter_bytes = httpx.Response.iter_bytes

    def counted(response: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        decoded.append(response.status_code)
        return iter_bytes(response, chunk_size)

    monkeypatch.setattr(httpx.Response, "iter_bytes", counted)
    plain = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    body = gzip.compress(b"hello world")
    encoded = b"HTTP/1.1 201 Created\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    with recording(answers=[plain, encoded, plain]) as wire:
        sender = WebhookTransport(settings(wire.url))
        small = WebhookTransport(settings(wire.url, max_response_bytes=8))
        try:
            receipts = [sender.send(a_webhook("msg_1")), sender.send(a_webhook("msg_2"))]
            with pytest.raises(ResponseTooLarge, match="exceeds max_response_bytes"):
                small.send(a_webhook("msg_3"))
        finally:
            sender.close()
            small.close()
    assert [(receipt.status, receipt.body) for receipt in receipts] == [
        (200, b"hello world"),
        (201, b"hello world"),
    ]
    assert decoded == [201]  # the encoded answer only


def test_each_answer_read_whole_gives_its_connection_back() -> None:
    """Answers read whole, with a body and without: each exchange closes its answer (the
    stream closed directly, not through httpx's ``Response.close``), so that every
    request goes out on the one kept-alive connection (issue 17)."""
    with_body = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    with recording(answers=[with_body, ANSWER]) as wire:
        sender = WebhookTransport(settings(wire.url))
        try:
            receipts = [sender.send(a_webhook(f"msg_{number}")) for number in range(3)]
        finally:
            sender.close()
    assert [(receipt.status, receipt.body) for receipt in receipts] == [
        (200, b"ok"),
        (204, b""),
        (204, b""),
    ]
    assert len(wire.requests) == 3
    assert wire.connections == 1


def test_an_answer_announcing_more_than_the_bound_is_refused_by_both_transports() -> None:
    """A Content-Length above ``max_response_bytes`` is refused before the body is read,
    by the webhook sender as by the http-post transport (the declared length now read
    without httpx's lookup that raises for a missing name); one within it is read."""
    big = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 100
    small = b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n" + b"y" * 8
    with recording(answers=[big, big, small]) as wire:
        transports = [
            HttpPostTransport(settings(wire.url, max_response_bytes=8)),
            WebhookTransport(settings(wire.url, max_response_bytes=8)),
        ]
        try:
            for transport in transports:
                with pytest.raises(ResponseTooLarge, match="announces 100 bytes"):
                    transport.send(a_webhook())
            receipt = transports[1].send(a_webhook("msg_2"))
        finally:
            for transport in transports:
                transport.close()
    assert (receipt.status, receipt.body) == (200, b"y" * 8)


def test_a_connection_left_unread_is_not_used_again(caplog: pytest.LogCaptureFixture) -> None:
    """A refusal's long body is read only as far as its excerpt: its connection is
    closed, and the retry goes out on a new one (the old one's unread bytes are never
    taken for the next answer). The retry's line quotes the receiver's own reason."""
    refusal = (
        b"HTTP/1.1 503 Down For Maintenance\r\nretry-after: 0\r\n"
        b"content-length: 200000\r\n\r\n" + b"x" * 200_000
    )
    waits: list[float] = []
    with recording(answers=[refusal, ANSWER]) as wire:
        sender = WebhookTransport(settings(wire.url), sleep=waits.append)
        try:
            receipt = sender.send(a_webhook())
        finally:
            sender.close()
    assert receipt.status == 204
    assert waits[0] == 0.0
    assert len(wire.requests) == 2
    assert wire.connections == 2
    assert "503 Down For Maintenance, Retry-After 0 s (attempt 1 of 3)" in caplog.text


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]], list[int]]]:
    """A receiver answering the statuses queued in ``answers`` (204 once they run out),
    setting a cookie on each answer; each request's headers on record."""
    seen: list[dict[str, str]] = []
    answers: list[int] = []
    app = FastAPI()

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        seen.append(dict(request.headers))
        status = answers.pop(0) if answers else 204
        response = Response(status_code=status, content=b"no" if status == 400 else None)
        if status == 503:
            response.headers["retry-after"] = "2"
        response.set_cookie("session", "kept-by-a-browser")
        return response

    with serving(app) as url:
        yield url, seen, answers


def test_a_passing_fault_is_retried_after_retry_after_then_delivered(
    receiver: tuple[str, list[dict[str, str]], list[int]],
) -> None:
    url, seen, answers = receiver
    answers += [503]
    waits: list[float] = []
    sender = WebhookTransport(settings(url), sleep=waits.append)
    try:
        receipt = sender.send(a_webhook())
    finally:
        sender.close()
    assert receipt.status == 204
    assert waits[0] == 2.0  # Retry-After; any wait after it is the pacing
    assert [headers["webhook-id"] for headers in seen] == ["msg_1", "msg_1"]


def test_a_refused_webhook_is_not_retried(
    receiver: tuple[str, list[dict[str, str]], list[int]],
) -> None:
    url, seen, answers = receiver
    answers += [400]
    sender = WebhookTransport(settings(url))
    try:
        with pytest.raises(DeliveryRejected, match="no"):
            sender.send(a_webhook())
    finally:
        sender.close()
    assert len(seen) == 1


def test_no_cookie_a_receiver_sets_is_sent_back(
    receiver: tuple[str, list[dict[str, str]], list[int]],
) -> None:
    url, seen, _ = receiver
    sender = WebhookTransport(settings(url))
    try:
        sender.send(a_webhook("msg_1"))
        sender.send(a_webhook("msg_2"))
    finally:
        sender.close()
    assert "cookie" not in seen[1]


def test_no_proxy_from_the_environment_is_used(
    receiver: tuple[str, list[dict[str, str]], list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy the environment names (here one nobody listens on) is not taken: the
    webhook goes to the receiver directly."""
    url, seen, _ = receiver
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sender = sender_for(f"{url}/hub")
    try:
        assert sender.send(a_webhook()).status == 204
    finally:
        sender.close()
    assert len(seen) == 1


def test_a_receiver_that_never_answers_times_out() -> None:
    with recording(silent=True) as wire:
        sender = WebhookTransport(settings(wire.url, timeout=0.3, max_attempts=1))
        try:
            with pytest.raises(PartnerUnavailable, match="failed 1 time"):
                sender.send(a_webhook())
        finally:
            sender.close()
    assert len(wire.requests) == 1


@pytest.mark.parametrize(
    ("raised", "seen"),
    [
        (wire_errors.NewConnectionError(None, "refused"), httpx.ConnectError),  # type: ignore[arg-type]
        (wire_errors.ConnectTimeoutError("no answer to connect"), httpx.ConnectTimeout),
        (wire_errors.ReadTimeoutError(None, "/hub", "read timed out"), httpx.ReadTimeout),  # type: ignore[arg-type]
        (wire_errors.SSLError("certificate refused"), httpx.ConnectError),
        (wire_errors.ProtocolError("connection dropped"), httpx.RemoteProtocolError),
        (wire_errors.DecodeError("bad chunk"), httpx.TransportError),
    ],
)
def test_urllib3s_errors_come_out_as_the_httpx_errors_the_client_judges(
    raised: Exception, seen: type[httpx.TransportError]
) -> None:
    """Each urllib3 error as the httpx error the retrying client reads (the original its
    cause, where a refused certificate is looked for); anything else passes as it is."""
    with pytest.raises(seen) as caught, _as_httpx_errors:
        raise raised
    assert type(caught.value) is seen
    assert caught.value.__cause__ is raised
    with pytest.raises(KeyError), _as_httpx_errors:
        raise KeyError("not the wire's")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def tls_server(folder: Path) -> Iterator[tuple[int, list[BaseException]]]:
    """A TLS listener with a certificate no authority signed, and the handshakes it saw
    fail (a client that verifies breaks each one off)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(folder))
    listener = bind_loopback()
    failed: list[BaseException] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(connection, server_side=True):
                    failed.append(AssertionError("the handshake went through"))
            except (ssl.SSLError, OSError) as refused:
                failed.append(refused)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], failed
    finally:
        listener.close()
        thread.join(timeout=5)


def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    with tls_server(tmp_path) as (port, failed):
        sender = WebhookTransport(settings(f"https://localhost:{port}"))
        try:
            with pytest.raises(ConfigurationError, match="TLS certificate was refused"):
                sender.send(a_webhook())
        finally:
            sender.close()
    assert failed, "the sender reached the server and broke the handshake off"
    assert not any(isinstance(error, AssertionError) for error in failed), failed


def test_a_webhook_takes_no_credentials() -> None:
    base = {"base_url": "https://retailer.example", "post_path": "/hub"}
    with pytest.raises(ValidationError, match="its own signature"):
        WebhookTransportSpec.model_validate(
            base | {"content_type": CONTENT_TYPE, "bearer_token_env": "TOKEN"}
        )
    with pytest.raises(ConfigurationError, match="its own signature"):
        WebhookTransport(
            settings("https://retailer.example", credentials=(Credential("X-Key", "k" * 20),))
        )
