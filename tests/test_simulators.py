"""The partner simulators behave as the partners' sheets say, faults included.

Everything goes over real HTTP on loopback with httpx, as the hub's connectors will. Time
is a ManualClock wherever a window matters, so nothing here sleeps to cross one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators import colis_express as ce_module
from simulators.colis_express import ColisExpressSimulator
from simulators.server import ManualClock, Simulator
from simulators.techniservice import app as ts_app
from simulators.techniservice import repairs as ts_repairs
from simulators.techniservice.app import TechniServiceSimulator
from simulators.techniservice.repairs import Part, Quote, Tracking, Visit

TS = "{urn:techniservice:repairs:v2}"
KEY = {"X-Api-Key": "ts-key"}
BEARER = {"Authorization": "Bearer ce-token"}
SECRET = "shared-secret"

ORDER = """<?xml version="1.0" encoding="UTF-8"?>
<ts:RepairOrder xmlns:ts="urn:techniservice:repairs:v2">
  <ts:OrderRef>{ref}</ts:OrderRef>
  <ts:Service>HOME</ts:Service>
  <ts:Product brand="Bosch" model="WAN28209FF" serial="FD9801-22314" purchaseDate="2025-06-14"/>
  <ts:Warranty>LEGAL</ts:Warranty>
  <ts:Fault>Ne vidange plus</ts:Fault>
  <ts:Customer name="Julie Martin" phone="+33612345678" postcode="69003"/>
