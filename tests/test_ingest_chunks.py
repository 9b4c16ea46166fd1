"""A message stored in several chunks keeps its cases' heads from one chunk to the next
(issue 17, eleventh pass): the statuses and stamps are what reading them again gave."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

import hub.partners.ingest.message
import hub.store.events
from hub.model.event import Event
from hub.model.timeline import event_order_key
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events, events_of_case
from hub.store.tables import cases
from tests.factories import case_event, make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)
NOW = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
LINES = [
    # chunk 1: the first case moves twice
    "AD-1;ME-000123;03/11/2026;09:00;REC;Reçu;;;;",
    "AD-1;ME-000123;03/11/2026;10:00;DIA;Diagnostic;;;;",
    # chunk 2: an earlier event of the first case (no move), the second case moves
    "AD-1;ME-000123;03/11/2026;08:00;REC;Reçu;;;;",
    "AD-2;ME-000124;03/11/2026;12:00;REC;Reçu;;;;",
    # chunk 3: the first case moves again, the second gets an earlier event
    "AD-1;ME-000123;03/11/2026;11:00;REP;Réparation;;;;",
    "AD-2;ME-000124;03/11/2026;07:00;REC;Reçu;;;;",
]


def _ingest(database: Database, lines: list[str], **options: Any) -> None:
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("latin-1")
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    outcome = ingest_message(
        database, "atelier-dupont-status", pipeline, message, now=NOW, **options
    )
    assert outcome.counts.rejected == 0
    assert outcome.counts.events_stored == len(lines)


def _open_two_cases(database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
        open_case(connection, make_case("ME-000124"))


def _head(database: Database, reference: str) -> tuple[Any, ...]:
    """The case's status, the event that set it, and its stamp; and the event its
    stored timeline says should have set it (the latest case status in timeline order)."""
    with database.transaction() as connection:
        row = connection.execute(
            select(cases.c.id, cases.c.status, cases.c.status_event_id, cases.c.updated_at).where(
                cases.c.reference == reference
            )
        ).one()
        timeline = [e for e in events_of_case(connection, row.id) if e.status is not None]
    latest = max(timeline, key=event_order_key)
    return row.status, row.status_event_id, row.updated_at, latest.status, latest.id


@pytest.mark.parametrize("chunk", [2, 10_000], ids=["three-chunks", "one-chunk"])
def test_a_message_in_chunks_leaves_each_case_at_its_latest_status(
    database: Database, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", chunk)
    _open_two_cases(database)
    _ingest(database, LINES)
    for reference in ("ME-000123", "ME-000124"):
        status, event_id, updated_at, expected_status, expected_id = _head(database, reference)
        assert (status, event_id) == (expected_status, expected_id)
        assert updated_at == NOW
    assert _head(database, "ME-000123")[0] == "in_repair"


def test_a_case_is_updated_again_only_when_its_status_moves_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cases' updates of each chunk, by case: a case stamped at this message's
    instant already, that does not move, is not written again."""
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 2)
    _open_two_cases(database)
    with database.transaction() as connection:
        rows = connection.execute(select(cases.c.id, cases.c.reference)).all()
    names: dict[int, str] = {case_id: reference for case_id, reference in rows}
    written: list[list[tuple[str, str | None]]] = []
    run = hub.store.events._MOVE_ON_DRIVER.execute_many

    def counted(connection: Connection, values: Sequence[dict[str, Any]]) -> None:
        written.append([(names[row["case_id"]], row["new_status"]) for row in values])
        run(connection, values)

    monkeypatch.setattr(hub.store.events._MOVE_ON_DRIVER, "execute_many", counted)
    _ingest(database, LINES)
    assert written == [
        [("ME-000123", "diagnosing")],
        [("ME-000124", "received")],  # the first case stamped already
        [("ME-000123", "in_repair")],  # the second: stamped already, earlier event
    ]


def test_a_case_the_sync_rules_moved_between_chunks_is_read_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync rules run after each chunk and may append events of their own: what the
    earlier chunks kept is forgotten, and a later chunk's event that sorts before the
    rules' event does not move the case back."""
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 2)
    _open_two_cases(database)
    caused = case_event("closed", datetime(2026, 11, 3, 13, 0, tzinfo=UTC), by="hub")
    calls: list[int] = []

    def rules(connection: Connection, stored: Sequence[Event]) -> None:
        calls.append(len(stored))
        if len(calls) == 1:
            append_events(connection, [caused])

    _ingest(database, LINES, on_stored=rules)
    assert calls == [2, 2, 2]
    status, event_id, updated_at, expected_status, expected_id = _head(database, "ME-000123")
    assert (status, event_id) == ("closed", caused.id) == (expected_status, expected_id)
    assert updated_at == NOW  # later chunks stamped it again, as before
