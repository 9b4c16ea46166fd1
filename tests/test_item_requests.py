"""The generic pieces a SOAP-style partner needs, each on its own: a per-item request
rendered from a template, faults told by the answer's body, a minimum interval per item,
a push receiver's requirements and its answer to what can never be stored, columns
joined when present, and a message taken outside the hub still giving the case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.receivers.http_push import HttpPushReceiver, HttpPushSettings
from adapters.transports.http.faults import (
    FaultRuleSpec,
    ItemSkipped,
    PartnerFault,
    match_fault,
)
from adapters.transports.http.from_spec import transport_from_spec
from adapters.transports.http.item_request import ItemRequestSpec, render_item_body
from adapters.transports.http.spec import HttpPullTransportSpec
from hub.config.sync import SyncSpec
from hub.errors import ConfigurationError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.partners.ingest.items import run_items
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.push import push_request
from hub.ports import AcceptedPush, PushRefusal
from hub.store.case_links import RecordedBy, reference_candidates
from hub.store.cases import open_case
from hub.store.db import Database
from hub.sync.addresses import Addresses
from hub.sync.engine import apply_sync
from hub.sync.rules import TakenOutsideIntent, evaluate
from simulators.server import serving
from tests.factories import T0, case_event, make_case, register_network

FAULT = (
    b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>'
    b"<faultcode>p:%s</faultcode><faultstring>%s</faultstring></e:Fault></e:Body></e:Envelope>"
)
RULES = (
    FaultRuleSpec(when_xpath="//faultcode[.='p:BUSY']", then="wait", wait="1s"),
    FaultRuleSpec(
        when_xpath="//faultcode[.='p:UNKNOWN']", then="skip", text_xpath="string(//faultstring)"
    ),
    FaultRuleSpec(match=r"<faultcode>", then="fail", status=(500,)),
)


def test_the_item_body_escapes_the_key_and_the_secrets() -> None:
    spec = ItemRequestSpec(
        body="<Ask><Key>{secret:k}</Key><Id>{ key }</Id>{{literal}}</Ask>",
        body_env={"k": "SOME_KEY"},
        headers={"Content-Type": "text/xml"},
    )
    rendered = render_item_body(spec, "A<&>\"'", {"k": "s&cret"})
    assert rendered == (
        b"<Ask><Key>s&amp;cret</Key><Id>A&lt;&amp;&gt;&quot;&apos;</Id>{literal}</Ask>"
    )
    as_json = ItemRequestSpec(
        body='{{"id": "{key}"}}', headers={"content-type": "application/json"}
    )
    assert render_item_body(as_json, 'x"y', {}) == b'{"id": "x\\"y"}'


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"body": "<Ask/>"}, "must contain {key}"),
        ({"body": "{key}{secret:k}"}, "names no variable of body_env: k"),
        ({"body": "{key}{when}"}, "unknown placeholder {when}"),
        (
            {
                "body": "{key} {",
            },
            "unmatched '{'",
        ),
        ({"body": "{key}", "headers": {"Bad Header": "x"}}, "not a valid header"),
    ],
)
def test_an_item_request_that_cannot_work_is_refused(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        ItemRequestSpec.model_validate(fields)


def test_faults_are_told_by_the_first_rule_that_matches() -> None:
    busy = match_fault(RULES, 500, FAULT % (b"BUSY", b"slow down"))
    assert busy is not None
    assert busy.rule.then == "wait"
    unknown = match_fault(RULES, 500, FAULT % (b"UNKNOWN", b"no parcel X1"))
    assert unknown is not None
    assert (unknown.rule.then, unknown.text) == ("skip", "no parcel X1")
    other = match_fault(RULES, 500, FAULT % (b"KEY", b"bad key"))
    assert other is not None
    assert other.rule.then == "fail"
    assert match_fault(RULES, 200, FAULT % (b"KEY", b"bad key")) is None, "status-bound"
    assert match_fault(RULES, 500, b"not xml at all") is None
    with pytest.raises(ValidationError, match="exactly one of when_xpath or match"):
        FaultRuleSpec(then="fail")
    with pytest.raises(ValidationError, match="not an XPath"):
        FaultRuleSpec(when_xpath="//[", then="fail")


class Partner:
    """A SOAP-ish service: busy on every other call, unknown item U, a bad key on K."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.busy_next = True

    async def ask(self, request: Request) -> Response:
        body = await request.body()
        self.calls.append((request.method, body, dict(request.headers)))
        if b"<Id>U</Id>" in body:
            return Response(FAULT % (b"UNKNOWN", b"item U unknown"), 500)
        if b"<Id>K</Id>" in body:
            return Response(FAULT % (b"KEY", b"key refused"), 500)
        if self.busy_next:
            self.busy_next = False
            return Response(FAULT % (b"BUSY", b"quota"), 500)
        self.busy_next = True
        return Response(b"<Answer>" + body + b"</Answer>", 200, media_type="text/xml")


