"""Parsing a chunk ahead in a thread while the current one is stored: the same events,
rejects and outcome as one thread, errors from either side raised as they were, nothing
stored when a message fails midway, and no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import hub.partners.ingest.message
from hub.errors import PartnerDataError
from hub.model.event import Event
from hub.partners.connectors import open_network
from hub.partners.ingest.ahead import ChunksAhead
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Connection, Database
from hub.store.tables import events, inbound_messages, raw_messages, rejects
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
WORKER = "hub-parse-ahead"
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)


def _workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == WORKER]


def _counted(numbers: Iterator[int], taken: list[int]) -> Iterator[int]:
    for number in numbers:
        taken.append(number)
        yield number


def test_chunks_come_in_order_each_item_once() -> None:
    with ChunksAhead(iter(range(10)), 3) as chunks:
        assert list(chunks) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert _workers() == []


def test_a_message_of_one_chunk_starts_no_thread() -> None:
    seen: list[str] = []

    def items() -> Iterator[int]:
        for number in range(3):
            seen.append(threading.current_thread().name)
            yield number

    with ChunksAhead(items(), 3) as chunks:
        assert list(chunks) == [[0, 1, 2]]
    assert WORKER not in seen


def test_without_ahead_every_chunk_is_read_by_the_caller() -> None:
    seen: list[str] = []

    def items() -> Iterator[int]:
        for number in range(7):
            seen.append(threading.current_thread().name)
            yield number

    with ChunksAhead(items(), 2, ahead=False) as chunks:
        assert [len(chunk) for chunk in chunks] == [2, 2, 2, 1]
    assert set(seen) == {threading.current_thread().name}


def test_the_worker_stays_one_chunk_ahead_at_most() -> None:
    """Memory stays flat: while the caller holds a chunk, at most two more are read."""
    taken: list[int] = []
    with ChunksAhead(_counted(iter(range(1000)), taken), 10) as chunks:
        for number, chunk in enumerate(chunks):
            if number == 2:
                for _ in range(100):  # let the worker run as far as it may
                    if len(taken) >= 50:
                        break
                    threading.Event().wait(0.01)
                assert len(taken) <= (number + 3) * 10
            assert chunk == list(range(number * 10, number * 10 + 10))
    assert _workers() == []


def test_an_error_while_parsing_ahead_is_raised_in_the_caller_after_the_chunks_before_it() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise LookupError("broken codec")

    got: list[list[int]] = []
    with pytest.raises(LookupError, match="broken codec"), ChunksAhead(items(), 2) as chunks:
        got.extend(chunks)
    assert got == [[0, 1], [2, 3]]
    assert _workers() == []


def test_leaving_early_stops_the_worker() -> None:
    taken: list[int] = []

    def store_first_chunk() -> None:
        with ChunksAhead(_counted(iter(range(10**6)), taken), 5) as chunks:
            for _chunk in chunks:
                raise RuntimeError("the store failed")

    with pytest.raises(RuntimeError, match="the store failed"):
        store_first_chunk()
    assert _workers() == []
    assert len(taken) <= 20  # the caller's chunk, one queued, one being parsed


# --- through ingest_message, the worker thread used on either database -----------------


def _lines(count: int) -> bytes:
    rows = [
        f"AD-{n % 3};ME-00012{n % 3};03/11/2026;{n // 60:02d}:{n % 60:02d};REC;Reçu {n};;;;"
        if n % 7 != 6
        else f"AD-{n % 3};ME-00012{n % 3};31/02/2026;10:00;REC"  # a bad row: rejected
        for n in range(count)
    ]
    return (HEADER + "".join(row + "\r\n" for row in rows)).encode("latin-1")


@dataclass(frozen=True)
class _Watched(InboundPipeline):
    """The real pipeline, noting which thread parsed each item, failing after ``fail_after``
    items when asked (a codec's bug, not bad data)."""

    threads: list[str] | None = None
    fail_after: int | None = None

    def parse(
        self, content: bytes, *, source: str, recorded_at: datetime
    ) -> Iterator[Event | PartnerDataError]:
        for number, item in enumerate(
            super().parse(content, source=source, recorded_at=recorded_at)
        ):
            if self.fail_after is not None and number == self.fail_after:
                raise LookupError("a codec's bug")
            if self.threads is not None:
                self.threads.append(threading.current_thread().name)
            yield item


@pytest.fixture
def ahead(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Chunks of four items, the worker used on SQLite too."""
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 4)
    monkeypatch.setattr(Database, "works_apart", property(lambda _self: True))
    register_network(database)
    with database.transaction() as connection:
        for number in range(3):
            open_case(connection, make_case(f"ME-00012{number}"))
    return database


def _pipeline(*, threads: list[str] | None = None, fail_after: int | None = None) -> _Watched:
    real = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    return _Watched(real.codec, real.mapping, threads, fail_after)


def _stored(database: Database) -> tuple[int, int, int, int]:
    with database.transaction() as connection:
        return (
            connection.execute(
                select(func.count()).select_from(events).where(events.c.message_id.is_not(None))
            ).scalar_one(),
            connection.execute(select(func.count()).select_from(rejects)).scalar_one(),
            connection.execute(select(func.count()).select_from(inbound_messages)).scalar_one(),
            connection.execute(select(func.count()).select_from(raw_messages)).scalar_one(),
        )


def test_a_message_parsed_ahead_stores_what_one_thread_stores(ahead: Database) -> None:
    threads: list[str] = []
    content = _lines(30)
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    outcome = ingest_message(ahead, "atelier-dupont-status", _pipeline(threads=threads), message)
    assert WORKER in threads  # the rows after the first chunk were parsed ahead
    assert threads[:4] == [threading.current_thread().name] * 4
    counts = outcome.counts
    assert (counts.records_read, counts.events_stored, counts.rejected) == (30, 26, 4)
    assert [problem.location.line for problem in outcome.rejects] == [8, 15, 22, 29]
    assert _stored(ahead) == (26, 4, 1, 1)
    with ahead.transaction() as connection:
        labels = connection.execute(
            select(events.c.raw_label)
            .where(events.c.message_id.is_not(None))
            .order_by(events.c.seq)
        ).scalars()
        assert list(labels) == [f"Reçu {n}" for n in range(30) if n % 7 != 6]
    assert _workers() == []


def test_a_codec_failing_midway_stores_nothing_but_the_archive(ahead: Database) -> None:
    content = _lines(30)
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    with pytest.raises(LookupError, match="a codec's bug"):
        ingest_message(ahead, "atelier-dupont-status", _pipeline(fail_after=17), message)
    assert _stored(ahead) == (0, 0, 0, 1)
    assert _workers() == []
    # Read again once the codec is mended: everything stored, once.
    outcome = ingest_message(ahead, "atelier-dupont-status", _pipeline(), message)
    assert (outcome.skipped, outcome.counts.events_stored) == (False, 26)
    assert _stored(ahead) == (26, 4, 1, 1)


def test_the_store_failing_midway_stores_nothing_but_the_archive(ahead: Database) -> None:
    content = _lines(30)
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    calls: list[int] = []

    def on_stored(_connection: Connection, stored: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("the sync rules' store went away")

    with pytest.raises(OSError, match="went away"):
        ingest_message(ahead, "atelier-dupont-status", _pipeline(), message, on_stored=on_stored)
    assert _stored(ahead) == (0, 0, 0, 1)
    assert _workers() == []