</ts:RepairOrder>
"""


def pickup(reference: str = "ME-000123", postcode: str = "69003") -> dict[str, object]:
    return {
        "reference": reference,
        "service": "WORKSHOP",
        "from": {
            "name": "Julie Martin",
            "line1": "4 rue des Lilas",
            "postcode": postcode,
            "city": "Lyon",
            "country": "FR",
            "phone": "+33612345678",
        },
        "to": {
            "name": "Atelier Dupont Réparation",
            "line1": "ZA des Prés",
            "postcode": "38300",
            "city": "Bourgoin-Jallieu",
            "country": "FR",
        },
        "parcel": {"weight_kg": 3.2},
    }


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    """One clock for the module: it only moves forward, and every window is relative."""
    return ManualClock()


# One server per simulator for the module, reset before each test: stopping uvicorn takes
# a few tenths of a second, which would add up to most of this file's run time.


@pytest.fixture(scope="module")
def ts_server(clock: ManualClock) -> Iterator[TechniServiceSimulator]:
    with TechniServiceSimulator(api_key="ts-key", clock=clock, rate_limit=None) as simulator:
        yield simulator


@pytest.fixture
def ts(ts_server: TechniServiceSimulator) -> TechniServiceSimulator:
    ts_server.reset()
    return ts_server


@pytest.fixture(scope="module")
def ce_server(clock: ManualClock) -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token="ce-token", clock=clock, rate_limit=None) as simulator:
        yield simulator


@pytest.fixture
def ce(ce_server: ColisExpressSimulator) -> ColisExpressSimulator:
    ce_server.reset()
    return ce_server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def changes(http: httpx.Client, ts: TechniServiceSimulator, since: str | None) -> httpx.Response:
    params = {} if since is None else {"since": since}
    return http.get(f"{ts.base_url}/repairs/changes", params=params, headers=KEY)


def seqs(page: ET.Element) -> list[int]:
    return [int(change.get("seq", "")) for change in page.iter(f"{TS}Change")]


def add_changes(ts: TechniServiceSimulator, count: int) -> None:
    for number in range(count):
        ts.add_change(f"TS-{number % 3}", f"ME-{number % 3}", 20, f"2026-11-03T10:{number:02d}:00Z")


# -- TechniService ------------------------------------------------------------------------


def test_changes_look_like_the_sheet_sample(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts_app.load_sheet_sample(ts)
    response = changes(http, ts, None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert '<ts:Changes xmlns:ts="urn:techniservice:repairs:v2"' in response.text
    page = ET.fromstring(response.content)
    assert page.tag == f"{TS}Changes"
    assert page.get("more") == "false"
    first, second = page.findall(f"{TS}Change")
    assert first.findtext(f"{TS}RepairId") == "TS-88120"
    assert first.findtext(f"{TS}OrderRef") == "BM-000045"
    status = first.find(f"{TS}Status")
    assert status is not None
    assert status.attrib == {"code": "25", "at": "2026-11-03T10:41:00+01:00"}
    quote = first.find(f"{TS}Quote")
    assert quote is not None
    assert quote.attrib == {"currency": "EUR", "amountInclTax": "212.00"}
    assert first.findtext(f"{TS}Note") == "Compresseur à remplacer"
    visit = second.find(f"{TS}Visit")
    assert visit is not None
    assert visit.attrib == {"date": "2026-11-05", "slot": "AM", "technician": "T-041"}


def test_parts_and_tracking_are_rendered(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts.add_change(
        "TS-1",
        "ME-1",
        30,
        datetime(2026, 11, 4, 9, 0, tzinfo=UTC),
        parts=[Part("P-1"), Part("P-2", 2)],
    )
    ts.add_change("TS-1", None, 60, "2026-11-06T09:00:00+01:00", tracking=Tracking("CE", "CE1FR"))
    page = ET.fromstring(changes(http, ts, None).content)
    waiting, shipped = page.findall(f"{TS}Change")
    assert [part.attrib for part in waiting.findall(f"{TS}Part")] == [
        {"ref": "P-1", "qty": "1"},
        {"ref": "P-2", "qty": "2"},
    ]
    status = waiting.find(f"{TS}Status")
    assert status is not None
    assert status.get("at") == "2026-11-04T09:00:00+00:00"
    tracking = shipped.find(f"{TS}Tracking")
    assert tracking is not None
    assert tracking.attrib == {"carrier": "CE", "number": "CE1FR"}


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}])
def test_wrong_or_missing_key_is_401_with_an_xml_error(
    ts: TechniServiceSimulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    for url in ("/repairs/changes", "/repairs/TS-1"):
        response = http.get(ts.base_url + url, headers=headers)
        assert response.status_code == 401
        assert ET.fromstring(response.content).tag == "Error"
    response = http.post(f"{ts.base_url}/repairs", content=ORDER.format(ref="X"), headers=headers)
    assert response.status_code == 401
    assert ts.received_orders == []


def test_rotating_the_key_makes_the_old_one_wrong(
    ts: TechniServiceSimulator, http: httpx.Client
) -> None:
    assert changes(http, ts, None).status_code == 200
    ts.api_key = "rotated"
    assert changes(http, ts, None).status_code == 401


def test_paging_to_the_end(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts.page_size = 3
    add_changes(ts, 7)
    seen: list[int] = []
    sizes: list[int] = []
    since: str | None = None
    more = "true"
    while more == "true":
        page = ET.fromstring(changes(http, ts, since).content)
        sizes.append(len(seqs(page)))
        seen += seqs(page)
        since, more = page.get("next"), page.get("more", "")
        assert since
    assert sizes == [3, 3, 1]
    assert seen == list(range(1, 8))
    # Asked again with the last token: nothing new, the same token back.
    again = ET.fromstring(changes(http, ts, since).content)
    assert (seqs(again), again.get("more"), again.get("next")) == ([], "false", since)
    ts.add_change("TS-1", None, 50, "2026-11-04T10:00:00+01:00")
    assert seqs(ET.fromstring(changes(http, ts, since).content)) == [8]


def test_the_token_is_base64_of_the_position_like_the_sample(
    ts: TechniServiceSimulator, http: httpx.Client
) -> None:
    first = ET.fromstring(changes(http, ts, None).content)
    assert first.get("more") == "false"
    assert ts_repairs.decode_token(first.get("next", "")) == 0
    assert ts_repairs.encode_token(4412) == "c2VxPTQ0MTI="


def test_default_page_is_200(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts.page_size = 200
    for number in range(201):
        ts.add_change("TS-1", "ME-1", 20, f"2026-11-03T10:00:{number % 60:02d}+01:00")
    page = ET.fromstring(changes(http, ts, None).content)
    assert (len(seqs(page)), page.get("more")) == (200, "true")
    rest = ET.fromstring(changes(http, ts, page.get("next")).content)
    assert (seqs(rest), rest.get("more")) == ([201], "false")


def test_duplicate_change_across_a_page_boundary(
    ts: TechniServiceSimulator, http: httpx.Client
) -> None:
    ts.page_size = 3
    ts.duplicate_at_page_boundary = True
    add_changes(ts, 7)
    pages: list[list[int]] = []
    raw: dict[int, list[bytes]] = {}
    since: str | None = None
    more = "true"
    while more == "true":
        page = ET.fromstring(changes(http, ts, since).content)
        pages.append(seqs(page))
        for change in page.iter(f"{TS}Change"):
            change.tail = None
            raw.setdefault(int(change.get("seq", "")), []).append(ET.tostring(change))
        since, more = page.get("next"), page.get("more", "")
    assert pages == [[1, 2, 3], [3, 4, 5], [5, 6, 7]]
    assert seqs(ET.fromstring(changes(http, ts, since).content)) == []  # nothing new
    ts.add_change("TS-1", None, 50, "2026-11-04T10:00:00+01:00")
    assert seqs(ET.fromstring(changes(http, ts, since).content)) == [7, 8]
    assert raw[3][0] == raw[3][1]
    assert raw[5][0] == raw[5][1]
    assert sorted(set(raw)) == list(range(1, 8))


def test_expired_tokens_answer_410(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    add_changes(ts, 2)
    token = ET.fromstring(changes(http, ts, None).content).get("next")
    assert changes(http, ts, token).status_code == 200
    ts.expire_tokens()
    gone = changes(http, ts, token)
    assert gone.status_code == 410
    assert ET.fromstring(gone.content).tag == "Error"
    # A fresh start works, and its token is good again.
    fresh = ET.fromstring(changes(http, ts, None).content).get("next")
    assert changes(http, ts, fresh).status_code == 200


def test_tokens_expire_after_seven_days(
    ts: TechniServiceSimulator, http: httpx.Client, clock: ManualClock
) -> None:
    token = ET.fromstring(changes(http, ts, None).content).get("next")
    clock.advance(7 * 24 * 3600)
    assert changes(http, ts, token).status_code == 200  # exactly 7 days: not older yet
    token = ET.fromstring(changes(http, ts, None).content).get("next")
    clock.advance(7 * 24 * 3600 + 1)
    assert changes(http, ts, token).status_code == 410


@pytest.mark.parametrize("token", ["not base64!", "aGVsbG8="])
def test_unreadable_token_is_400(
    ts: TechniServiceSimulator, http: httpx.Client, token: str
) -> None:
    assert changes(http, ts, token).status_code == 400


def test_rate_limit_answers_429_with_retry_after(
    ts: TechniServiceSimulator, http: httpx.Client, clock: ManualClock
) -> None:
    ts.rate_limit = 5
    assert [changes(http, ts, None).status_code for _ in range(5)] == [200] * 5
    refused = changes(http, ts, None)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert ET.fromstring(refused.content).tag == "Error"
    clock.advance(0.5)
    assert changes(http, ts, None).status_code == 429
    clock.advance(0.5)
    assert changes(http, ts, None).status_code == 200


def test_rate_limit_is_configurable_and_on_by_default(clock: ManualClock) -> None:
    assert TechniServiceSimulator().rate_limit == 5
    with (
        TechniServiceSimulator(api_key="ts-key", clock=clock, rate_limit=2, rate_window=10) as ts,
        httpx.Client() as http,
    ):
        assert [changes(http, ts, None).status_code for _ in range(3)] == [200, 200, 429]
        clock.advance(3)
        assert changes(http, ts, None).headers["Retry-After"] == "7"


def test_maintenance_for_the_next_requests(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts.start_maintenance(requests=2, retry_after=900)
    for _ in range(2):
        response = changes(http, ts, None)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "900"
        assert ET.fromstring(response.content).tag == "Error"
    assert changes(http, ts, None).status_code == 200


def test_maintenance_for_a_time_span(
    ts: TechniServiceSimulator, http: httpx.Client, clock: ManualClock
) -> None:
    ts.start_maintenance(seconds=1800)
    response = http.post(f"{ts.base_url}/repairs", content=ORDER.format(ref="A"), headers=KEY)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1800")
    clock.advance(1000)
    assert changes(http, ts, None).headers["Retry-After"] == "800"
    clock.advance(800)
    assert changes(http, ts, None).status_code == 200
    ts.start_maintenance(seconds=60)
    ts.end_maintenance()
    assert changes(http, ts, None).status_code == 200


def test_get_repair_gives_its_current_state(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    ts.add_change("TS-7", "ME-7", 25, "2026-11-03T10:00:00+01:00", quote=Quote(Decimal("99.5")))
    ts.add_change("TS-8", "ME-8", 20, "2026-11-03T10:05:00+01:00")
    ts.add_change("TS-7", None, 12, "2026-11-03T10:30:00+01:00", visit=Visit("2026-11-05", "PM"))
    ts.add_change("TS-7", None, 27, "2026-11-03T11:00:00+01:00")
    ts.add_change("TS-7", None, 60, "2026-11-04T11:00:00+01:00", tracking=Tracking("CE", "N1"))
    response = http.get(f"{ts.base_url}/repairs/TS-7", headers=KEY)
    assert response.status_code == 200
    repair = ET.fromstring(response.content)
    assert repair.tag == f"{TS}Repair"
    assert repair.findtext(f"{TS}OrderRef") == "ME-7"
    status = repair.find(f"{TS}Status")
    assert status is not None
    assert status.attrib == {"code": "60", "at": "2026-11-04T11:00:00+01:00"}
    quote = repair.find(f"{TS}Quote")
    assert quote is not None
    assert quote.get("amountInclTax") == "99.50"
    assert repair.find(f"{TS}Tracking") is not None
    visit = repair.find(f"{TS}Visit")
    assert visit is not None
    assert visit.attrib == {"date": "2026-11-05", "slot": "PM"}
    missing = http.get(f"{ts.base_url}/repairs/TS-404", headers=KEY)
    assert missing.status_code == 404


def test_repair_order_is_created(ts: TechniServiceSimulator, http: httpx.Client) -> None:
    response = http.post(
        f"{ts.base_url}/repairs",
        content=ORDER.format(ref="ME-000130"),
        headers={**KEY, "Content-Type": "application/xml"},
    )
    assert response.status_code == 201
    created = ET.fromstring(response.content)
    assert created.tag == f"{TS}Created"
    repair_id = created.findtext(f"{TS}RepairId") or ""
    assert re.fullmatch(r"TS-\d+", repair_id)
    assert response.headers["Location"] == f"/api/v2/repairs/{repair_id}"
    (order,) = ts.received_orders
    assert (order.repair_id, order.order_ref, order.service) == (repair_id, "ME-000130", "HOME")
    assert (order.brand, order.model, order.serial) == ("Bosch", "WAN28209FF", "FD9801-22314")
    assert (order.purchase_date, order.warranty, order.fault) == (
        "2025-06-14",
        "LEGAL",
        "Ne vidange plus",
    )
    assert (order.customer_name, order.customer_phone, order.customer_postcode) == (
        "Julie Martin",
        "+33612345678",
        "69003",
    )
    assert ts.repair_id_for("ME-000130") == repair_id
    assert http.get(f"{ts.base_url}/repairs/{repair_id}", headers=KEY).status_code == 200


def test_same_order_ref_is_409_with_the_existing_repair_id(
    ts: TechniServiceSimulator, http: httpx.Client
) -> None:
    first = http.post(f"{ts.base_url}/repairs", content=ORDER.format(ref="ME-1"), headers=KEY)
    repair_id = ET.fromstring(first.content).findtext(f"{TS}RepairId")
    again = http.post(f"{ts.base_url}/repairs", content=ORDER.format(ref="ME-1"), headers=KEY)
    assert again.status_code == 409
    assert ET.fromstring(again.content).findtext(f"{TS}RepairId") == repair_id
    assert len(ts.received_orders) == 1
    # A repair the simulator was told about conflicts the same way.
    ts.add_change("TS-55555", "ME-2", 10, "2026-11-03T10:00:00+01:00")
    known = http.post(f"{ts.base_url}/repairs", content=ORDER.format(ref="ME-2"), headers=KEY)
    assert ET.fromstring(known.content).findtext(f"{TS}RepairId") == "TS-55555"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("<ts:Fault>Ne vidange plus</ts:Fault>", ""), "Fault"),
        (("<ts:Service>HOME</ts:Service>", "<ts:Service>SOFA</ts:Service>"), "Service"),
        (('brand="Bosch" ', ""), "Product/@brand"),
        (('purchaseDate="2025-06-14"', 'purchaseDate="14/06/2025"'), "Product/@purchaseDate"),
        (('postcode="69003"', ""), "Customer/@postcode"),
        (("<ts:Warranty>LEGAL</ts:Warranty>", "<ts:Warranty>YES</ts:Warranty>"), "Warranty"),
        (("<ts:OrderRef>{ref}</ts:OrderRef>", "<ts:OrderRef> </ts:OrderRef>"), "OrderRef"),
        (("</ts:RepairOrder>", "<ts:Extra/></ts:RepairOrder>"), "Extra"),
        (("ts:RepairOrder", "ts:Order"), "RepairOrder"),
        (('xmlns:ts="urn:techniservice:repairs:v2"', 'xmlns:ts="urn:other"'), "RepairOrder"),
    ],
)
def test_invalid_order_is_422_naming_the_field(
    ts: TechniServiceSimulator, http: httpx.Client, edit: tuple[str, str], field: str
) -> None:
    body = ORDER.replace(*edit).replace("{ref}", "ME-9")
    response = http.post(f"{ts.base_url}/repairs", content=body, headers=KEY)
    assert response.status_code == 422
    error = ET.fromstring(response.content)
    assert (error.tag, error.get("field")) == (f"{TS}Error", field)
    assert error.text
    assert ts.received_orders == []


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<ts:RepairOrder xmlns:ts="urn:techniservice:repairs:v2"><ts:OrderRef>&x;</ts:OrderRef>'
        "</ts:RepairOrder>",
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
    ],
)
def test_malformed_or_dtd_bearing_order_is_refused(
    ts: TechniServiceSimulator, http: httpx.Client, body: str
) -> None:
    response = http.post(f"{ts.base_url}/repairs", content=body, headers=KEY)
    assert response.status_code == 400
    assert "root:" not in response.text
    assert ts.received_orders == []


def test_repair_ids_are_deterministic_given_a_seed() -> None:
    def ids(seed: int) -> list[str]:
        simulator = TechniServiceSimulator(seed=seed)
        return [simulator.add_repair(ref) for ref in ("A", "B", "C")]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


def test_changes_added_while_paging_are_all_served_once(
    ts: TechniServiceSimulator, http: httpx.Client
) -> None:
    ts.page_size = 7

    def writer(number: int) -> None:
        for index in range(40):
            ts.add_change(f"TS-W{number}", f"W-{number}", 20, f"2026-11-03T10:00:{index:02d}Z")

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    seen: list[int] = []
    since: str | None = None
    while True:
        page = ET.fromstring(changes(http, ts, since).content)
        seen += seqs(page)
        since = page.get("next")
        if page.get("more") == "false" and not any(thread.is_alive() for thread in threads):
            break
    for thread in threads:
        thread.join()
    seen += seqs(ET.fromstring(changes(http, ts, since).content))
    assert seen == list(range(1, 161))


# -- ColisExpress -------------------------------------------------------------------------


def post_pickup(http: httpx.Client, ce: ColisExpressSimulator, body: object) -> httpx.Response:
    return http.post(f"{ce.base_url}/v1/pickups", json=body, headers=BEARER)


def test_pickup_is_created_with_a_tracking_number_and_label(
    ce: ColisExpressSimulator, http: httpx.Client
) -> None:
    response = post_pickup(http, ce, pickup())
    assert response.status_code == 201
    answer = response.json()
    assert re.fullmatch(r"CE\d{9}FR", answer["tracking_number"])
    label = http.get(answer["label_url"], headers=BEARER)
    assert (label.status_code, label.content[:5]) == (200, b"%PDF-")
    (received,) = ce.received_pickups
    assert (received.reference, received.service, received.weight_kg) == (
        "ME-000123",
        "WORKSHOP",
        3.2,
    )
    assert received.sender["city"] == "Lyon"
    assert received.recipient["postcode"] == "38300"
    assert received.tracking_number == answer["tracking_number"]
    assert [event["code"] for event in ce.parcel(answer["tracking_number"]).events] == ["ENR"]


def test_same_reference_twice_gives_the_first_tracking_number(
    ce: ColisExpressSimulator, http: httpx.Client
) -> None:
    first = post_pickup(http, ce, pickup())
    again = post_pickup(http, ce, pickup())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["tracking_number"] == first.json()["tracking_number"]
    assert len(ce.received_pickups) == 1
    assert post_pickup(http, ce, pickup("ME-000124")).status_code == 201


@pytest.mark.parametrize("postcode", ["6900", "690031", "69OO3", "", " 69003"])
def test_bad_french_postcode_is_400_invalid_postcode(
    ce: ColisExpressSimulator, http: httpx.Client, postcode: str
) -> None:
    response = post_pickup(http, ce, pickup(postcode=postcode))
    assert response.status_code == 400
    error = response.json()["error"]
    expected = "INVALID_REQUEST" if not postcode else "INVALID_POSTCODE"
    assert error["code"] == expected
    assert error["message"]
    assert ce.received_pickups == []


def test_foreign_postcodes_are_not_held_to_the_french_format(
    ce: ColisExpressSimulator, http: httpx.Client
) -> None:
    body = pickup()
    body["to"] = {"name": "B", "line1": "Rue 1", "postcode": "1000", "city": "Bx", "country": "BE"}
    assert post_pickup(http, ce, body).status_code == 201


@pytest.mark.parametrize(
    "broken",
    [
        {"service": "TELEPORT"},
        {"parcel": {"weight_kg": 0}},
        {"parcel": {"weight_kg": True}},
        {"from": None},
        {"reference": ""},
    ],
)
def test_incomplete_pickup_is_400(
    ce: ColisExpressSimulator, http: httpx.Client, broken: dict[str, object]
) -> None:
    response = post_pickup(http, ce, {**pickup(), **broken})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    not_json = http.post(f"{ce.base_url}/v1/pickups", content=b"{", headers=BEARER)
    assert not_json.json()["error"]["code"] == "INVALID_JSON"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "x"}])
def test_wrong_bearer_is_401(
    ce: ColisExpressSimulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    ce_module.load_sheet_sample(ce)
    assert http.post(f"{ce.base_url}/v1/pickups", json=pickup(), headers=headers).status_code == 401
    events = http.get(f"{ce.base_url}/v1/parcels/CE123456789FR/events", headers=headers)
    assert events.status_code == 401
    assert events.json()["error"]["code"] == "UNAUTHORIZED"


def test_pulling_a_parcel_matches_the_sheet(ce: ColisExpressSimulator, http: httpx.Client) -> None:
    ce_module.load_sheet_sample(ce)
    response = http.get(f"{ce.base_url}/v1/parcels/CE123456789FR/events", headers=BEARER)
    assert response.status_code == 200
    body = response.json()
    assert (body["tracking_number"], body["reference"]) == ("CE123456789FR", "ME-000123")
    pch, tri, liv = body["events"]
    assert pch["code"] == "PCH"
    assert pch["label"] == "Colis pris en charge"
    assert pch["at"] == "2026-11-02T17:31:00+01:00"
    assert pch["location"] == {"postcode": "69003", "city": "Lyon"}
    assert tri["location"] == {"city": "Chaponnay"}
    assert (liv["label"], liv["signed_by"]) == ("Livré", "DUPONT")
    assert "location" not in liv
    assert all(re.fullmatch(r"ev_01[0-9A-Z]{8}", event["id"]) for event in body["events"])
    assert len({event["id"] for event in body["events"]}) == 3


def test_unknown_parcel_is_404(ce: ColisExpressSimulator, http: httpx.Client) -> None:
    response = http.get(f"{ce.base_url}/v1/parcels/CE000000000FR/events", headers=BEARER)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_unknown_codes_are_kept_with_their_own_label(
    ce: ColisExpressSimulator, http: httpx.Client
) -> None:
    tracking = ce.add_parcel("ME-5")
    ce.add_event(tracking, "XYZ", "2026-11-03T08:00:00+01:00")
    ce.add_event(tracking, "ANO", "2026-11-03T09:00:00+01:00", label="Colis endommagé")
    events = http.get(f"{ce.base_url}/v1/parcels/{tracking}/events", headers=BEARER).json()
    assert [(e["code"], e["label"]) for e in events["events"]] == [
        ("XYZ", "XYZ"),
        ("ANO", "Colis endommagé"),
    ]


def test_pull_rate_limit_is_10_per_second(clock: ManualClock, http: httpx.Client) -> None:
    with ColisExpressSimulator(token="ce-token", clock=clock) as ce:
        url = f"{ce.base_url}/v1/parcels/{ce.add_parcel('ME-1')}/events"
        assert [http.get(url, headers=BEARER).status_code for _ in range(10)] == [200] * 10
        refused = http.get(url, headers=BEARER)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        clock.advance(1)
        assert http.get(url, headers=BEARER).status_code == 200


def test_tracking_numbers_are_deterministic_given_a_seed() -> None:
    def numbers(seed: int) -> list[str]:
        simulator = ColisExpressSimulator(seed=seed)
        return [simulator.add_parcel(f"R-{n}") for n in range(3)]

    assert numbers(3) == numbers(3)
    assert numbers(3) != numbers(4)


# -- ColisExpress push --------------------------------------------------------------------


class HubReceiver(Simulator):
    """A stand-in for the hub's push endpoint that checks signatures as the sheet says."""

    def __init__(self, clock: ManualClock, statuses: list[int] | None = None) -> None:
        super().__init__(clock=clock)
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes, bool]] = []

    def reset(self) -> None:
        with self._lock:
            self.statuses.clear()
            self.received.clear()

    def verify(self, headers: dict[str, str], raw: bytes) -> bool:
        timestamp = headers.get("x-ce-timestamp", "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > 300:
            return False
        mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
        return hmac.compare_digest(headers.get("x-ce-signature", ""), "sha256=" + mac.hexdigest())

    def build_app(self) -> ASGIApp:
        async def receive(request: Request) -> Response:
            raw = await request.body()
            headers = dict(request.headers)
            valid = self.verify(headers, raw)
            with self._lock:
                self.received.append((headers, raw, valid))
                status = self.statuses.pop(0) if self.statuses else (200 if valid else 401)
            return Response(status_code=status)

        return Starlette(routes=[Route("/push", receive, methods=["POST"])])

    @property
    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(raw) for _, raw, valid in self.received if valid]