@pytest.fixture
def partner() -> Iterator[tuple[Partner, str]]:
    service = Partner()
    app = Starlette(routes=[Route("/ws/Ask", service.ask, methods=["POST"])])
    with serving(app) as url:
        yield service, url


def transport(url: str) -> object:
    spec = HttpPullTransportSpec.model_validate(
        {
            "base_url": url,
            "item_path": "/ws/Ask",
            "item_request": {
                "headers": {"SOAPAction": '"urn:ask"', "Content-Type": "text/xml"},
                "body": "<Ask><Key>{secret:k}</Key><Id>{key}</Id></Ask>",
                "body_env": {"k": "PARTNER_KEY"},
            },
            "faults": [rule.model_dump() for rule in RULES],
            "requests_per_second": 50,
        }
    )
    with pytest.raises(ConfigurationError, match="PARTNER_KEY"):
        transport_from_spec(spec, {}, None)
    return transport_from_spec(spec, {"body:k": "secret-k"}, None)


def test_a_post_per_item_waits_out_busy_skips_unknown_and_fails_on_the_rest(
    partner: tuple[Partner, str],
) -> None:
    service, url = partner
    pull = transport(url)
    message = pull.fetch_item("A1")  # type: ignore[attr-defined]
    assert message.ref.name == "/ws/Ask#A1"
    assert message.content == b"<Answer><Ask><Key>secret-k</Key><Id>A1</Id></Ask></Answer>"
    assert [method for method, _, _ in service.calls] == ["POST", "POST"], "busy, then asked again"
    assert service.calls[0][2]["soapaction"] == '"urn:ask"'
    with pytest.raises(ItemSkipped, match="item U unknown") as skipped:
        pull.fetch_item("U")  # type: ignore[attr-defined]
    assert skipped.value.key == "U"
    with pytest.raises(PartnerFault, match="key refused"):
        pull.fetch_item("K")  # type: ignore[attr-defined]


ASKED_MAPPING = """version: 1
partner: colis-express
messages:
  answer:
    direction: inbound
    codec: {type: xml, record: /Answer/Ask, fields: {id: Id}}
    event_type: case_status
    fields:
      partner_ref: {column: id, required: true}
      raw_code: {const: ASKED}
      occurred_at: {const: "2026-11-03T09:00:00+01:00"}
    codes: {ASKED: received}
"""
"""The partner's answer echoes the request: one event per item asked, so that the run
really stores what it fetched."""


