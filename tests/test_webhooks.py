"""Retailer webhooks, checked against the Standard Webhooks reference library.

What matters: a retailer using any Standard Webhooks library accepts what we send and
refuses anything altered or replayed late; the payload carries what the retailer sheet
promises (labels, raw code, the instant with its offset); and no message can swap the
headers that make a retried POST safe.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from adapters.transports.http.errors import HeaderConflict, UnsendableMessage
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.settings import Credential, HttpPostSettings
from hub.config.connector_spec import WebhookSpec
from hub.config.network import load_network
from hub.config.secrets import MissingSecret
from hub.errors import ConfigurationError
from hub.model import Event, EventType
from hub.model.statuses import CaseStatus
from hub.ports import DeliveryReceipt, OutboundMessage, Sender
from hub.retailers.webhooks import (
    EVENT_TYPE,
    InvalidWebhookSecret,
    UnsignableMessage,
    event_payload,
    read_webhook_secret,
    sign,
    webhook_message,
    webhook_secret,
    webhook_sender,
)
from tests.factories import PARIS_WINTER, T0, case_event

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
MESSAGE_ID = "webhook:maison-electro:atelier-dupont:h:0123abcd"


def payload_for(status: str | None = "repaired", code: str | None = None) -> dict[str, Any]:
    return event_payload(case_event(status, T0, code=code), "ME-000123", CaseStatus.REPAIRED)


def signed(now: datetime | None = None, payload: dict[str, Any] | None = None) -> OutboundMessage:
    return webhook_message(
        payload if payload is not None else payload_for(),
        message_id=MESSAGE_ID,
        secret=SECRET,
        now=now or datetime.now(UTC),
    )


# -- signatures, as the reference library sees them ----------------------------------------


def test_the_specifications_test_vector() -> None:
    """The vector the Standard Webhooks libraries test against."""
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_signed_message_verifies_with_the_reference_library() -> None:
    message = signed()
    assert set(message.headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert message.headers["webhook-id"] == MESSAGE_ID == message.idempotency_key
    assert message.content_type == "application/json"
    received = Webhook(SECRET).verify(message.content, dict(message.headers))
    assert received == payload_for()
    assert "é" in message.content.decode("utf-8")  # UTF-8 as is, not \u-escaped


def test_the_signature_agrees_with_the_reference_signer() -> None:
    now = datetime(2026, 11, 3, 8, 0, 0, 900_000, tzinfo=UTC)
    message = signed(now)
    assert message.headers["webhook-timestamp"] == str(int(now.timestamp()))  # whole seconds
    reference = Webhook(SECRET).sign(MESSAGE_ID, now, message.content.decode())
    assert message.headers["webhook-signature"] == reference


def test_each_secret_signs_with_its_own_key_and_a_refused_one_is_refused_every_time() -> None:
    """The signer is kept per secret (issue 17): after a rotation, a message is signed
    with the new key, the old one still signs while its grace lasts, and a bad secret
    is not remembered as good after its first refusal."""
    other = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
    now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    first = signed(now)
    rotated = webhook_message(payload_for(), message_id=MESSAGE_ID, secret=other, now=now)
    both = webhook_message(payload_for(), message_id=MESSAGE_ID, secret=[other, SECRET], now=now)
    assert rotated.content == first.content
    assert rotated.headers["webhook-signature"] != first.headers["webhook-signature"]
    assert rotated.headers["webhook-signature"] == Webhook(other).sign(
        MESSAGE_ID, now, first.content
    )
    assert both.headers["webhook-signature"] == " ".join(
        (rotated.headers["webhook-signature"], first.headers["webhook-signature"])
    )
    for _ in range(2):
        with pytest.raises(InvalidWebhookSecret):
            webhook_message(payload_for(), message_id=MESSAGE_ID, secret="whsec_c2hvcnQ=", now=now)
    with pytest.raises(UnsignableMessage, match="no secret"):
        webhook_message(payload_for(), message_id=MESSAGE_ID, secret=[], now=now)


def test_a_tampered_body_fails_verification() -> None:
    message = signed()
    tampered = message.content.replace(b'"repaired"', b'"delivered"', 1)
    assert tampered != message.content
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, dict(message.headers))


def test_an_old_timestamp_fails_verification() -> None:
    message = signed(datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(message.content, dict(message.headers))


def test_a_forged_timestamp_or_another_secret_fails_verification() -> None:
    message = signed()
    later = {**message.headers, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()) + 1)}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(message.content, later)
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(message.content, dict(message.headers))


@pytest.mark.parametrize(
    "secret",
    [
        base64.b64encode(bytes(32)).decode(),  # no whsec_ prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(bytes(16)).decode(),  # too short
        "whsec_",
    ],
)
def test_a_bad_secret_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(InvalidWebhookSecret) as caught:
        webhook_secret(secret)
    assert isinstance(caught.value, ConfigurationError)


def test_unpadded_base64_secrets_are_accepted_like_the_reference_library() -> None:
    unpadded = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    message = webhook_message({}, message_id="m1", secret=unpadded, now=datetime.now(UTC))
    Webhook(unpadded).verify(message.content, dict(message.headers))


@pytest.mark.parametrize("message_id", ["", "with space", "é", "x" * 256])
def test_a_message_id_that_cannot_be_a_header_is_refused(message_id: str) -> None:
    with pytest.raises(UnsignableMessage):
        webhook_message({}, message_id=message_id, secret=SECRET, now=datetime.now(UTC))


def test_a_naive_time_or_a_payload_that_is_not_json_is_refused() -> None:
    with pytest.raises(UnsignableMessage, match="timezone-aware"):
        webhook_message({}, message_id="m", secret=SECRET, now=datetime(2026, 11, 3, 9))
    with pytest.raises(UnsignableMessage, match="not JSON"):
        webhook_message({"x": float("nan")}, message_id="m", secret=SECRET, now=T0)
    with pytest.raises(UnsignableMessage, match="not JSON"):
        webhook_message({"x": object()}, message_id="m", secret=SECRET, now=T0)


# -- the payload ---------------------------------------------------------------------------


def test_the_payload_of_a_mapped_event() -> None:
    event = case_event("repaired", T0, code="REP")
    payload = event_payload(event, "ME-000123", CaseStatus.REPAIRED)
    assert payload == {
        "type": EVENT_TYPE,
        "event_id": event.id,
        "case_reference": "ME-000123",
        "event_type": "case_status",
        "status": "repaired",
        "unmapped": False,
        "occurred_at": "2026-11-03T08:00:00Z",
        "reported_by": "atelier-dupont",
        "label": {"fr": "Réparé", "en": "Repaired"},
        "raw_code": "REP",
        "raw_label": None,
        "case_status_after": "repaired",
    }
    assert json.loads(json.dumps(payload)) == payload


def test_the_instant_is_kept_and_written_in_utc_like_the_api() -> None:
    at = datetime(2026, 7, 1, 18, 30, tzinfo=PARIS_WINTER)
    occurred = event_payload(case_event("received", at), "ME-000123", None)["occurred_at"]
    assert occurred == "2026-07-01T17:30:00Z", "converted, never relabelled"
    assert datetime.fromisoformat(occurred) == at


def test_an_unmapped_event_has_no_status_and_keeps_its_raw_code() -> None:
    event = case_event(None, T0, code="XK-77")
    payload = event_payload(event, "ME-000123", CaseStatus.DIAGNOSING)
    assert payload["status"] is None
    assert payload["label"] is None
    assert payload["unmapped"] is True
    assert payload["raw_code"] == "XK-77"
    assert payload["case_status_after"] == "diagnosing"


def test_a_shipment_event_says_its_type_and_a_case_with_no_status_yet_says_null() -> None:
    event = Event(
        id="colis-express:p1",
        case_ref="ME-000123",
        type=EventType.SHIPMENT_STATUS,
        status="out_for_delivery",
        occurred_at=T0,
        reported_by="colis-express",
        raw_code="OFD",
        raw_label="En cours de livraison",
    )
    payload = event_payload(event, "ME-000123", None)
    assert payload["event_type"] == "shipment_status"
    assert payload["label"] == {"fr": "En cours de livraison", "en": "Out for delivery"}
    assert payload["raw_label"] == "En cours de livraison"
    assert payload["case_status_after"] is None


# -- a real receiver on loopback -----------------------------------------------------------


@dataclass
class Receiver:
    """A retailer's endpoint: verifies each POST with the reference library."""

    secret: str
    fail_first: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    verified: list[Any] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.requests.append((self.path, headers, body))
            if len(state.requests) <= state.fail_first:
                self.send_response(503)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            try:
                state.verified.append(Webhook(state.secret).verify(body, headers))
            except WebhookVerificationError as exc:
                state.refused.append(str(exc))
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def send(spec: WebhookSpec, message: OutboundMessage) -> DeliveryReceipt:
    """Through the retailer's sender, closed afterwards like the dispatcher would."""
    sender = webhook_sender(spec, {})
    assert isinstance(sender, Sender)
    try:
        return sender.send(message)
    finally:
        assert isinstance(sender, HttpPostTransport)
        sender.close()


