"""The REST pull transport against the partner simulators, over real HTTP on loopback.

Nothing here sleeps: the transport's sleep and its rate limiter's sleep are injected and
move the simulators' ManualClock, so a 10-minute maintenance window or a 1-second rate
window passes at once, and every wait the transport asked for is on record.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import httpx
import pytest

from adapters.transports.http.errors import (
    EndpointNotFound,
    ItemNotFound,
    PartnerRefusedCredentials,
    PartnerRejectedRequest,
    PartnerUnavailable,
    ResponseTooLarge,
    RetryLater,
    UnexpectedResponse,
)
from adapters.transports.http.from_spec import transport_from_spec
from adapters.transports.http.pacing import ClientRateLimiter, parse_retry_after
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import Credential, HttpPullSettings
from adapters.transports.http.spec import HttpPullTransportSpec
from hub.config.secrets import MissingSecret
from hub.errors import (
    ConfigurationError,
    CursorExpired,
    FatalError,
    PartnerDataError,
    TransientError,
)
from hub.ports import PagedSource, RawMessage
from simulators.colis_express import ColisExpressSimulator
from simulators.colis_express import load_sheet_sample as load_parcel_sample
from simulators.server import ManualClock, RequestRecord, Simulator
from simulators.techniservice.app import TechniServiceSimulator
from simulators.techniservice.faults import SEVEN_DAYS
from simulators.techniservice.repairs import encode_token

TS_KEY = "ts-secret-key-0f9a7c"
CE_TOKEN = "ce-secret-token-51be"
NEXT = re.compile(rb'\bnext="([^"]*)"')
MORE = re.compile(rb'\bmore="(true|false)"')
SEQ = re.compile(rb'<ts:Change seq="(\d+)"')


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
    """A transport wired to the manual clock, with its retry and pacing waits apart."""

    transport: HttpPullTransport
    retry: Sleeper
    pacing: Sleeper


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
    transports: list[HttpPullTransport] = []

    def make(
        base_url: str,
        *,
        credentials: tuple[Credential, ...] = (Credential("X-Api-Key", TS_KEY, "TS_API_KEY"),),
        page_path: str | None = "/repairs/changes",
        item_path: str | None = "/repairs/{key}",
        requests_per_second: float = 5,
        max_attempts: int = 6,
        max_wait: float = 900,
        client: httpx.Client | None = None,
    ) -> Rig:
        retry, pacing = Sleeper(clock), Sleeper(clock)
        settings = HttpPullSettings(
            base_url=base_url,
            page_path=page_path,
            item_path=item_path,
            credentials=credentials,
            requests_per_second=requests_per_second,
            timeout=5,
            max_attempts=max_attempts,
            max_wait=max_wait,
        )
        transport = HttpPullTransport(
            settings,
            client=client,
            sleep=retry,
            wall_clock=clock,
            rate_limiter=ClientRateLimiter(requests_per_second, clock=clock, sleep=pacing),
            jitter=random.Random(7).random,
        )
        transports.append(transport)
        return Rig(transport, retry, pacing)

    yield make
    for transport in transports:
        transport.close()


def add_changes(ts: TechniServiceSimulator, count: int) -> None:
    for number in range(count):
        ts.add_change(f"TS-{number % 4}", f"ME-{number % 4}", 20, f"2026-11-03T10:{number:02d}:00Z")


def page_attributes(page: RawMessage) -> tuple[str, bool, list[int]]:
    """The page's next token, more flag and seqs, read the blunt way (the codec is not ours)."""
    next_token, more = NEXT.search(page.content), MORE.search(page.content)
    assert next_token is not None
    assert more is not None
    seqs = [int(seq) for seq in SEQ.findall(page.content)]
    return next_token.group(1).decode(), more.group(1) == b"true", seqs