def test_a_per_item_run_notes_skipped_items_and_asks_each_once_per_interval(
    database: Database, partner: tuple[Partner, str], tmp_path: Path
) -> None:
    service, url = partner
    pull = transport(url)

    mapping_file = tmp_path / "asked.yaml"
    mapping_file.write_text(ASKED_MAPPING, encoding="utf-8")
    mapping = load_mapping(mapping_file)
    pipeline = InboundPipeline(
        build_codec(mapping.inbound("answer")), InboundMapping(mapping, "answer")
    )
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

    def run(at: datetime) -> object:
        return run_items(
            database,
            "soap-pull",
            pull,  # type: ignore[arg-type]
            pipeline,  # type: ignore[arg-type]
            ["A1", "U", "B2"],
            min_interval=timedelta(hours=2),
            now=at,
        )

    first = run(now)
    assert first.error is None  # type: ignore[attr-defined]
    assert first.counts.rejected == 1  # type: ignore[attr-defined]
    assert first.counts.events_stored == 2  # type: ignore[attr-defined]
    assert first.counts.messages_seen == 2  # type: ignore[attr-defined]
    asked = len(service.calls)
    assert run(now + timedelta(hours=1)).counts.messages_seen == 0  # type: ignore[attr-defined]
    assert len(service.calls) == asked
    later = run(now + timedelta(hours=2))
    assert later.counts.messages_seen == 2  # type: ignore[attr-defined]


def test_a_push_receiver_requires_its_batch_and_answers_what_can_never_be_stored() -> None:
    settings = HttpPushSettings.model_validate(
        {
            "auth": {"scheme": "api-key", "header": "X-Key", "key_env": "K"},
            "require": [{"xml": "/Batch/@id", "reason": "not our batch"}],
            "answer": {"content_type": "application/xml", "body": '<Ack id="{xml:/Batch/@id}"/>'},
            "unstorable": {
                "status": 200,
                "content_type": "application/xml",
                "body": '<Ack id="{xml:/*/@id}" ok="no" why="{reason}"/>',
            },
        }
    )
    receiver = HttpPushReceiver(settings, {"key": "k1"})

    def push(body: bytes) -> AcceptedPush | PushRefusal:
        return receiver.authenticate(push_request({"X-Key": "k1"}, body, {}, "127.0.0.1"))

    accepted = push('<?xml version="1.0" encoding="ISO-8859-1"?><Batch id="é1"/>'.encode("latin-1"))
    assert isinstance(accepted, AcceptedPush)
    assert receiver.answer(accepted, 7).body == '<Ack id="é1"/>'.encode()
    for body, said in [
        (b'<Other id="x2"/>', b'<Ack id="x2" ok="no" why="not our batch"/>'),
        (b"garbage", b'<Ack id="" ok="no" why="the body is not readable XML'),
    ]:
        refused = push(body)
        assert isinstance(refused, PushRefusal)
        answer = receiver.refuse(refused)
        assert answer.status == 200
        assert answer.body.startswith(said)
    with pytest.raises(ValidationError, match="no \\{message_id\\}"):
        HttpPushSettings.model_validate(
            {
                "auth": {"scheme": "api-key", "key_env": "K"},
                "unstorable": {"body": "{message_id}"},
            }
        )


def test_a_message_taken_outside_the_hub_gives_the_partner_the_case(
    database: Database, tmp_path: Path
) -> None:
    spec = SyncSpec.model_validate(
        {
            "routes": [{"carrier": "colis-express", "repairer": "atelier-dupont"}],
            "not_sent": {"colis-express": ["pickup"]},
            "rules": [
                {
                    "name": "opened",
                    "when": {"type": "case_status", "status": "created"},
                    "send": [{"to": "carrier", "message": "pickup"}],
                }
            ],
        }
    )
    register_network(database)
    case = make_case("ME-000123", references=[{"party": "colis-express", "reference": "COUNTER-1"}])
    with database.transaction() as connection:
        open_case(connection, case)
    opened = case_event("created", T0, by="maison-electro")
    intents = evaluate(spec, opened, case)
    assert intents == [TakenOutsideIntent("opened", "colis-express", "pickup", "ME-000123")]
    with database.transaction() as connection:
        outcome = apply_sync(connection, spec, Addresses({}), [opened])
    assert outcome.enqueued == []
    with database.transaction() as connection:
        found = reference_candidates(connection, [("colis-express", "COUNTER-1")])
    [candidate] = found[("colis-express", "COUNTER-1")]
    assert candidate.given
    assert candidate.recorded_by is RecordedBy.RETAILER