def spec_for(receiver: Receiver, **overrides: Any) -> WebhookSpec:
    return WebhookSpec.model_validate(
        {
            "retailer": "maison-electro",
            "url": f"http://127.0.0.1:{receiver.port}/hooks/hub?tenant=me",
            "secret_env": "ME_WEBHOOK_SECRET",
            **overrides,
        }
    )


def test_the_receiver_gets_the_signed_post_and_verifies_it(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    spec = spec_for(receiver)
    secret = read_webhook_secret(spec, {"ME_WEBHOOK_SECRET": SECRET})
    message = webhook_message(
        payload_for(), message_id=MESSAGE_ID, secret=secret, now=datetime.now(UTC)
    )
    with caplog.at_level(logging.DEBUG):
        receipt = send(spec, message)
    assert receipt.status == 204
    assert not receipt.already_known
    assert receiver.refused == []
    assert receiver.verified == [payload_for()]
    path, headers, body = receiver.requests[0]
    assert path == "/hooks/hub?tenant=me"
    assert body == message.content
    assert headers["webhook-id"] == headers["idempotency-key"] == MESSAGE_ID
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers  # the signature is the only credential
    assert message.headers["webhook-signature"] not in caplog.text


def test_a_retried_post_carries_the_same_signed_headers(receiver: Receiver) -> None:
    receiver.fail_first = 2
    receipt = send(spec_for(receiver), signed())
    assert receipt.status == 204
    assert len(receiver.requests) == 3
    assert len({json.dumps(headers, sort_keys=True) for _, headers, _ in receiver.requests}) == 1
    assert receiver.verified == [payload_for()]


def test_a_receiver_with_another_secret_refuses_it(receiver: Receiver) -> None:
    receiver.secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(ConfigurationError):  # 401: the retailer refused our credentials
        send(spec_for(receiver), signed())
    assert receiver.refused == ["No matching signature found"]


# -- headers the transport owns ------------------------------------------------------------


def transport(receiver: Receiver) -> HttpPostTransport:
    return HttpPostTransport(
        HttpPostSettings(
            base_url=f"http://127.0.0.1:{receiver.port}",
            post_path="/hooks",
            content_type="application/json",
            credentials=(Credential("X-Api-Key", "k-123456", "ME_KEY"),),
            max_attempts=1,
        )
    )


@pytest.mark.parametrize(
    "header", ["Idempotency-Key", "idempotency-key", "X-API-KEY", "Content-Type", "Host"]
)
def test_a_message_header_may_not_replace_one_the_transport_sets(
    receiver: Receiver, header: str
) -> None:
    message = OutboundMessage("m.json", b"{}", "application/json", "key-1", {header: "other"})
    with transport(receiver) as client, pytest.raises(HeaderConflict) as caught:
        client.send(message)
    assert caught.value.header == header
    assert "other" not in str(caught.value)
    assert receiver.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Sig": "line\nbreak"},
        {"X-Sig": ""},
        {"Bad Name": "v"},
        {"X-Sig": "a", "x-sig": "b"},
    ],
)
def test_a_message_header_that_cannot_be_sent_is_refused(
    receiver: Receiver, headers: dict[str, str]
) -> None:
    message = OutboundMessage("m.json", b"{}", "application/json", "key-1", headers)
    with transport(receiver) as client, pytest.raises(UnsendableMessage):
        client.send(message)
    assert receiver.requests == []


