"""Rendering and delivering to every partner, over real SFTP and real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.transports.local_dir import LocalDirTransport
from hub.errors import ConfigurationError, OutboundNameTaken
from hub.partners.conformance import sample_contexts
from hub.partners.connectors import open_network
from hub.partners.outbound import FILE_DELIVERED, deliver, render, render_and_deliver
from simulators.colis_express import ColisExpressSimulator
from simulators.sftp import ClientKey, SftpServer
from simulators.techniservice.app import TechniServiceSimulator
from tests.network_files import PARTIES, ROOT, network_head, sftp_options

CONTEXTS = {c["case"].reference: c for c in sample_contexts(ROOT / "fixtures" / "cases", PARTIES)}
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def sftp(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    (root / "in").mkdir(parents=True)
    (root / "orders" / "in").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as server:
        yield server


@pytest.fixture
def partners() -> Iterator[tuple[TechniServiceSimulator, ColisExpressSimulator]]:
    with (
        TechniServiceSimulator(api_key="ts-key", rate_limit=None) as repairer,
        ColisExpressSimulator(token="ce-token", rate_limit=None) as carrier,
    ):
        yield repairer, carrier


def network(
    tmp_path: Path,
    sftp: SftpServer,
    repairer: TechniServiceSimulator,
    carrier: ColisExpressSimulator,
) -> Path:
    mappings = ROOT / "mappings"
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
{network_head()}connectors:
  - name: workshop-orders
    partner: atelier-dupont
    mapping: {mappings / "atelier-dupont.yaml"}
    message: repair_order
    transport: {{{sftp_options(sftp.port, sftp.host_key_fingerprint, "TEST_SFTP_KEY")},
      remote_dir: /in, outbound_dir: /in, upload_suffix: .tmp}}
  - name: supplier-orders
    partner: pieces-plus
    mapping: {mappings / "pieces-plus.yaml"}
    message: purchase_order
    transport: {{{sftp_options(sftp.port, sftp.host_key_fingerprint, "TEST_SFTP_KEY")},
      remote_dir: /orders/in, outbound_dir: /orders/in, upload_suffix: .part}}
  - name: repairer-orders
    partner: techniservice
    mapping: {mappings / "techniservice.yaml"}
    message: repair_order
    transport: {{type: http-post, base_url: "{repairer.base_url}", post_path: /repairs,
      content_type: application/xml, header_env: {{X-Api-Key: TEST_TS_KEY}},
      conflict_is_success: true}}
  - name: carrier-pickups
    partner: colis-express
    mapping: {mappings / "colis-express.yaml"}
    message: pickup
    transport: {{type: http-post, base_url: "{carrier.base_url}", post_path: /v1/pickups,
      content_type: application/json, bearer_token_env: TEST_CE_TOKEN,
      idempotent_ok_status: 200}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def connectors(
    tmp_path: Path,
    sftp: SftpServer,
    partners: tuple[TechniServiceSimulator, ColisExpressSimulator],
    client_key: ClientKey,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    monkeypatch.setenv("TEST_SFTP_KEY", client_key.private_openssh)
    monkeypatch.setenv("TEST_TS_KEY", "ts-key")
    monkeypatch.setenv("TEST_CE_TOKEN", "ce-token")
    return open_network(network(tmp_path, sftp, *partners))


def test_repair_orders_are_written_to_the_workshop_then_renamed(
    connectors: Any, sftp: SftpServer
) -> None:
    workshop = connectors.connector("workshop-orders")
    cases = [CONTEXTS["ME-000123"], CONTEXTS["BM-000045"]]
    message = render(workshop, cases, identifier="batch-1", now=NOW)
    receipt = deliver(workshop, message)
    assert receipt.status == FILE_DELIVERED
    assert message.name == "ORDRES_20261105_120000.csv"
    written = sftp.path("/in") / message.name
    assert written.read_bytes() == message.content
    assert "Réf. client".encode("latin-1") in message.content, "the workshop reads Latin-1"
    assert not list(sftp.path("/in").glob("*.tmp"))
    renames = [op for op in sftp.ops if op.kind in ("rename", "posix_rename")]
    assert renames
    assert renames[-1].path.endswith(".tmp")


def test_two_orders_in_one_second_never_overwrite_each_other(
    connectors: Any, sftp: SftpServer
) -> None:
    workshop = connectors.connector("workshop-orders")
    first = render(workshop, [CONTEXTS["ME-000123"]], identifier="one", now=NOW)
    second = render(workshop, [CONTEXTS["BM-000045"]], identifier="two", now=NOW)
    assert first.name == second.name, "the sheet names order files to the second"
    deliver(workshop, first)
    with pytest.raises(OutboundNameTaken, match="not overwritten"):
        deliver(workshop, second)
    assert (sftp.path("/in") / first.name).read_bytes() == first.content
    assert not list(sftp.path("/in").glob("*.tmp")), "the refused upload left nothing behind"
    # Delivered through the outbox's path, it takes the next second's name instead.
    render_and_deliver(workshop, [CONTEXTS["BM-000045"]], identifier="two", now=NOW)
    render_and_deliver(workshop, [CONTEXTS["ME-000130"]], identifier="three", now=NOW)
    assert sorted(path.name for path in sftp.path("/in").iterdir()) == [
        "ORDRES_20261105_120000.csv",
        "ORDRES_20261105_120001.csv",
        "ORDRES_20261105_120002.csv",
    ]
    assert b"BM-000045" in (sftp.path("/in") / "ORDRES_20261105_120001.csv").read_bytes()


def test_a_taken_name_that_does_not_move_with_time_is_left_to_the_outbox(
    connectors: Any, sftp: SftpServer
) -> None:
    supplier = connectors.connector("supplier-orders")
    render_and_deliver(supplier, [CONTEXTS["ME-000123"]], identifier="00000017", now=NOW)
    with pytest.raises(OutboundNameTaken):
        render_and_deliver(supplier, [CONTEXTS["ME-000130"]], identifier="00000017", now=NOW)


def test_a_local_folder_never_overwrites_a_file_either(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    folder = LocalDirTransport(tmp_path / "in", pattern="*")
    folder.put("ORDRES_20261105_120000.csv", b"first")
    with pytest.raises(OutboundNameTaken):
        folder.put("ORDRES_20261105_120000.csv", b"second")
    assert (tmp_path / "in" / "ORDRES_20261105_120000.csv").read_bytes() == b"first"
    assert [path.name for path in (tmp_path / "in").iterdir()] == ["ORDRES_20261105_120000.csv"]


def test_a_purchase_order_lands_as_one_file_written_with_part_first(
    connectors: Any, sftp: SftpServer
) -> None:
    supplier = connectors.connector("supplier-orders")
    message = render(supplier, [CONTEXTS["ME-000123"]], identifier="00000017", now=NOW)
    deliver(supplier, message)
    written = sftp.path("/orders/in") / "PO_PO-00000017.xml"
    assert written.read_bytes() == message.content
    assert b'<Line no="2" sku="PP-45001" qty="2"/>' in message.content
    assert any(op.path.endswith(".part") for op in sftp.ops)
    with pytest.raises(ConfigurationError, match="holds one record"):
        render(supplier, list(CONTEXTS.values()), identifier="x", now=NOW)


def test_a_repair_order_posted_twice_is_one_order_at_the_repairer(
    connectors: Any, partners: tuple[TechniServiceSimulator, ColisExpressSimulator]
) -> None:
    repairer, _ = partners
    orders = connectors.connector("repairer-orders")
    message = render(orders, [CONTEXTS["ME-000130"]], identifier="ME-000130", now=NOW)
    first = deliver(orders, message)
    again = deliver(orders, message)
    assert (first.status, first.already_known) == (201, False)
    assert (again.status, again.already_known) == (409, True)
    assert len(repairer.received_orders) == 1
    assert b"TS-" in first.body


def test_a_pickup_ordered_twice_is_one_parcel(
    connectors: Any, partners: tuple[TechniServiceSimulator, ColisExpressSimulator]
) -> None:
    _, carrier = partners
    pickups = connectors.connector("carrier-pickups")
    message = render(pickups, [CONTEXTS["ME-000123"]], identifier="ME-000123-in", now=NOW)
    first = deliver(pickups, message)
    again = deliver(pickups, message)
    assert (first.status, again.status, again.already_known) == (201, 200, True)
    tracking = json.loads(first.body)["tracking_number"]
    assert json.loads(again.body)["tracking_number"] == tracking
    assert len(carrier.received_pickups) == 1
