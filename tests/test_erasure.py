"""Erasure of a customer's personal data (GDPR), the acceptance test of issue 18.

A case whose customer has a distinctive name, phone and address goes through the
network: opened by the retailer over the API, a repair order sent to the workshop with
her name and phone, a status file from the workshop quoting her (a stored line, a line
with an unknown code, a line the mapping refuses), a second repair order still waiting
in the outbox. The retailer asks for the erasure over HTTP; then every text, JSON and
binary column of every table (the raw archive decompressed, the feed's stored items) is
searched for her name, phone and street: nothing, nor in a feed page. The case's facts
stay; the message sent afterwards carries `[erased]`; asking again answers the same
record. Both databases.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, select

from hub.api.operator_auth import TOKEN_ENV
from hub.bootstrap import Hub
from hub.model.personal_data import ERASED, Eraser
from hub.partners.connectors import Network, open_network
from hub.retailers.feed import fill_feed_statuses
from hub.store.cases import case_state, get_case
from hub.store.db import Database
from hub.store.tables import metadata
from tests.api_support import Tenant, case_json, make_tenant, serving
from tests.factories import register_network

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "ME-770001"
WITNESS = "ME-770002"
SECOND = "ME-770003"
"""Her second case, whose repair order is still in the outbox when she asks."""
NAME = "Zéphyrine Quillebaüf"
PHONE = "+33 6 71 23 45 98"
STREET = "17 impasse des Hérons"
EMAIL = "zephyrine.q@example.org"
OPERATOR_TOKEN = "op-erasure-test-0123456789abcdef0123456789"

NEEDLES = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"z.{0,8}phyrine",  # é in any encoding or escape
        r"quilleba.{0,8}f",
        r"impasse\s+des\s+h.{0,8}rons",
        r"zephyrine\.q",
        r"0?6[\s.\-]?71[\s.\-]?23[\s.\-]?45[\s.\-]?98",
    )
]


def write_network(tmp_path: Path) -> Path:
    inbox, sent = tmp_path / "inbox", tmp_path / "sent"
    inbox.mkdir()
    sent.mkdir()
    mapping = ROOT / "mappings" / "atelier-dupont.yaml"
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: atelier-dupont, role: repairer, name: Atelier Dupont Réparation}}
connectors:
  - name: erasure-status
    partner: atelier-dupont
    mapping: {mapping}
    message: status
    transport: {{type: local-dir, path: "{inbox}", delete_acknowledged: true}}
  - name: erasure-orders
    partner: atelier-dupont
    mapping: {mapping}
    message: repair_order
    transport: {{type: local-dir, path: "{sent}", outbound_dir: "{sent}"}}
sync:
  routes:
    - {{service: workshop_repair, repairer: atelier-dupont}}
  rules:
    - name: order-on-opening
      when: {{type: case_status, status: created}}
      send: [{{to: repairer, message: repair_order}}]
""",
        encoding="utf-8",
    )
    return path


STATUS_FILE = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
    f"D-1;{REFERENCE};01/12/2026;09:00;REC;Reçu;"
    f"Déposé par QUILLEBAÜF Zéphyrine, {STREET.upper()}, tél 06.71.23.45.98;;;\r\n"
    f"D-1;{REFERENCE};01/12/2026;10:00;XYZ;Inconnu;rappeler {NAME} au 0671234598;;;\r\n"
    f"D-1;{REFERENCE};31/13/2026;10:00;DIA;Diag;{NAME} {EMAIL};;;\r\n"
    f"D-2;{WITNESS};01/12/2026;09:30;REC;Reçu;Déposé par Marcel Témoin;;;\r\n"
)


@pytest.fixture
def network(tmp_path: Path, database: Database) -> Network:
    register_network(database)
    return open_network(write_network(tmp_path))


@pytest.fixture
def tenant(database: Database, network: Network) -> Tenant:
    return make_tenant(database, "maison-electro", "Maison Électro", "ME-")


@pytest.fixture
def hub(database: Database, network: Network) -> Iterator[Hub]:
    with Hub(database, network, owner="erasure-test:1") as hub:
        yield hub


