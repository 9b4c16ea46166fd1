"""Cases the network cannot work: refused at creation; a refused address corrected by the
retailer; the failed pickup sent again from the corrected case; the retailer told.

Real parts throughout: the hub's API behind uvicorn on loopback, ColisExpress's simulator
(it refuses a postcode that is not French, as its sheet says), Maison Électro's webhook
endpoint checking every signature, the outbox on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook

from hub.api import create_app
from hub.api.cases import EXAMPLE_CASE
from hub.api.webhook_docs import MessageFailedPayload
from hub.bootstrap import Hub as BootstrapHub
from hub.model import Case, Party, PartyRole
from hub.partners.connectors import Network, open_network
from hub.store.db import Database
from hub.store.parties import save_party
from hub.store.rejects import recent_rejects
from hub.sync.delivery import deliver_any
from hub.sync.failures import tell_retailer_of_failures
from hub.sync.outbox import Dispatcher
from hub.sync.profiles import profile_needs
from hub.sync.requirements import route_needs
from simulators.colis_express import ColisExpressSimulator
from tests.api_support import Tenant, case_json, make_tenant, serving
from tests.factories import register_network
from tests.test_cli import run
from tests.test_outbound import PARTIES

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_" + base64.b64encode(b"maison-electro-webhook-secret!!").decode()
ADDRESS = {"line1": "4 rue des Lilas", "postcode": "69003", "city": "Lyon"}
PROBLEM = "application/problem+json"


@dataclass
class Receiver:
    """Maison Électro's webhook endpoint: every payload, its signature checked; and an
    endpoint of its own (registered through the API), whose messages are kept as sent."""

    url: str
    payloads: list[dict[str, Any]]
    own: list[tuple[bytes, dict[str, str]]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [payload for payload in self.payloads if payload["type"] == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    payloads: list[dict[str, Any]] = []
    verifier = Webhook(SECRET)
    app = FastAPI()

    @app.post("/hooks/hub")
    async def hook(request: Request) -> dict[str, str]:
        payloads.append(verifier.verify(await request.body(), dict(request.headers)))
        return {"ok": "yes"}

    own: list[tuple[bytes, dict[str, str]]] = []

    @app.post("/hooks/own")
    async def own_hook(request: Request) -> dict[str, str]:
        own.append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}

    with serving(app) as url:
        yield Receiver(url, payloads, own)


@pytest.fixture
def carrier() -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token="ce-token", rate_limit=None) as sim:
        yield sim


def write_network(
    path: Path, receiver: Receiver, carrier: ColisExpressSimulator, parties: list[Party]
) -> Path:
    """Pickups to ColisExpress for workshop repairs at Atelier Dupont; news by webhook."""
    declared = "\n".join(f"  - {p.model_dump_json(exclude_none=True)}" for p in parties)
    path.write_text(
        f"""
version: 1
parties:
{declared}
connectors:
  - name: carrier-pickups
    partner: colis-express
    mapping: {ROOT / "mappings" / "colis-express.yaml"}
    message: pickup
    transport: {{type: http-post, base_url: "{carrier.base_url}", post_path: /v1/pickups,
      content_type: application/json, bearer_token_env: TEST_CE_TOKEN,
      idempotent_ok_status: 200}}
sync:
  routes:
    - {{service: workshop_repair, repairer: atelier-dupont}}
    - {{carrier: colis-express}}
  rules:
    - name: workshop-case-opened
      when: {{type: case_status, status: created, service: [workshop_repair]}}
      send: [{{to: carrier, message: pickup, leg: to_repairer}}]
    - name: news
      when: {{type: case_status}}
      notify_retailer: true