def page_to_the_end(
    source: PagedSource, before_page: Callable[[int], None] | None = None
) -> list[RawMessage]:
    """What the engine will do: follow ``next`` while ``more`` says so."""
    pages: list[RawMessage] = []
    cursor: str | None = None
    while True:
        if before_page is not None:
            before_page(len(pages))
        page = source.fetch_page(cursor)
        pages.append(page)
        cursor, more, _ = page_attributes(page)
        if not more:
            return pages


def since_values(requests: list[RequestRecord]) -> list[str | None]:
    return [parse_qs(record.query).get("since", [None])[0] for record in requests]


def settled(simulator: Simulator) -> list[RequestRecord]:
    """The simulator's request log once it has caught up with what we sent.

    The simulator notes a request after sending its answer, so right after a call the last
    record may still be missing (or land in the next test). A marker request, waited for
    in the log, makes sure everything sent before it is there.
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


# -- paging ------------------------------------------------------------------------------


def test_pages_techniservice_to_the_end_within_its_rate(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.page_size = 2
    add_changes(ts, 21)
    rig = make_rig(ts.base_url)

    pages = page_to_the_end(rig.transport)

    assert len(pages) == 11
    assert [seq for page in pages for seq in page_attributes(page)[2]] == list(range(1, 22))
    expected_since = [None, *(encode_token(seq) for seq in range(2, 21, 2))]
    requests = settled(ts)
    assert since_values(requests) == expected_since
    assert [page.ref.name for page in pages] == [
        "/repairs/changes",
        *(f"/repairs/changes?since={token}" for token in expected_since[1:]),
    ]
    first = pages[0]
    assert first.ref.size == len(first.content)
    assert first.ref.modified_at is None
    assert first.metadata["url"] == f"{ts.base_url}/repairs/changes"
    assert first.metadata["status"] == "200"
    assert first.metadata["content_type"].startswith("application/xml")
    assert httpx.URL(pages[1].metadata["url"]).params["since"] == expected_since[1]
    # The limiter kept us under the partner's 5 per second: no 429, nothing to retry.
    assert [record.status for record in requests] == [200] * 11
    assert rig.retry.waits == []
    assert rig.pacing.waits == pytest.approx([1.01 / 5] * 10)


def test_rate_limits_and_a_maintenance_window_are_waited_out_without_a_storm(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.page_size = 2
    add_changes(ts, 30)
    refusals: list[tuple[int, float]] = []

    def note_refusal(response: httpx.Response) -> None:
        if response.status_code in (429, 503):
            refusals.append((response.status_code, float(response.headers["retry-after"])))

    def maintenance_from_page_four(page_number: int) -> None:
        if page_number == 4:
            ts.start_maintenance(seconds=600)

    client = httpx.Client(event_hooks={"response": [note_refusal]})
    # Configured ten times faster than the partner allows: its 429s must slow us down.
    rig = make_rig(ts.base_url, requests_per_second=50, client=client)
    try:
        pages = page_to_the_end(rig.transport, before_page=maintenance_from_page_four)
    finally:
        client.close()

    assert [seq for page in pages for seq in page_attributes(page)[2]] == list(range(1, 31))
    statuses = [record.status for record in settled(ts)]
    assert statuses.count(200) == len(pages) == 15
    assert statuses.count(503) == 1
    assert statuses.count(429) == 2
    # Each refusal was followed by exactly the wait it announced, after which the very
    # next attempt succeeded: one extra request per refusal, never a burst.
    assert rig.retry.waits == [retry_after for _, retry_after in refusals]
    assert (503, 600.0) in refusals
    assert len(statuses) == len(pages) + len(refusals)
    assert all(200 in pair for pair in itertools.pairwise(statuses))
    assert sum(page.metadata.get("attempts") == "2" for page in pages) == 3


def test_wrong_key_stops_at_the_first_request_and_never_shows_the_key(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ts.api_key = "the-key-they-expect"
    rig = make_rig(ts.base_url)

    with pytest.raises(PartnerRefusedCredentials) as refused:
        rig.transport.fetch_page(None)

    error = refused.value
    assert isinstance(error, ConfigurationError)
    assert len(settled(ts)) == 1
    assert rig.retry.waits == []
    assert error.status == 401
    assert error.variables == ("TS_API_KEY",)
    assert "refused our credentials (401" in str(error)
    assert "check the key in $TS_API_KEY" in str(error)
    assert "Missing or invalid X-Api-Key" in str(error)  # the partner's own <Error> text
    for shown in (str(error), repr(error), repr(rig.transport), repr(rig.transport.settings)):
        assert TS_KEY not in shown
    assert TS_KEY not in caplog.text


def test_expired_token_raises_cursor_expired(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig], clock: ManualClock
) -> None:
    ts.page_size = 2
    add_changes(ts, 5)
    rig = make_rig(ts.base_url)
    token, more, _ = page_attributes(rig.transport.fetch_page(None))
    assert more
    clock.advance(SEVEN_DAYS + 60)
    settled(ts)
    ts.clear_requests()

    with pytest.raises(CursorExpired) as expired:
        rig.transport.fetch_page(token)

    assert [record.status for record in settled(ts)] == [410]
    assert token in str(expired.value)
    assert rig.retry.waits == []


def test_unreadable_token_is_rejected_once_with_the_partners_words(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    rig = make_rig(ts.base_url)
    with pytest.raises(PartnerRejectedRequest) as rejected:
        rig.transport.fetch_page("not a token")
    assert isinstance(rejected.value, FatalError)
    assert rejected.value.status == 400
    assert "Unreadable since token" in rejected.value.excerpt
    assert len(settled(ts)) == 1


def test_retry_after_beyond_max_wait_hands_back_to_the_scheduler(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.start_maintenance(seconds=1800)
    rig = make_rig(ts.base_url, max_wait=900)

    with pytest.raises(RetryLater) as later:
        rig.transport.fetch_page(None)

    assert isinstance(later.value, TransientError)
    assert later.value.retry_after == 1800
    assert later.value.status == 503
    assert len(settled(ts)) == 1
    assert rig.retry.waits == []


# -- objects by key ----------------------------------------------------------------------


def test_fetch_item_gets_one_repair(
    ts: TechniServiceSimulator, make_rig: Callable[..., Rig]
) -> None:
    ts.add_change("TS-88120", "BM-000045", 25, "2026-11-03T10:41:00+01:00")
    ts.add_change("TS 7?x", "ME-000007", 10, "2026-11-03T11:00:00+01:00")
    rig = make_rig(ts.base_url)

    repair = rig.transport.fetch_item("TS-88120")
    odd = rig.transport.fetch_item("TS 7?x")

    assert b"<ts:RepairId>TS-88120</ts:RepairId>" in repair.content
    assert repair.ref.name == "/repairs/TS-88120"
    assert b"<ts:RepairId>TS 7?x</ts:RepairId>" in odd.content
    assert odd.ref.name == "/repairs/TS%207%3Fx"
    requests = settled(ts)
    assert [record.path for record in requests] == [
        "/api/v2/repairs/TS-88120",
        "/api/v2/repairs/TS 7?x",
    ]
    assert [record.query for record in requests] == ["", ""]


def parcel_rig(ce: ColisExpressSimulator, make_rig: Callable[..., Rig], **options: object) -> Rig:
    return make_rig(
        ce.base_url,
        credentials=(Credential.bearer(CE_TOKEN, "CE_TOKEN"),),
        page_path=None,
        item_path="/v1/parcels/{key}/events",
        **options,
    )


def test_fetch_item_pulls_a_parcel_with_a_bearer_token(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    tracking_number = load_parcel_sample(ce)
    rig = parcel_rig(ce, make_rig)

    parcel = rig.transport.fetch_item(tracking_number)

    body = json.loads(parcel.content)
    assert body["tracking_number"] == tracking_number
    assert [event["code"] for event in body["events"]] == ["PCH", "TRI", "LIV"]
    assert parcel.ref.name == f"/v1/parcels/{tracking_number}/events"
    assert parcel.metadata["content_type"] == "application/json"
    with pytest.raises(ConfigurationError, match="no page_path"):
        rig.transport.fetch_page(None)


def test_unknown_parcel_is_item_not_found(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    rig = parcel_rig(ce, make_rig)
    with pytest.raises(ItemNotFound) as missing:
        rig.transport.fetch_item("CE000000000FR")
    assert isinstance(missing.value, PartnerDataError)
    assert missing.value.key == "CE000000000FR"
    assert missing.value.status == 404
    assert len(settled(ce)) == 1


def test_wrong_bearer_token_names_its_variable(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    ce.token = "rotated"
    rig = parcel_rig(ce, make_rig)
    with pytest.raises(PartnerRefusedCredentials, match=r"check the token in \$CE_TOKEN") as bad:
        rig.transport.fetch_item("CE000000000FR")
    assert CE_TOKEN not in str(bad.value)
    assert len(settled(ce)) == 1


def test_colis_express_429_is_waited_out(
    ce: ColisExpressSimulator, make_rig: Callable[..., Rig]
) -> None:
    tracking_number = load_parcel_sample(ce)
    rig = parcel_rig(ce, make_rig, requests_per_second=1000)  # far above its 10 per second

    parcels = [rig.transport.fetch_item(tracking_number) for _ in range(11)]

    assert [record.status for record in settled(ce)] == [200] * 10 + [429, 200]
    assert rig.retry.waits == [1.0]
    assert parcels[-1].metadata["attempts"] == "2"
    assert all(parcel.content == parcels[0].content for parcel in parcels)


# -- a partner that is not there ---------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_backs_off_then_gives_up(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(f"http://127.0.0.1:{closed_port()}/api/v2", max_attempts=4)

    with pytest.raises(PartnerUnavailable) as unavailable:
        rig.transport.fetch_page(None)

    error = unavailable.value
    assert isinstance(error, TransientError)
    assert error.attempts == 4
    assert error.status is None
    assert error.retry_after is None
    assert "ConnectError" in str(error)
    assert "failed 4 time(s)" in str(error)
    waits = rig.retry.waits
    assert len(waits) == 3
    assert waits == sorted(waits)
    assert waits[0] < waits[1] < waits[2]
    for number, wait in enumerate(waits):  # "equal jitter": within [step / 2, step]
        step = 2.0**number
        assert step / 2 <= wait <= step
    chain: BaseException | None = error
    while chain is not None:
        assert TS_KEY not in str(chain)
        chain = chain.__cause__


# -- statuses the simulators do not produce (httpx.MockTransport) ----------------------------


def mock_rig(
    make_rig: Callable[..., Rig], answers: list[httpx.Response], **options: object
) -> tuple[Rig, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    client = httpx.Client(transport=httpx.MockTransport(answer))
    return make_rig("https://partner.example/api", client=client, **options), seen


def test_server_errors_are_retried_with_growing_backoff(make_rig: Callable[..., Rig]) -> None:
    answers = [
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(200, content=b"<ok/>", headers={"X-Request-Id": "req-42"}),
    ]
    rig, seen = mock_rig(make_rig, answers)

    page = rig.transport.fetch_page("abc")

    assert page.content == b"<ok/>"
    assert page.metadata["request_id"] == "req-42"
    assert page.metadata["attempts"] == "3"
    assert len(seen) == 3
    assert seen[0].headers["X-Api-Key"] == TS_KEY
    assert seen[0].url.params["since"] == "abc"
    assert rig.retry.waits[0] < rig.retry.waits[1]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (403, PartnerRefusedCredentials),
        (404, EndpointNotFound),
        (422, PartnerRejectedRequest),
        (301, UnexpectedResponse),
        (405, UnexpectedResponse),
        (501, UnexpectedResponse),
    ],
)
def test_final_statuses_are_never_retried(
    make_rig: Callable[..., Rig], status: int, error_type: type[Exception]
) -> None:
    headers = {"Location": "https://elsewhere.example/"} if status == 301 else {}
    rig, seen = mock_rig(make_rig, [httpx.Response(status, headers=headers)])
    with pytest.raises(error_type):
        rig.transport.fetch_page(None)
    assert len(seen) == 1
    assert rig.retry.waits == []


def test_error_excerpt_is_bounded_and_masks_our_key(make_rig: Callable[..., Rig]) -> None:
    body = f"<Error field='x'>key {TS_KEY} is not allowed here: " + "blah " * 2000 + "</Error>"
    rig, _ = mock_rig(make_rig, [httpx.Response(422, content=body.encode())])
    with pytest.raises(PartnerRejectedRequest) as rejected:
        rig.transport.fetch_page(None)
    excerpt = rejected.value.excerpt
    assert len(excerpt) <= 300
    assert excerpt.endswith("…")
    assert "key *** is not allowed" in excerpt
    assert TS_KEY not in str(rejected.value)


def test_too_many_attempts_report_the_last_retry_after(make_rig: Callable[..., Rig]) -> None:
    rig, seen = mock_rig(
        make_rig, [httpx.Response(503, headers={"Retry-After": "30"})], max_attempts=3
    )
    with pytest.raises(PartnerUnavailable) as unavailable:
        rig.transport.fetch_item("TS-1")
    assert len(seen) == 3
    assert rig.retry.waits == [30.0, 30.0]
    assert unavailable.value.retry_after == 30.0
    assert unavailable.value.status == 503
    assert "last Retry-After 30 s" in str(unavailable.value)


def test_oversized_response_is_refused(make_rig: Callable[..., Rig], clock: ManualClock) -> None:
    client = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=b"x" * 2048))
    )
    settings = HttpPullSettings(
        base_url="https://partner.example", page_path="/feed", max_response_bytes=1024
    )
    transport = HttpPullTransport(settings, client=client, sleep=clock.advance, clock=clock)
    with client, transport, pytest.raises(ResponseTooLarge):
        transport.fetch_page(None)


# -- small parts ---------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 8, 23, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 11, 8, 23, 20, tzinfo=UTC), usegmt=True)
    assert parse_retry_after("120", now=now.timestamp()) == 120
    assert parse_retry_after(later, now=now.timestamp()) == 1200
    assert parse_retry_after("Sun, 01 Nov 2026 00:00:00 GMT", now=now.timestamp()) == 0
    assert parse_retry_after("soon", now=now.timestamp()) is None
    assert parse_retry_after(None, now=now.timestamp()) is None


def test_bad_credential_value_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigurationError, match=r"\$TS_API_KEY") as refused:
        Credential("X-Api-Key", "abc123\n", "TS_API_KEY")
    assert "abc123" not in str(refused.value)


def test_transport_from_spec(ts: TechniServiceSimulator) -> None:
    ts.add_change("TS-1", "ME-1", 10, "2026-11-03T10:00:00+01:00")
    spec = HttpPullTransportSpec(
        base_url=ts.base_url,
        page_path="/repairs/changes",
        item_path="/repairs/{key}",
        header_env={"X-Api-Key": "TS_API_KEY"},
        max_wait="20m",
    )
    with transport_from_spec(spec, {"header:X-Api-Key": TS_KEY}, "*.xml") as transport:
        assert isinstance(transport, PagedSource)
        assert transport.settings.timeout == 30
        assert transport.settings.max_wait == 1200
        assert b"<ts:RepairId>TS-1</ts:RepairId>" in transport.fetch_item("TS-1").content
    with pytest.raises(MissingSecret, match="TS_API_KEY"):
        transport_from_spec(spec, {}, None)
    bearer = HttpPullTransportSpec(base_url=ts.base_url, bearer_token_env="CE_TOKEN")
    with transport_from_spec(bearer, {"bearer_token": CE_TOKEN}, None) as transport:
        assert transport.settings.credentials == (Credential.bearer(CE_TOKEN, "CE_TOKEN"),)
        assert CE_TOKEN not in repr(transport)
