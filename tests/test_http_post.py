"""The REST post transport delivering orders to the partner simulators over loopback.

What matters is that a delivery is never lost and never made twice: a repeat comes back
as ``already_known``, a wrong order stops at its first request with the partner's words,
and passing faults are waited out. Nothing sleeps: waits move the simulators' ManualClock.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from adapters.transports.http.errors import (
    DeliveryConflict,
    DeliveryRejected,
    EndpointNotFound,
    PartnerRefusedCredentials,
    PartnerRejectedRequest,
    PartnerUnavailable,
    UnexpectedResponse,
    UnsendableMessage,
)
from adapters.transports.http.from_spec import transport_from_spec
from adapters.transports.http.pacing import ClientRateLimiter
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.settings import Credential, HttpPostSettings
from adapters.transports.http.spec import HttpPostTransportSpec
from hub.config.connector_spec import ConnectorSpec
from hub.config.secrets import MissingSecret
from hub.errors import ConfigurationError, FatalError, TransientError
from hub.ports import OutboundMessage, Sender
from simulators.colis_express import ColisExpressSimulator
from simulators.server import ManualClock, RequestRecord, Simulator
from simulators.techniservice.app import TechniServiceSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REPAIR_ORDER_130 = (FIXTURES / "techniservice" / "repair_order.ME-000130.expected.xml").read_bytes()
REPAIR_ORDER_123 = (FIXTURES / "techniservice" / "repair_order.ME-000123.expected.xml").read_bytes()
PICKUP_123 = (FIXTURES / "colis-express" / "pickup_request_ME-000123.json").read_bytes()

TS_KEY = "ts-post-secret-key-7d21"
CE_TOKEN = "ce-post-secret-token-93aa"
TS_CREDENTIALS = (Credential("X-Api-Key", TS_KEY, "TS_API_KEY"),)
CE_CREDENTIALS = (Credential.bearer(CE_TOKEN, "CE_TOKEN"),)


def repair_order(
    content: bytes = REPAIR_ORDER_130, key: str = "ME-000130:repair-order"
) -> OutboundMessage:
    return OutboundMessage("repair_order.ME-000130.xml", content, "application/xml", key)


def pickup(content: bytes = PICKUP_123, key: str = "ME-000123:pickup") -> OutboundMessage:
    return OutboundMessage("pickup_request_ME-000123.json", content, "application/json", key)


class Sleeper:
    """An injected sleep: notes each wait and moves the simulators' clock instead."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


@dataclass
class Rig:
    """A post transport on the manual clock, with every request it sent on record."""

    sender: HttpPostTransport
    retry: Sleeper
    sent: list[httpx.Request] = field(default_factory=list)


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def ts_server(clock: ManualClock) -> Iterator[TechniServiceSimulator]:
    with TechniServiceSimulator(api_key=TS_KEY, clock=clock) as simulator:
        yield simulator


@pytest.fixture
def ts(ts_server: TechniServiceSimulator) -> TechniServiceSimulator:
    settled(ts_server)  # the previous test's last requests land before the reset
    ts_server.reset()
    return ts_server


@pytest.fixture(scope="module")
def ce_server(clock: ManualClock) -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token=CE_TOKEN, clock=clock) as simulator:
        yield simulator


@pytest.fixture
def ce(ce_server: ColisExpressSimulator) -> ColisExpressSimulator:
    settled(ce_server)
    ce_server.reset()
    return ce_server


@pytest.fixture
def make_rig(clock: ManualClock) -> Iterator[Callable[..., Rig]]:
    clients: list[httpx.Client] = []

    def make(
        base_url: str,
        *,
        post_path: str = "/repairs",
        content_type: str = "application/xml",
        credentials: tuple[Credential, ...] = TS_CREDENTIALS,
        conflict_is_success: bool = True,
        idempotent_ok_status: int | None = None,
        requests_per_second: float = 5,
        max_attempts: int = 6,
        mock: Callable[[httpx.Request], httpx.Response] | None = None,
    ) -> Rig:
        sent: list[httpx.Request] = []
        client = httpx.Client(
            event_hooks={"request": [sent.append]},
            transport=None if mock is None else httpx.MockTransport(mock),
        )
        clients.append(client)
        retry, pacing = Sleeper(clock), Sleeper(clock)
        settings = HttpPostSettings(
            base_url=base_url,
            post_path=post_path,
            content_type=content_type,
            credentials=credentials,
            conflict_is_success=conflict_is_success,
            idempotent_ok_status=idempotent_ok_status,
            requests_per_second=requests_per_second,
            timeout=5,
            max_attempts=max_attempts,
        )
        sender = HttpPostTransport(
            settings,
            client=client,
            sleep=retry,
            wall_clock=clock,
            rate_limiter=ClientRateLimiter(requests_per_second, clock=clock, sleep=pacing),
            jitter=random.Random(7).random,
        )
        return Rig(sender, retry, sent)

    yield make
    for client in clients:
        client.close()