webhooks:
  - {{retailer: maison-electro, url: "{receiver.url}/hooks/hub", secret_env: TEST_WEBHOOK_SECRET}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def network(
    tmp_path: Path,
    receiver: Receiver,
    carrier: ColisExpressSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Network:
    monkeypatch.setenv("TEST_CE_TOKEN", "ce-token")
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    path = write_network(tmp_path / "connectors.yaml", receiver, carrier, list(PARTIES))
    return open_network(path)


@dataclass
class Hub:
    database: Database
    network: Network
    client: httpx.Client
    me: Tenant
    bm: Tenant
    dispatcher: Dispatcher

    def post(self, document: dict[str, Any], tenant: Tenant | None = None) -> httpx.Response:
        return self.client.post("/v1/cases", json=document, headers=(tenant or self.me).headers)

    def patch(
        self, reference: str, body: dict[str, Any], tenant: Tenant | None = None
    ) -> httpx.Response:
        headers = {**(tenant or self.me).headers, "Content-Type": "application/merge-patch+json"}
        return self.client.patch(f"/v1/cases/{reference}", json=body, headers=headers)

    def get(self, reference: str, tenant: Tenant | None = None) -> httpx.Response:
        return self.client.get(f"/v1/cases/{reference}", headers=(tenant or self.me).headers)


@pytest.fixture
def hub(database: Database, network: Network) -> Iterator[Hub]:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    me = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    bm = make_tenant(database, "bricomarket", "BricoMarket", "BM-")
    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row),
        owner="test",
        max_attempts=2,
        on_dead=tell_retailer_of_failures(network.config),
    )
    with serving(create_app(database, network)) as url, httpx.Client(base_url=url) as client:
        yield Hub(database, network, client, me, bm, dispatcher)


def test_the_openapi_example_opens_and_a_case_without_an_address_is_a_422_naming_field_and_partner(
    hub: Hub,
) -> None:
    bare = case_json("ME-000124")  # the customer has a name and a phone, no address
    refused = hub.post(bare)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["detail"].startswith("case ME-000124 cannot be worked by its partners")
    named = {(error["field"], error["needed_by"]) for error in problem["errors"]}
    assert ("customer.address.line1", "colis-express") in named
    assert ("customer.address.postcode", "colis-express") in named
    assert "pickup message (carrier-pickups)" in problem["errors"][0]["message"]
    assert hub.get("ME-000124").status_code == 404, "nothing was stored"

    assert hub.post(EXAMPLE_CASE).status_code == 201
    assert (
        hub.post(case_json("ME-000124", customer={"name": "J M", "address": ADDRESS})).status_code
        == 201
    )


def test_the_csv_import_rejects_the_row_naming_the_field_and_the_partner(hub: Hub) -> None:
    header = "reference,brand,model,coverage,service,fault,customer_name,opened_at"
    row = "ME-000300,Seb,Actifry,legal_conformity,workshop_repair,Ne chauffe plus,J M,"
    content = f"{header}\n{row}2026-11-01T10:00:00+01:00\n".encode()
    answer = hub.client.post(
        "/v1/cases/import",
        files={"file": ("cases.csv", content, "text/csv")},
        headers=hub.me.headers,
    )
    assert answer.status_code == 200, answer.text
    [outcome] = answer.json()["rows"]
    assert outcome["outcome"] == "rejected"
    assert "customer.address.line1 is required: colis-express needs it" in outcome["reason"]
    assert hub.get("ME-000300").status_code == 404


def test_a_refused_address_is_told_to_the_retailer_corrected_resent_and_fixed(
    hub: Hub, carrier: ColisExpressSimulator, receiver: Receiver
) -> None:
    typo = {**ADDRESS, "postcode": "6903"}  # a digit short: the carrier refuses it
    opened = hub.post(case_json("ME-000123", customer={"name": "Julie Martin", "address": typo}))
    assert opened.status_code == 201, opened.text
    first = hub.dispatcher.run_until_idle()
    assert first.dead == 1
    assert carrier.received_pickups == []

    [told] = receiver.of_type("case.message_failed")
    assert MessageFailedPayload.model_validate(told).case_reference == "ME-000123"  # documented
    assert (told["partner"], told["message"]) == ("colis-express", "pickup")
    assert "400" in told["error"]
    view = hub.get("ME-000123").json()
    [dead] = view["dead_letters"]
    assert (dead["id"], dead["state"], dead["partner"]) == (
        told["failure_id"],
        "dead",
        "colis-express",
    )
    assert dead["attempts"] == 1
    assert dead["resent_at"] is None

    # Posting again cannot fix it (another content is a conflict); correcting can.
    fixed_address = {"customer": {"address": {"postcode": "69003"}}}
    assert (
        hub.post(case_json("ME-000123", customer={"name": "J", "address": ADDRESS})).status_code
        == 409
    )
    corrected = hub.patch("ME-000123", fixed_address)
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert body["case"]["customer"]["address"] == {**ADDRESS, "line2": None, "country": "FR"}
    assert body["case"]["customer"]["name"] == "Julie Martin", "what the patch leaves out is kept"
    [resent] = body["dead_letters"]
    assert (resent["state"], resent["resent_by"]) == ("resent", "correction")

    second = hub.dispatcher.run_until_idle()
    assert second.dead == 0
    [pickup] = carrier.received_pickups
    assert pickup.sender["postcode"] == "69003", "rendered from the corrected case"
    [fixed] = hub.get("ME-000123").json()["dead_letters"]
    assert fixed["state"] == "fixed"
    assert fixed["fixed_at"] is not None
    assert fixed["error"] == dead["error"], "the failure is kept after the fix"

    timeline = hub.client.get("/v1/cases/ME-000123/timeline", headers=hub.me.headers).json()
    [event] = [e for e in timeline["events"] if e["type"] == "case_record"]
    assert (event["status"], event["reported_by"]) == ("corrected", "maison-electro")
    assert event["raw_label"] == "changed: customer.address"
    assert "69003" not in str(event), "the event names fields, never their values"

    again = hub.patch("ME-000123", fixed_address)
    assert again.status_code == 200
    timeline = hub.client.get("/v1/cases/ME-000123/timeline", headers=hub.me.headers).json()
    assert len([e for e in timeline["events"] if e["type"] == "case_record"]) == 1
    assert hub.dispatcher.run_until_idle().claimed == 0, "nothing sent twice"
    assert len(carrier.received_pickups) == 1