def checked(client: HttpPostTransport, message: OutboundMessage) -> object:
    """The headers a message would go out with, or the error that stops it."""
    try:
        return list(client._message_headers(message).items())
    except (UnsendableMessage, ConfigurationError) as error:
        return type(error), str(error)


def test_what_earlier_messages_passed_is_not_checked_again_yet_the_same_is_refused() -> None:
    """A transport keeps the content type and the sets of header names that passed; a
    message after them gets the same headers, or the same error, as on a transport that
    has checked nothing yet."""
    settings = HttpPostSettings(
        base_url="http://127.0.0.1:9",
        post_path="/hooks",
        content_type="application/json",
        credentials=(Credential("X-Api-Key", "k-123456", "ME_KEY"),),
        max_attempts=1,
    )

    def message(headers: dict[str, Any], content_type: str = "application/json") -> OutboundMessage:
        return OutboundMessage("m.json", b"{}", content_type, "key-1", headers)

    good = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
    messages = [
        message(good),
        message(good | {"webhook-id": "msg_2"}),
        message(good | {"webhook-timestamp": "two\nlines"}),
        message(good | {"webhook-signature": ""}),
        message(good | {"webhook-signature": " v1,x"}),
        message(good | {"webhook-id": 7}),
        message({"webhook-timestamp": "1", "webhook-id": "msg_3", "webhook-signature": "v1,y"}),
        message(good | {"Bad Name": "v"}),
        message(good | {"X-API-KEY": "other"}),
        message(good | {"Webhook-Id": "again"}),
        message(good, "application/json\n"),
        message(good, "application/json; charset=utf-8"),
        message(good, "text/plain"),
        message(good),
    ]
    with HttpPostTransport(settings) as warmed:
        seen = [checked(warmed, each) for each in messages]
        assert len(warmed._sendable_names) == 2  # the good names, in two orders
    for each, outcome in zip(messages, seen, strict=True):
        with HttpPostTransport(settings) as fresh:
            assert outcome == checked(fresh, each)
    assert [index for index, outcome in enumerate(seen) if isinstance(outcome, list)] == [
        0,
        1,
        6,
        11,
        13,
    ]
    said = {index: outcome[1] for index, outcome in enumerate(seen) if isinstance(outcome, tuple)}
    assert "its webhook-timestamp header is empty" in said[2]
    assert "its webhook-signature header is empty" in said[3]
    assert "its webhook-signature header is empty" in said[4]
    assert "its webhook-id header is empty" in said[5]
    assert "not a valid HTTP header name" in said[7]
    assert seen[8][0] is HeaderConflict  # type: ignore[index]
    assert "given twice" in said[9]
    assert "cannot be sent as a header" in said[10]
    assert seen[12][0] is ConfigurationError  # type: ignore[index]


