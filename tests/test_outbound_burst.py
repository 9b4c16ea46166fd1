"""A burst of repair orders to a workshop whose file names are to the second.

Atelier Dupont's sheet names repair-order files ``ORDRES_YYYYMMDD_HHMMSS.csv`` with one
line per case. Before batching, each order was a file of its own, so more than one order
a second ran out of names and ended dead. Now the due orders of one connector go out
together as one file: 500 opened at once reach the workshop, each once, none dead.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.partners.connectors import Network, open_network
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.tables import outbox
from hub.sync.delivery import ConnectorBatches, deliver_any
from hub.sync.outbox import Dispatcher, OutboxState, dead_letters
from simulators.sftp import ClientKey, SftpServer
from tests.factories import make_case, register_network
from tests.network_files import ROOT, network_head, sftp_options

ORDERS = 500


@pytest.fixture
def workshop(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "atelier-dupont"
    (root / "in").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as server:
        yield server


@pytest.fixture
def network(
    tmp_path: Path, workshop: SftpServer, client_key: ClientKey, monkeypatch: pytest.MonkeyPatch
) -> Network:
    monkeypatch.setenv("BURST_SFTP_KEY", client_key.private_openssh)
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
{network_head()}connectors:
  - name: workshop-orders
    partner: atelier-dupont
    mapping: {ROOT / "mappings" / "atelier-dupont.yaml"}
    message: repair_order
    transport: {{{sftp_options(workshop.port, workshop.host_key_fingerprint, "BURST_SFTP_KEY")},
      remote_dir: /in, outbound_dir: /in, upload_suffix: .tmp}}
sync:
  routes:
    - {{service: workshop_repair, repairer: atelier-dupont}}
  rules:
    - name: workshop-case-opened
      when: {{type: case_status, status: created, service: [workshop_repair]}}
      send: [{{to: repairer, message: repair_order}}]
""",
        encoding="utf-8",
    )
    return open_network(path)


def _lines_at_the_workshop(workshop: SftpServer) -> tuple[Counter[str], int]:
    """Case references per line of every order file the workshop holds, and the files."""
    files = sorted(workshop.path("/in").glob("ORDRES_*.csv"))
    held: Counter[str] = Counter()
    for path in files:
        text = path.read_bytes().decode("latin-1")
        for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=";"):
            held[row["Réf. client"]] += 1
    return held, len(files)


def test_500_orders_queued_at_once_reach_the_workshop_each_once(
    database: Database, network: Network, workshop: SftpServer
) -> None:
    register_network(database)
    hook = network.sync_hook()
    references = [f"ME-{n:06d}" for n in range(1, ORDERS + 1)]
    with database.transaction() as connection:
        for reference in references:
            open_case(connection, make_case(reference), on_stored=hook)

    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row),
        owner="burst",
        together=ConnectorBatches(database, network),
    )
    result = dispatcher.run_until_idle()

    held, files = _lines_at_the_workshop(workshop)
    assert (result.delivered, result.dead) == (ORDERS, 0)
    assert dead_letters(database) == []
    assert held == Counter(references), "every case once, none twice, none lost"
    assert files < ORDERS, "orders due together share a file"
    assert not list(workshop.path("/in").glob("*.tmp"))
    with database.transaction() as connection:
        states = dict(
            connection.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()
        )
    assert states == {OutboxState.DELIVERED.value: ORDERS}