def test_a_correction_is_the_tenants_own_only_its_contact_and_checked_like_a_new_case(
    hub: Hub,
) -> None:
    customer = {"name": "Julie Martin", "address": ADDRESS}
    assert hub.post(case_json("ME-000123", customer=customer)).status_code == 201
    foreign = hub.patch("ME-000123", {"customer": {"phone": "+33600000000"}}, tenant=hub.bm)
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == "no case ME-000123"
    assert hub.patch("ME-000999", {"customer": {"phone": "+33600000000"}}).status_code == 404

    product = hub.patch("ME-000123", {"customer": {}, "product": {"brand": "Moulinex"}})
    assert product.status_code == 422
    assert product.json()["errors"][0]["field"] == "product"
    bad_phone = hub.patch("ME-000123", {"customer": {"phone": "call me"}})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["errors"][0]["field"] == "customer.phone"

    removed = hub.patch("ME-000123", {"customer": {"address": None}})
    assert removed.status_code == 422
    named = {(e["field"], e["needed_by"]) for e in removed.json()["errors"]}
    assert ("customer.address.line1", "colis-express") in named
    assert hub.get("ME-000123").json()["case"]["customer"]["address"]["line1"] == ADDRESS["line1"]

    contact = hub.patch("ME-000123", {"customer": {"phone": "+33611223344", "email": "j@ex.fr"}})
    assert contact.status_code == 200
    assert contact.json()["case"]["customer"]["phone"] == "+33611223344"
    timeline = hub.client.get("/v1/cases/ME-000123/timeline", headers=hub.me.headers).json()
    [event] = [e for e in timeline["events"] if e["type"] == "case_record"]
    assert event["raw_label"] == "changed: customer.phone, customer.email"


def test_a_partner_profile_without_an_address_is_found_by_the_check_and_named_in_the_422(
    tmp_path: Path, hub: Hub, receiver: Receiver, carrier: ColisExpressSimulator
) -> None:
    """The workshop's address is where the carrier delivers: only the operator can add it,
    and the retailer is told so rather than to fix its case."""
    parties = [
        party.model_copy(update={"address": None}) if party.id == "atelier-dupont" else party
        for party in PARTIES
    ]
    path = write_network(tmp_path / "homeless.yaml", receiver, carrier, parties)
    expected = (
        "partner atelier-dupont's profile has no address.line1: colis-express needs it for its "
        "pickup message (carrier-pickups); add it to the party"
    )
    assert expected in profile_needs(open_network(path))
    checked = run("connectors", "check", "--network", str(path), cwd=tmp_path)
    assert checked.returncode == 1
    assert expected in " ".join(checked.stderr.split())
    started = run("up", "--network", str(path), cwd=tmp_path)
    assert started.returncode == 0, "a warning at startup, not a refusal"
    assert expected in " ".join(started.stderr.split())

    with serving(create_app(hub.database, open_network(path))) as url:
        answer = httpx.post(
            f"{url}/v1/cases",
            json=case_json("ME-000500", customer={"name": "J M", "address": ADDRESS}),
            headers=hub.me.headers,
        )
    assert answer.status_code == 422
    [first, *_] = answer.json()["errors"]
    assert (first["field"], first["needed_by"]) == ("partner", "colis-express")
    assert "the hub's operator must add it" in first["message"]