def test_message_headers_go_out_after_the_credentials(receiver: Receiver) -> None:
    receiver.secret = SECRET
    with transport(receiver) as client:
        client.send(signed())
    _, headers, _ = receiver.requests[0]
    assert headers["x-api-key"] == "k-123456"
    assert headers["idempotency-key"] == MESSAGE_ID
    assert headers["webhook-signature"].startswith("v1,")
    names = list(headers)
    assert names.index("x-api-key") < names.index("webhook-id")


def test_outbound_messages_without_headers_are_unchanged() -> None:
    message = OutboundMessage("o.xml", b"<o/>", "application/xml", "k")
    assert dict(message.headers) == {}
    assert hash(message) == hash(OutboundMessage("o.xml", b"<o/>", "application/xml", "k"))
    given = {"X-A": "1"}
    with_headers = OutboundMessage("o.xml", b"<o/>", "application/xml", "k", given)
    given["X-A"] = "2"
    assert with_headers.headers["X-A"] == "1"  # copied: a built message does not change
    with pytest.raises(TypeError):
        with_headers.headers["X-A"] = "3"  # type: ignore[index]


# -- configuration -------------------------------------------------------------------------

PARTIES = (
    "version: 1\nparties:\n"
    "  - {id: maison-electro, role: retailer, name: Maison Électro}\n"
    "  - {id: techniservice, role: repairer, name: TechniService}\n"
)