@pytest.fixture(scope="module")
def receiver_server(clock: ManualClock) -> Iterator[HubReceiver]:
    with HubReceiver(clock) as hub:
        yield hub


@pytest.fixture
def receiver(receiver_server: HubReceiver) -> HubReceiver:
    receiver_server.reset()
    return receiver_server


@pytest.fixture(scope="module")
def pusher_server(
    clock: ManualClock, receiver_server: HubReceiver
) -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(
        token="ce-token",
        clock=clock,
        push_url=f"{receiver_server.base_url}/push",
        push_secret=SECRET,
        seed=11,
    ) as simulator:
        yield simulator


@pytest.fixture
def pusher(pusher_server: ColisExpressSimulator, receiver: HubReceiver) -> ColisExpressSimulator:
    pusher_server.reset()
    return pusher_server


def parcel_with_events(ce: ColisExpressSimulator, count: int) -> str:
    tracking = ce.add_parcel("ME-000123")
    for number in range(count):
        ce.add_event(tracking, "TRI", f"2026-11-02T{10 + number}:00:00+01:00")
    return tracking


def test_each_event_is_pushed_alone_and_signed(
    pusher: ColisExpressSimulator, receiver: HubReceiver, clock: ManualClock
) -> None:
    tracking = ce_module.load_sheet_sample(pusher)
    run = pusher.push_pending()
    assert len(run.delivered) == 3
    assert len(receiver.received) == 3
    assert all(valid for _, _, valid in receiver.received)
    headers, raw, _ = receiver.received[0]
    assert headers["x-ce-timestamp"] == str(int(clock()))
    expected = hmac.new(
        SECRET.encode(), headers["x-ce-timestamp"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    assert headers["x-ce-signature"] == f"sha256={expected}"
    assert headers["content-type"] == "application/json"
    pulled = pusher.parcel(tracking).events
    for body, event in zip(receiver.bodies, pulled, strict=True):
        assert body == {**event, "tracking_number": tracking, "reference": "ME-000123"}
    assert pusher.pending_pushes == []
    assert pusher.push_pending().attempts == []


def test_a_failing_push_is_retried_three_times_then_dropped(
    pusher: ColisExpressSimulator, receiver: HubReceiver
) -> None:
    parcel_with_events(pusher, 2)
    receiver.statuses = [500, 503, 302, 400]
    run = pusher.push_pending()
    assert [attempt.status for attempt in run.attempts] == [500, 503, 302, 400, 200]
    assert [attempt.attempt for attempt in run.attempts] == [1, 2, 3, 4, 1]
    assert len(run.dropped) == 1
    assert len(run.delivered) == 1
    assert pusher.dropped_pushes == run.dropped
    assert run.dropped[0]["id"] != run.delivered[0]["id"]


def test_a_push_succeeding_on_a_retry_is_not_dropped(
    pusher: ColisExpressSimulator, receiver: HubReceiver
) -> None:
    parcel_with_events(pusher, 1)
    receiver.statuses = [500, 500, 202]
    run = pusher.push_pending()
    assert ([a.status for a in run.attempts], run.dropped) == ([500, 500, 202], [])


def test_an_unreachable_hub_drops_after_retries(clock: ManualClock) -> None:
    waits: list[float] = []
    with HubReceiver(clock) as gone:
        url = f"{gone.base_url}/push"
    simulator = ColisExpressSimulator(
        push_url=url, push_secret=SECRET, clock=clock, push_backoff=0.5, sleep=waits.append
    )
    parcel_with_events(simulator, 1)
    run = simulator.push_pending()
    assert len(run.attempts) == 4
    assert all(a.status is None and a.error for a in run.attempts)
    assert len(simulator.dropped_pushes) == 1
    assert waits == [0.5, 1.0, 2.0]


def test_wrong_signature_is_refused_by_the_hub_and_dropped(
    pusher: ColisExpressSimulator, receiver: HubReceiver
) -> None:
    parcel_with_events(pusher, 1)
    pusher.push_faults.wrong_signature = True
    run = pusher.push_pending()
    assert [a.status for a in run.attempts] == [401] * 4
    assert not any(valid for _, _, valid in receiver.received)
    assert len(run.dropped) == 1


def test_stale_timestamp_is_signed_but_ten_minutes_old(
    pusher: ColisExpressSimulator, receiver: HubReceiver, clock: ManualClock
) -> None:
    parcel_with_events(pusher, 1)
    pusher.push_faults.stale_timestamp = True
    run = pusher.push_pending()
    attempt = run.attempts[0]
    assert int(attempt.timestamp) == int(clock()) - 600
    assert attempt.signature == ce_module.sign_push(SECRET, attempt.timestamp, attempt.body)
    assert attempt.status == 401
    assert len(run.dropped) == 1


def test_push_twice(pusher: ColisExpressSimulator, receiver: HubReceiver) -> None:
    parcel_with_events(pusher, 3)
    pusher.push_faults.duplicate_rate = 1.0
    run = pusher.push_pending()
    ids = [body["id"] for body in receiver.bodies]
    assert len(ids) == 6
    assert ids[0::2] == ids[1::2]
    assert len(run.delivered) == 6


def test_push_a_batch_shuffled(pusher: ColisExpressSimulator, receiver: HubReceiver) -> None:
    tracking = parcel_with_events(pusher, 8)
    pusher.push_faults.shuffle = True
    pusher.push_pending()
    recorded = [event["id"] for event in pusher.parcel(tracking).events]
    pushed = [str(body["id"]) for body in receiver.bodies]
    assert sorted(pushed) == sorted(recorded)
    assert pushed != recorded


def test_push_faults_are_deterministic_given_a_seed(clock: ManualClock) -> None:
    def delivered_order(seed: int) -> list[str]:
        accept = httpx.MockTransport(lambda request: httpx.Response(200))
        with httpx.Client(transport=accept) as client:
            simulator = ColisExpressSimulator(
                push_url="http://hub/push", push_secret=SECRET, seed=seed, push_client=client
            )
            simulator.push_faults.shuffle = True
            simulator.push_faults.duplicate_rate = 0.5
            simulator.push_faults.skip_rate = 0.2
            parcel_with_events(simulator, 10)
            return [str(body["id"]) for body in simulator.push_pending().delivered]

    assert delivered_order(5) == delivered_order(5)
    assert delivered_order(5) != delivered_order(6)


def test_skipped_pushes_are_still_pulled(
    pusher: ColisExpressSimulator, receiver: HubReceiver, http: httpx.Client
) -> None:
    tracking = parcel_with_events(pusher, 2)
    pusher.add_event(tracking, "LIV", "2026-11-03T08:52:00+01:00", push=False)
    pusher.push_faults.skip_rate = 1.0
    run = pusher.push_pending()
    assert receiver.received == []
    assert len(run.skipped) == len(pusher.skipped_pushes) == 2
    pulled = http.get(f"{pusher.base_url}/v1/parcels/{tracking}/events", headers=BEARER).json()
    assert [event["code"] for event in pulled["events"]] == ["TRI", "TRI", "LIV"]


def test_late_push_of_an_event_already_pulled(
    pusher: ColisExpressSimulator, receiver: HubReceiver
) -> None:
    tracking = pusher.add_parcel("ME-1")
    event = pusher.add_event(tracking, "PCH", "2026-11-02T17:31:00+01:00", push=False)
    pusher.add_event(tracking, "TRI", "2026-11-02T23:10:00+01:00")
    pusher.push_pending()
    pusher.queue_push(tracking, event["id"])
    waits: list[float] = []
    pusher.sleep = waits.append
    pusher.push_faults.delay = 30.0
    pusher.push_pending()
    assert [body["code"] for body in receiver.bodies] == ["TRI", "PCH"]
    assert waits == [30.0]


def test_pickup_label_event_is_pushed(
    pusher: ColisExpressSimulator, receiver: HubReceiver, http: httpx.Client
) -> None:
    tracking = post_pickup(http, pusher, pickup()).json()["tracking_number"]
    pusher.push_pending()
    (body,) = receiver.bodies
    assert (body["code"], body["tracking_number"], body["reference"]) == (
        "ENR",
        tracking,
        "ME-000123",
    )


def test_auto_push_delivers_in_the_background(clock: ManualClock, receiver: HubReceiver) -> None:
    with ColisExpressSimulator(
        push_url=f"{receiver.base_url}/push",
        push_secret=SECRET,
        clock=clock,
        auto_push_interval=0.02,
    ) as simulator:
        parcel_with_events(simulator, 2)
        deadline = time.monotonic() + 5
        while len(receiver.bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(receiver.bodies) == 2


def test_push_through_a_given_client(clock: ManualClock) -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(hub)) as client:
        simulator = ColisExpressSimulator(
            push_url="http://hub/push", push_secret=SECRET, clock=clock, push_client=client
        )
        parcel_with_events(simulator, 1)
        assert len(simulator.push_pending().delivered) == 1
        assert not client.is_closed
    (request,) = seen
    timestamp = request.headers["X-CE-Timestamp"]
    assert request.headers["X-CE-Signature"] == ce_module.sign_push(
        SECRET, timestamp, request.content
    )


def test_push_without_a_url_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="push_url"):
        ColisExpressSimulator().push_pending()