def ce_rig(ce: ColisExpressSimulator, make_rig: Callable[..., Rig]) -> Rig:
    return make_rig(
        ce.base_url,
        post_path="/v1/pickups",
        content_type="application/json",
        credentials=CE_CREDENTIALS,
        conflict_is_success=False,
        idempotent_ok_status=200,
    )


def mock_rig(
    make_rig: Callable[..., Rig], answers: list[httpx.Response | Exception], **options: object
) -> Rig:
    """A rig whose partner answers ``answers`` in turn (the last one from then on)."""
    count = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        reply = answers[min(count, len(answers)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return make_rig("https://partner.example/api", mock=answer, **options)


def settled(simulator: Simulator) -> list[RequestRecord]:
    """The simulator's request log once it has caught up with what we sent.

    The simulator notes a request after answering it, so a marker request, waited for in
    the log, makes sure everything sent before it is there.
    """
    marker = f"/settle-{uuid.uuid4().hex}"
    httpx.get(f"http://{simulator.host}:{simulator.port}{marker}", timeout=5)
    deadline = time.monotonic() + 5
    while True:
        records = simulator.requests
        if any(record.path == marker for record in records):
            return [record for record in records if not record.path.startswith("/settle-")]
        assert time.monotonic() < deadline, "the simulator never logged the marker request"
        time.sleep(0.001)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keys(rig: Rig) -> list[str | None]:
    return [request.headers.get("Idempotency-Key") for request in rig.sent]


# -- TechniService: XML repair orders ------------------------------------------------------


def test_repair_order_is_created_then_a_repeat_is_already_known(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    rig = make_rig(ts.base_url)
    assert isinstance(rig.sender, Sender)

    first = rig.sender.send(repair_order())
    again = rig.sender.send(repair_order())

    repair_id = ts.repair_id_for("ME-000130")
    assert repair_id is not None
    tag = f"<ts:RepairId>{repair_id}</ts:RepairId>".encode()
    assert (first.status, first.already_known) == (201, False)
    assert tag in first.body
    assert (again.status, again.already_known) == (409, True)
    assert tag in again.body  # the partner's Conflict names the repair it already has
    [received] = ts.received_orders
    assert received.raw == REPAIR_ORDER_130
    assert (received.order_ref, received.customer_postcode) == ("ME-000130", "69003")
    records = settled(ts)
    assert [(record.method, record.path, record.status) for record in records] == [
        ("POST", "/api/v2/repairs", 201),
        ("POST", "/api/v2/repairs", 409),
    ]
    assert keys(rig) == ["ME-000130:repair-order"] * 2
    for request in rig.sent:
        assert request.headers["Content-Type"] == "application/xml"
        assert request.headers["X-Api-Key"] == TS_KEY
        assert request.content == REPAIR_ORDER_130
    assert rig.retry.waits == []


def test_invalid_repair_order_is_rejected_once_with_the_partners_words(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    no_postcode = REPAIR_ORDER_130.replace(b' postcode="69003"', b"")
    assert no_postcode != REPAIR_ORDER_130
    rig = make_rig(ts.base_url)

    with pytest.raises(DeliveryRejected) as rejected:
        rig.sender.send(repair_order(no_postcode))

    error = rejected.value
    assert isinstance(error, FatalError)
    assert isinstance(error, PartnerRejectedRequest)
    assert not isinstance(error, TransientError)
    assert error.status == 422
    assert error.message_name == "repair_order.ME-000130.xml"
    assert 'field="Customer/@postcode"' in error.excerpt
    assert "Customer/@postcode is required" in error.excerpt
    assert error.excerpt in str(error)
    assert "not retried" in str(error)
    assert [record.status for record in settled(ts)] == [422]
    assert len(rig.sent) == 1
    assert rig.retry.waits == []
    assert ts.received_orders == []
    assert TS_KEY not in str(error)
    assert TS_KEY not in caplog.text


def test_rate_limit_is_honoured_then_the_order_is_delivered(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.rate_limit = 1
    # Configured far faster than the partner allows: its 429 must slow us down.
    rig = make_rig(ts.base_url, requests_per_second=50)
    other = OutboundMessage(
        "repair_order.ME-000123.xml", REPAIR_ORDER_123, "application/xml", "ME-000123:repair"
    )

    first = rig.sender.send(repair_order())
    second = rig.sender.send(other)

    assert (first.status, second.status) == (201, 201)
    assert not second.already_known
    assert [record.status for record in settled(ts)] == [201, 429, 201]
    assert rig.retry.waits == [1.0]  # exactly the partner's Retry-After
    assert keys(rig) == ["ME-000130:repair-order", "ME-000123:repair", "ME-000123:repair"]
    assert rig.sent[1].content == rig.sent[2].content == REPAIR_ORDER_123
    assert [order.order_ref for order in ts.received_orders] == ["ME-000130", "ME-000123"]


def test_maintenance_window_is_waited_out(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.start_maintenance(requests=1, retry_after=120)
    rig = make_rig(ts.base_url)

    receipt = rig.sender.send(repair_order())

    assert (receipt.status, receipt.already_known) == (201, False)
    assert [record.status for record in settled(ts)] == [503, 201]
    assert rig.retry.waits == [120.0]
    assert len(ts.received_orders) == 1


def test_wrong_key_stops_at_once_and_no_secret_is_shown(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ts.api_key = "the-key-they-expect"
    rig = make_rig(ts.base_url)

    with pytest.raises(PartnerRefusedCredentials) as refused:
        rig.sender.send(repair_order())

    error = refused.value
    assert error.status == 401
    assert error.variables == ("TS_API_KEY",)
    assert "POST" in str(error)
    assert "check the key in $TS_API_KEY" in str(error)
    assert [record.status for record in settled(ts)] == [401]
    assert rig.retry.waits == []
    for shown in (str(error), repr(error), repr(rig.sender), repr(rig.sender.settings)):
        assert TS_KEY not in shown
    assert TS_KEY not in caplog.text


# -- ColisExpress: JSON pickups ------------------------------------------------------------


def test_pickup_is_created_then_a_repeat_is_already_known(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    rig = ce_rig(ce, make_rig)

    first = rig.sender.send(pickup())
    again = rig.sender.send(pickup())

    tracking_number = ce.tracking_number_for("ME-000123")
    assert tracking_number is not None
    assert (first.status, first.already_known) == (201, False)
    assert (again.status, again.already_known) == (200, True)
    assert json.loads(first.body)["tracking_number"] == tracking_number
    assert json.loads(again.body)["tracking_number"] == tracking_number
    [received] = ce.received_pickups
    assert received.raw == PICKUP_123
    assert received.recipient["name"] == "Atelier Dupont Réparation"
    assert [record.status for record in settled(ce)] == [201, 200]
    assert keys(rig) == ["ME-000123:pickup"] * 2
    for request in rig.sent:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Authorization"] == f"Bearer {CE_TOKEN}"


def test_bad_postcode_is_rejected_once(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    body = json.loads(PICKUP_123)
    body["from"]["postcode"] = "6900"
    rig = ce_rig(ce, make_rig)

    with pytest.raises(DeliveryRejected) as rejected:
        rig.sender.send(pickup(json.dumps(body).encode()))

    error = rejected.value
    assert error.status == 400
    assert "INVALID_POSTCODE" in error.excerpt
    assert "'6900'" in error.excerpt
    assert [record.status for record in settled(ce)] == [400]
    assert len(rig.sent) == 1
    assert rig.retry.waits == []
    assert ce.received_pickups == []
    assert CE_TOKEN not in str(error)


# -- a partner that is not there, or answers oddly -------------------------------------------


def test_connection_refused_backs_off_then_gives_up(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(f"http://127.0.0.1:{closed_port()}/api/v2", max_attempts=4)

    with pytest.raises(PartnerUnavailable) as unavailable:
        rig.sender.send(repair_order())

    error = unavailable.value
    assert isinstance(error, TransientError)
    assert error.attempts == 4
    assert error.status is None
    assert "POST" in str(error)
    assert "ConnectError" in str(error)
    assert "failed 4 time(s)" in str(error)
    assert keys(rig) == ["ME-000130:repair-order"] * 4
    waits = rig.retry.waits
    assert len(waits) == 3
    for number, wait in enumerate(waits):  # "equal jitter": within [step / 2, step]
        step = 2.0**number
        assert step / 2 <= wait <= step
    chain: BaseException | None = error
    while chain is not None:
        assert TS_KEY not in str(chain)
        chain = chain.__cause__


@pytest.mark.parametrize(
    "first_answer",
    [httpx.ReadTimeout("timed out"), httpx.Response(502), httpx.Response(504)],
    ids=["lost answer", "502", "504"],
)
def test_a_retry_after_an_unseen_answer_counts_the_repeat_as_delivered(
    make_rig: Callable[..., Rig], first_answer: httpx.Response | Exception
) -> None:
    # The partner may have taken the first attempt; the retry carries the same key and
    # body, and its 409 ("I have it") is a delivery, not a failure.
    conflict = b"<ts:Conflict><ts:RepairId>TS-40001</ts:RepairId></ts:Conflict>"
    rig = mock_rig(make_rig, [first_answer, httpx.Response(409, content=conflict)])

    receipt = rig.sender.send(repair_order())

    assert (receipt.status, receipt.already_known, receipt.body) == (409, True, conflict)
    assert keys(rig) == ["ME-000130:repair-order"] * 2
    assert rig.sent[0].content == rig.sent[1].content == REPAIR_ORDER_130
    assert len(rig.retry.waits) == 1


@pytest.mark.parametrize(
    ("status", "idempotent_ok_status", "already_known"),
    [(201, 200, False), (200, 200, True), (200, None, False), (202, None, False), (204, 204, True)],
)
def test_which_success_means_already_known(
    make_rig: Callable[..., Rig], status: int, idempotent_ok_status: int | None, already_known: bool
) -> None:
    rig = mock_rig(make_rig, [httpx.Response(status)], idempotent_ok_status=idempotent_ok_status)
    receipt = rig.sender.send(repair_order())
    assert (receipt.status, receipt.already_known) == (status, already_known)


def test_conflict_is_an_error_unless_the_partner_means_success(
    make_rig: Callable[..., Rig],
) -> None:
    rig = mock_rig(
        make_rig,
        [httpx.Response(409, content=b'{"error": "reference used by another order"}')],
        conflict_is_success=False,
    )
    with pytest.raises(DeliveryConflict) as conflict:
        rig.sender.send(repair_order())
    assert isinstance(conflict.value, FatalError)
    assert conflict.value.status == 409
    assert "reference used by another order" in conflict.value.excerpt
    assert len(rig.sent) == 1
    assert rig.retry.waits == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (403, PartnerRefusedCredentials),
        (404, EndpointNotFound),
        (413, DeliveryRejected),
        (301, UnexpectedResponse),
        (405, UnexpectedResponse),
        (501, UnexpectedResponse),
        (206, UnexpectedResponse),
    ],
)
def test_final_statuses_are_never_retried(
    make_rig: Callable[..., Rig], status: int, error_type: type[Exception]
) -> None:
    headers = {"Location": "https://elsewhere.example/"} if status == 301 else {}
    rig = mock_rig(make_rig, [httpx.Response(status, headers=headers)])
    with pytest.raises(error_type):
        rig.sender.send(repair_order())
    assert len(rig.sent) == 1
    assert rig.retry.waits == []


def test_an_echoed_key_is_masked_in_the_rejection(make_rig: Callable[..., Rig]) -> None:
    body = f'<ts:Error field="x">key {TS_KEY} may not order</ts:Error>'.encode()
    rig = mock_rig(make_rig, [httpx.Response(422, content=body)])
    with pytest.raises(DeliveryRejected) as rejected:
        rig.sender.send(repair_order())
    assert "key *** may not order" in rejected.value.excerpt
    assert TS_KEY not in str(rejected.value)


# -- checks before anything is sent ----------------------------------------------------------


def test_a_message_that_cannot_be_sent_safely_never_leaves(make_rig: Callable[..., Rig]) -> None:
    rig = mock_rig(make_rig, [httpx.Response(201)])
    with pytest.raises(ConfigurationError, match="application/json"):
        rig.sender.send(
            OutboundMessage("pickup.json", PICKUP_123, "application/json", "ME-000123:pickup")
        )
    for bad_key in ("", "two\nlines", "x" * 256):
        with pytest.raises(UnsendableMessage, match="idempotency key"):
            rig.sender.send(repair_order(key=bad_key))
    assert rig.sent == []

    with_charset = OutboundMessage("o.xml", REPAIR_ORDER_130, "application/xml; charset=UTF-8", "k")
    assert rig.sender.send(with_charset).status == 201
    assert rig.sent[0].headers["Content-Type"] == "application/xml; charset=UTF-8"
    unlabelled = OutboundMessage("o.xml", REPAIR_ORDER_130, "", "k")
    assert rig.sender.send(unlabelled).status == 201
    assert rig.sent[1].headers["Content-Type"] == "application/xml"


def test_settings_refuse_what_would_misreport_a_delivery() -> None:
    with pytest.raises(ConfigurationError, match="201"):
        HttpPostSettings(
            "https://p.example", "/orders", "application/json", idempotent_ok_status=201
        )
    with pytest.raises(ConfigurationError, match="media type"):
        HttpPostSettings("https://p.example", "/orders", "json")
    with pytest.raises(ConfigurationError, match="header name"):
        HttpPostSettings("https://p.example", "/orders", "text/csv", idempotency_header="Bad Key")


# -- from connectors.yaml --------------------------------------------------------------------


def connector(transport: Mapping[str, object]) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "ts-orders",
            "partner": "techniservice",
            "mapping": "mappings/techniservice.yaml",
            "message": "repair_order",
            "transport": transport,
        }
    )


def test_spec_reads_an_http_post_connector() -> None:
    spec = connector(
        {
            "type": "http-post",
            "base_url": "https://api.techniservice.example/api/v2",
            "post_path": "/repairs",
            "content_type": "application/xml",
            "header_env": {"X-Api-Key": "TS_API_KEY"},
            "conflict_is_success": True,
        }
    )
    settings = spec.transport.settings
    assert isinstance(settings, HttpPostTransportSpec)
    assert settings.idempotent_ok_status is None
    assert spec.secret_names() == {"header:X-Api-Key": "TS_API_KEY"}
    bearer = connector(
        {
            "type": "http-post",
            "base_url": "https://api.colisexpress.example",
            "post_path": "/v1/pickups",
            "content_type": "application/json",
            "bearer_token_env": "CE_TOKEN",
            "idempotent_ok_status": 200,
        }
    )
    assert bearer.secret_names() == {"bearer_token": "CE_TOKEN"}
    base = {"type": "http-post", "base_url": "https://x.example", "post_path": "/o"}
    with pytest.raises(ValidationError, match="content_type"):
        connector(base)
    with pytest.raises(ValidationError, match="201 means new"):
        connector({**base, "content_type": "application/json", "idempotent_ok_status": 201})
    with pytest.raises(ValidationError):
        connector({**base, "content_type": "application/json", "secret_env": "NOPE"})


def test_transport_from_spec_builds_a_sender(ts: TechniServiceSimulator) -> None:
    spec = HttpPostTransportSpec(
        base_url=ts.base_url,
        post_path="/repairs",
        content_type="application/xml",
        header_env={"X-Api-Key": "TS_API_KEY"},
        conflict_is_success=True,
        max_wait="20m",
    )
    with transport_from_spec(spec, {"header:X-Api-Key": TS_KEY}, None) as sender:
        assert isinstance(sender, Sender)
        assert sender.settings.timeout == 30
        assert sender.settings.max_wait == 1200
        assert sender.settings.conflict_is_success
        assert TS_KEY not in repr(sender)
        assert sender.send(repair_order()).status == 201
        assert sender.send(repair_order()).already_known
    with pytest.raises(MissingSecret, match="TS_API_KEY"):
        transport_from_spec(spec, {}, None)