def _network_error(tmp_path: Path, webhooks: str) -> str:
    path = tmp_path / "connectors.yaml"
    path.write_text(PARTIES + "webhooks:\n" + webhooks, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_network(path)
    return str(caught.value)


def test_the_webhooks_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        PARTIES + "webhooks:\n"
        "  - {retailer: maison-electro, url: 'https://hooks.maison-electro.example/hub', "
        "secret_env: ME_WEBHOOK_SECRET, max_attempts: 4}\n",
        encoding="utf-8",
    )
    network = load_network(path)
    webhook = network.webhook("maison-electro")
    assert webhook is not None
    assert webhook.max_attempts == 4
    assert webhook.timeout == "10s"
    assert network.webhook("bricomarket") is None


def test_a_retailer_listed_twice_is_refused(tmp_path: Path) -> None:
    entry = "  - {retailer: maison-electro, url: 'https://a.example/h', secret_env: ME_S}\n"
    assert "maison-electro" in _network_error(tmp_path, entry * 2)


def test_a_webhook_for_a_party_that_is_not_a_retailer_is_refused(tmp_path: Path) -> None:
    entry = "  - {retailer: techniservice, url: 'https://a.example/h', secret_env: TS_S}\n"
    assert "not a retailer" in _network_error(tmp_path, entry)


@pytest.mark.parametrize(
    "overrides",
    [
        {"url": "ftp://a.example/h"},
        {"url": "https://user:pass@a.example/h"},
        {"url": "https://a.example/h#part"},
        {"secret_env": "lower_case"},
        {"max_attempts": 0},
        {"max_attempts": 8, "timeout": "30s"},  # its retries outlive the signature
    ],
)
def test_a_bad_webhook_entry_is_refused(overrides: dict[str, Any]) -> None:
    entry = {"retailer": "maison-electro", "url": "https://a.example/h", "secret_env": "ME_S"}
    with pytest.raises(ValidationError):
        WebhookSpec.model_validate({**entry, **overrides})


def test_the_secret_is_read_by_its_variables_name_and_never_shown() -> None:
    spec = WebhookSpec(retailer="maison-electro", url="https://a.example/h", secret_env="ME_S")
    with pytest.raises(MissingSecret, match="ME_S"):
        read_webhook_secret(spec, {})
    with pytest.raises(MissingSecret, match="ME_S"):
        read_webhook_secret(spec, {"ME_S": ""})  # set but empty: as good as unset
    with pytest.raises(InvalidWebhookSecret, match=r"\$ME_S") as caught:
        read_webhook_secret(spec, {"ME_S": "plain-text-password"})
    assert "plain-text-password" not in str(caught.value)
    assert read_webhook_secret(spec, {"ME_S": SECRET}) == SECRET