def traces(database: Database) -> list[str]:
    """Every table, column and row id where a needle is still found."""
    found: list[str] = []
    with database.transaction() as connection:
        for table in metadata.sorted_tables:
            columns = [
                column
                for column in table.columns
                if isinstance(column.type, String | Text | JSON | LargeBinary)
            ]
            if not columns:
                continue
            extra = [table.c.compression] if "compression" in table.c else []
            for row in connection.execute(select(*columns, *extra)):
                for column in columns:
                    value = getattr(row, column.name)
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        if getattr(row, "compression", "none") == "zlib":
                            raw = zlib.decompress(raw)
                        text = raw.decode("utf-8", errors="replace") + raw.decode("latin-1")
                    elif isinstance(value, str):
                        text = value
                    else:
                        text = json.dumps(value, ensure_ascii=False) + json.dumps(value)
                    for needle in NEEDLES:
                        if needle.search(text):
                            found.append(f"{table.name}.{column.name}: {needle.pattern}")
    return found


def feed_text(base: str, tenant: Tenant) -> str:
    """The retailer's whole feed, as served."""
    answer = httpx.get(f"{base}/v1/feed", params={"limit": 500}, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    assert not answer.json()["has_more"]
    return answer.text


def open_cases(base: str, tenant: Tenant) -> None:
    customer = {
        "name": NAME,
        "phone": PHONE,
        "email": EMAIL,
        "address": {"line1": STREET, "postcode": "69001", "city": "Lyon"},
    }
    fault = f"Ne chauffe plus; rappeler {NAME} au 06 71 23 45 98 après 18h"
    for reference, body in (
        (REFERENCE, case_json(REFERENCE, customer=customer, fault=fault)),
        (WITNESS, case_json(WITNESS, customer={"name": "Marcel Témoin"})),
    ):
        answer = httpx.post(f"{base}/v1/cases", json=body, headers=tenant.headers)
        assert answer.status_code == 201, (reference, answer.text)


def open_second_case(base: str, tenant: Tenant) -> None:
    customer = {"name": NAME, "phone": PHONE}
    body = case_json(SECOND, customer=customer, product={"brand": "Moulinex", "model": "X"})
    answer = httpx.post(f"{base}/v1/cases", json=body, headers=tenant.headers)
    assert answer.status_code == 201, answer.text


def test_an_erased_case_leaves_no_trace_in_any_table_or_archive(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    hub: Hub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN)
    with serving(hub.app()) as base:
        open_cases(base, tenant)
        sent = hub.jobs.dispatch()
        assert sent.delivered >= 2, sent
        orders = list((tmp_path / "sent").iterdir())
        assert any(NAME in path.read_text(encoding="latin-1") for path in orders), (
            "the repair order carried her name"
        )
        (tmp_path / "inbox" / "STATUTS_20261201_1000.csv").write_bytes(
            STATUS_FILE.encode("latin-1")
        )
        report = hub.jobs.run("erasure-status")
        assert report is not None
        assert report.error is None, report
        assert report.counts.rejected == 1, report.counts
        assert report.counts.unmapped == 1, report.counts
        open_second_case(base, tenant)
        assert fill_feed_statuses(database, pause=False) > 0
        assert "feed_entries.item_json" in " ".join(traces(database)), (
            "the feed's stored items quote her"
        )
        assert any(needle.search(feed_text(base, tenant)) for needle in NEEDLES)
        assert traces(database), "before the erasure her data is all over the hub"
        before = case_state_of(database, REFERENCE)

        answer = httpx.post(f"{base}/v1/cases/{REFERENCE}/erasure", headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        erasure = answer.json()
        second = httpx.post(f"{base}/v1/cases/{SECOND}/erasure", headers=tenant.headers)
        assert second.status_code == 200, second.text
        assert erasure["requested_by"] == "retailer:maison-electro"
        assert erasure["completed_at"] is not None

        assert traces(database) == []
        page = feed_text(base, tenant)
        assert not any(needle.search(page) for needle in NEEDLES), page
        assert fill_feed_statuses(database, pause=False) > 0, "written again, masked"
        assert traces(database) == []
        assert feed_text(base, tenant) == page, "the same bytes, from the stored items"

        again = httpx.post(f"{base}/v1/cases/{REFERENCE}/erasure", headers=tenant.headers)
        assert again.json() == erasure, "idempotent: the same record"
        shown = httpx.get(f"{base}/v1/cases/{REFERENCE}/erasure", headers=tenant.headers)
        assert shown.json() == erasure
        case = httpx.get(f"{base}/v1/cases/{REFERENCE}", headers=tenant.headers)
        assert case.status_code == 200
        assert case.json()["status"] == "received", case.text
        witness = httpx.get(f"{base}/v1/cases/{WITNESS}/erasure", headers=tenant.headers)
        assert witness.status_code == 404, "the other case's data is whole"
        timeline = httpx.get(f"{base}/v1/cases/{REFERENCE}/timeline", headers=tenant.headers)
        assert timeline.status_code == 200
        erased_events = [e for e in timeline.json()["events"] if e["type"] == "case_record"]
        assert len(erased_events) == 1, timeline.text
        assert erased_events[0]["status"] == "personal_data_erased"
        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        console = httpx.get(f"{base}/console/cases/{REFERENCE}", headers=operator)
        assert console.status_code == 200
        assert "Personal data erased" in console.text
        assert "retailer:maison-electro" in console.text
        untouched = httpx.get(f"{base}/console/cases/{WITNESS}", headers=operator)
        assert "Personal data" not in untouched.text

    after = case_state_of(database, REFERENCE)
    erased = [entry for entry in after if entry[1] == "personal_data_erased"]
    assert len(erased) == 1, "the erasure is on the timeline, once"
    assert [entry for entry in after if entry not in erased] == before, "the facts stay"
    with database.transaction() as connection:
        record = get_case(connection, REFERENCE)
        other = get_case(connection, WITNESS)
    assert record is not None
    assert other is not None
    assert record.case.customer.model_dump(exclude_none=True) == {"name": ERASED}
    assert record.case.product.brand == "Seb"
    assert record.case.service == "workshop_repair"
    assert record.case.fault.startswith("Ne chauffe plus; rappeler ***")
    assert other.case.customer.name == "Marcel Témoin", "a witness case keeps its data"

    already = {path.name for path in (tmp_path / "sent").iterdir()}
    sent = hub.jobs.dispatch()
    assert sent.delivered == 1, "the order queued before the erasure goes now"
    new = [p for p in (tmp_path / "sent").iterdir() if p.name not in already]
    assert new, "a new order file"
    text = "".join(path.read_text(encoding="latin-1") for path in new)
    assert ERASED in text
    assert SECOND in text
    assert not any(needle.search(text) for needle in NEEDLES), text
    assert traces(database) == [], "and the hub still holds nothing of her"


def case_state_of(database: Database, reference: str) -> list[tuple[str, str | None, Any]]:
    with database.transaction() as connection:
        state = case_state(connection, reference)
    assert state.status is not None
    current = ("current status", state.status.value, state.status_at)
    return [current, *((e.id, e.status, e.occurred_at) for e in state.timeline)]


def test_the_eraser_reads_the_values_as_partners_write_them() -> None:
    from hub.model.case import CustomerContact

    eraser = Eraser(
        [
            CustomerContact.model_validate(
                {
                    "name": NAME,
                    "phone": PHONE,
                    "address": {"line1": STREET, "postcode": "69001", "city": "Lyon"},
                }
            )
        ]
    )
    for quoted in (
        "QUILLEBAÜF ZÉPHYRINE",
        "Zéphyrine   Quillebaüf",
        json.dumps(NAME),
        "Z&#233;phyrine Quilleba&#252;f",
        "06.71.23.45.98",
        "0033 6 71 23 45 98",
        "+33671234598",
        "17 IMPASSE DES HÉRONS",
    ):
        masked = eraser.text(quoted)
        assert not any(needle.search(masked) for needle in NEEDLES), (quoted, masked)
        assert len(masked) == len(quoted), "a fixed-width line keeps its columns"
    assert eraser.text("06 71 23 45 99 and 69001 Lyon") == "06 71 23 45 99 and 69001 Lyon"
    assert eraser.bytes(NAME.encode("latin-1")) == b"*" * len(NAME)


def test_an_operator_erases_from_the_command_line_and_cases_show_says_so(
    database: Database,
) -> None:
    from typer.testing import CliRunner

    from cli import app
    from hub.store.cases import open_case
    from tests.factories import make_case

    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case(REFERENCE, customer={"name": NAME, "phone": PHONE}))
    options = ["--database", database.url]
    lower = REFERENCE.lower()  # read whatever its letter case
    erased = CliRunner().invoke(app, ["cases", "erase", lower, "--by", "ticket-42", *options])
    assert erased.exit_code == 0, erased.output
    assert f"case {REFERENCE}: personal data erased" in erased.stdout
    again = CliRunner().invoke(app, ["cases", "erase", REFERENCE, "--by", "ticket-43", *options])
    assert "already erased" in again.stdout
    assert "operator:ticket-42" in again.stdout, "the first request is the one recorded"
    shown = CliRunner().invoke(app, ["cases", "show", REFERENCE, *options])
    assert shown.exit_code == 0, shown.output
    assert "personal data erased" in shown.stdout
    assert "by operator:ticket-42" in shown.stdout
    assert traces(database) == []