def test_the_openapi_example_is_a_case_the_shipped_network_can_work(database: Database) -> None:
    """Against connectors.yaml as shipped: the example needs nothing more, and the same
    case without the customer's address lacks what the carrier needs."""
    register_network(database)
    shipped = open_network(ROOT / "connectors.yaml")
    example = Case.model_validate(EXAMPLE_CASE)
    without_address = example.model_copy(
        update={"customer": example.customer.model_copy(update={"address": None})}
    )
    with database.transaction() as connection:
        assert route_needs(connection, shipped, example) == []
        missing = route_needs(connection, shipped, without_address)
    assert {(item.field, item.needed_by) for item in missing} >= {
        ("customer.address.line1", "colis-express")
    }
    assert {item.holder for item in missing} == {"case"}


def test_the_drop_folder_rejects_a_row_its_partners_could_not_work(
    tmp_path: Path, hub: Hub, receiver: Receiver, carrier: ColisExpressSimulator
) -> None:
    """The scheduled import checks each row's route like the API: a row without the
    customer's address is rejected with the sentence, the next row opens its case."""
    drop = tmp_path / "drop"
    drop.mkdir()
    path = write_network(tmp_path / "dropping.yaml", receiver, carrier, list(PARTIES))
    with path.open("a", encoding="utf-8") as file:
        file.write(
            f"""case_imports:
  - name: me-nightly
    retailer: maison-electro
    transport: {{type: local-dir, path: "{drop}", pattern: "CASES_*.csv",
                 archive_dir: "{drop / "done"}"}}
"""
        )
    header = "reference,brand,model,coverage,service,fault,customer_name,opened_at,"
    header += "address_line1,postcode,city"
    common = "Seb,Actifry,legal_conformity,workshop_repair,Ne chauffe plus,J M"
    opened = "2026-11-01T10:00:00+01:00"
    (drop / "CASES_20261104.csv").write_text(
        f"{header}\nME-000301,{common},{opened},,,\n"
        f"ME-000302,{common},{opened},4 rue des Lilas,69003,Lyon\n",
        encoding="utf-8",
    )
    with BootstrapHub(hub.database, open_network(path), owner="test") as process:
        report = process.jobs.run("me-nightly")
    assert report is not None
    assert report.error is None
    assert (report.counts.rejected, report.counts.events_stored) == (1, 1)
    assert hub.get("ME-000301").status_code == 404
    assert hub.get("ME-000302").status_code == 200
    with hub.database.transaction() as connection:
        [kept] = recent_rejects(connection, "me-nightly", limit=10)
    assert "customer.address.line1 is required: colis-express needs it" in kept.reason


def test_a_retailers_own_endpoint_that_asked_for_failures_is_told_of_them(
    hub: Hub, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint registered through the API for `case.message_failed` only gets the
    failure, signed with its own secret, and none of the case's events."""
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("HUB_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    created = hub.client.post(
        "/v1/webhook-endpoints",
        json={"url": f"{receiver.url}/hooks/own", "event_types": ["case.message_failed"]},
        headers=hub.me.headers,
    )
    assert created.status_code == 201, created.text
    typo = {**ADDRESS, "postcode": "6903"}
    opened = hub.post(case_json("ME-000123", customer={"name": "Julie Martin", "address": typo}))
    assert opened.status_code == 201, opened.text
    assert hub.dispatcher.run_until_idle().dead == 1
    hub.dispatcher.run_until_idle()  # the failure's webhooks, queued when it went dead

    verifier = Webhook(created.json()["secret"])
    told = [verifier.verify(body, headers) for body, headers in receiver.own]
    assert [payload["type"] for payload in told] == ["case.message_failed"]
    assert MessageFailedPayload.model_validate(told[0]).partner == "colis-express"
    assert receiver.of_type("case.message_failed"), "the configured webhook is told too"
