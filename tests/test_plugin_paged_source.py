"""A paged source that is not the hub's keeps its cursor in the store, on both databases.

The transport is the example plugin's ``http-feed`` (examples/hub-example-adapters,
registered by its entry point with ``Capability.PAGED``); the partner is a loopback HTTP
feed of JSON pages, each holding its events and the next cursor. Every run goes through
``Hub.run_now``, the path of `hub run` and of the scheduler's jobs. What is shown:

- the cursor is in the database after a run, and a second hub (another process) on the
  same database continues from it: no page asked twice, none skipped;
- a partner failing on page 3, or the process dying after page 2 is stored, leaves the
  cursor at page 2's, and the next run asks for page 3 exactly once;
- a store failure while a page is appended rolls back its events and its cursor alike;
- while one hub reads the feed, another does not read it too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hub_example_adapters.feed import HttpFeedTransport

import hub.store.inbound
from hub.bootstrap import Hub
from hub.config.registry import adapter
from hub.errors import TransientError
from hub.partners.connectors import open_network
from hub.partners.ingest.report import RunReport
from hub.partners.supervisor import RunCrashed
from hub.ports import AdapterKind, Capability
from hub.store.connector_state import read_cursor
from hub.store.db import Database
from hub.store.events import count_events_by_reporter

PARTNER = "atelier-flux"
CONNECTOR = "atelier-flux-changes"
EVENTS_PER_PAGE = 2


def token(page: int) -> str:
    """The opaque cursor page ``page`` hands out: it asks for page ``page + 1``."""
    return f"tok-{page}"


@dataclass
class FeedPartner:
    """A partner's change feed: ``GET /feed`` is page 1, ``?cursor=tok-N`` page N+1.

    ``asked`` records every cursor asked for (None for the first page), ``failing`` the
    cursors to answer once with that status, ``holding`` a cursor whose answer waits
    until ``release`` is set (``asked_held`` says the request has arrived).
    """

    pages: int
    asked: list[str | None] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)
    holding: str | None = None
    asked_held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, cursor: str | None) -> tuple[int, bytes]:
        with self.lock:
            self.asked.append(cursor)
            status = self.failing.pop(cursor, None) if cursor is not None else None
        if status is not None:
            return status, b'{"error": "try again later"}'
        if cursor is not None and cursor == self.holding:
            self.asked_held.set()
            self.release.wait(timeout=30)
        number = 1 if cursor is None else int(cursor.removeprefix("tok-")) + 1
        if number > self.pages:  # nothing new since: the same cursor back, no more
            return 200, json.dumps({"events": [], "next": cursor, "more": False}).encode()
        events = [
            {
                "id": f"p{number}-e{index}",
                "dossier": f"AF-{number:03d}",
                "reference": f"CASE-{number:03d}",
                "date": f"2026-11-04 {8 + number:02d}:{10 * index:02d}",
                "code": "RECU" if index == 0 else "DIAG",
            }
            for index in range(EVENTS_PER_PAGE)
        ]
        document = {"events": events, "next": token(number), "more": number < self.pages}
        return 200, json.dumps(document).encode()


@pytest.fixture
def partner() -> Iterator[tuple[FeedPartner, str]]:
    """The feed served on a loopback port, and its first page's URL."""
    feed = FeedPartner(pages=3)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            status, body = feed.page(query.get("cursor", [None])[0])
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet: pytest shows what the assertions need

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed, f"http://127.0.0.1:{server.server_address[1]}/feed"
    finally:
        feed.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


MAPPING = """\
version: 1
partner: atelier-flux
description: A repairer's change feed, pages of JSON events with the next cursor.
timezone: Europe/Paris
messages:
  changes:
    direction: inbound
    codec:
      type: json
      record: "$.events[*]"
      fields: {id: $.id, dossier: $.dossier, reference: $.reference, date: $.date, code: $.code}
      document_fields: {next: $.next, more: $.more}
    event_type: case_status
    fields:
      partner_event_id: {column: id, required: true}
      partner_ref: {column: dossier, required: true}
      case_ref: {column: reference, required: true}
      occurred_at: {column: date, format: "%Y-%m-%d %H:%M", required: true}
      raw_code: {column: code, required: true}
    codes: {RECU: received, DIAG: diagnosing}
"""


@pytest.fixture
def network(tmp_path: Path, partner: tuple[FeedPartner, str]) -> Path:
    """connectors.yaml naming the plugin's transport, and the feed's mapping."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "atelier-flux.yaml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""\
version: 1
parties:
  - {{id: {PARTNER}, role: repairer, name: Atelier Flux}}
connectors:
  - name: {CONNECTOR}
    partner: {PARTNER}
    mapping: mappings/atelier-flux.yaml
    message: changes
    transport:
      type: http-feed
      package: hub-example-adapters
      url: {partner[1]}
    schedule: {{every: 5m}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def other_database(database: Database) -> Iterator[Database]:
    """The same database opened again, as another hub process would: its own engine."""
    other = Database(database.url)
    yield other
    other.dispose()


def hub_process(database: Database, network: Path, owner: str) -> Hub:
    """A hub as `hub run` or `hub serve` builds one: its own network, its own owner."""
    return Hub(database, open_network(network), owner=owner)


def run(hub: Hub) -> RunReport:
    with hub:
        report = hub.run_now(CONNECTOR)
    assert report is not None, "the lease was free"
    return report


def cursor(database: Database) -> str | None:
    with database.transaction() as connection:
        return read_cursor(connection, CONNECTOR)


def stored(database: Database) -> int:
    with database.transaction() as connection:
        return count_events_by_reporter(connection).get(PARTNER, 0)


def test_the_plugin_transport_is_a_paged_source(network: Path) -> None:
    found = adapter(AdapterKind.TRANSPORT, "http-feed")
    assert found.package == "hub-example-adapters"
    spec = open_network(network).connector(CONNECTOR).spec
    assert spec.transport is not None
    assert Capability.PAGED in found.info.enabled(spec.transport.settings)


def test_the_cursor_is_stored_and_another_hub_continues_from_it(
    database: Database,
    other_database: Database,
    network: Path,
    partner: tuple[FeedPartner, str],
) -> None:
    feed, _ = partner
    first = run(hub_process(database, network, "hub-a"))
    assert first.error is None, first.error
    assert feed.asked == [None, token(1), token(2)]
    assert cursor(database) == token(3)
    assert stored(database) == 3 * EVENTS_PER_PAGE

    feed.pages = 5
    feed.asked.clear()
    second = run(hub_process(other_database, network, "hub-b"))
    assert second.error is None, second.error
    assert feed.asked == [token(3), token(4)], "continued from the stored cursor"
    assert second.counts.events_stored == 2 * EVENTS_PER_PAGE
    assert second.counts.duplicates == 0
    assert cursor(database) == token(5)
    assert stored(database) == 5 * EVENTS_PER_PAGE

    feed.asked.clear()
    quiet = run(hub_process(database, network, "hub-a"))
    assert quiet.error is None
    assert feed.asked == [token(5)]
    assert quiet.counts.events_stored == 0
    assert cursor(database) == token(5)


def test_a_partner_failing_on_page_3_leaves_the_cursor_at_page_2(
    database: Database,
    other_database: Database,
    network: Path,
    partner: tuple[FeedPartner, str],
) -> None:
    feed, _ = partner
    feed.pages = 4
    feed.failing[token(2)] = 503
    failed = run(hub_process(database, network, "hub-a"))
    assert isinstance(failed.error, TransientError)
    assert cursor(database) == token(2), "page 2's cursor: the last page stored"
    assert stored(database) == 2 * EVENTS_PER_PAGE

    feed.asked.clear()
    again = run(hub_process(other_database, network, "hub-b"))
    assert again.error is None, again.error
    assert feed.asked == [token(2), token(3)], "page 3 asked once, nothing before it"
    assert again.counts.duplicates == 0
    assert stored(database) == 4 * EVENTS_PER_PAGE
    assert cursor(database) == token(4)


class ProcessDied(BaseException):
    """The process stopping dead between two pages (not an error any run handles)."""


def test_a_process_dying_after_page_2_is_stored_loses_no_page(
    database: Database,
    other_database: Database,
    network: Path,
    partner: tuple[FeedPartner, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed, _ = partner
    fetch_page = HttpFeedTransport.fetch_page

    def dying(self: HttpFeedTransport, cursor: str | None) -> object:
        if cursor == token(2):
            raise ProcessDied
        return fetch_page(self, cursor)

    monkeypatch.setattr(HttpFeedTransport, "fetch_page", dying)
    with pytest.raises(ProcessDied):
        run(hub_process(database, network, "hub-a"))
    assert feed.asked == [None, token(1)]
    assert cursor(database) == token(2)
    assert stored(database) == 2 * EVENTS_PER_PAGE

    monkeypatch.setattr(HttpFeedTransport, "fetch_page", fetch_page)
    again = run(hub_process(other_database, network, "hub-b"))
    assert again.error is None, again.error
    assert feed.asked == [None, token(1), token(2)], "page 3 asked once, no page twice"
    assert again.counts.duplicates == 0
    assert stored(database) == 3 * EVENTS_PER_PAGE
    assert cursor(database) == token(3)


def test_a_store_failure_rolls_back_a_page_and_its_cursor_together(
    database: Database,
    network: Path,
    partner: tuple[FeedPartner, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed, _ = partner
    mark_read = hub.store.inbound.mark_read

    def failing(*args: object, **kwargs: object) -> None:
        """Fails after page 2's events and cursor are written, in their transaction."""
        if str(kwargs["name"]).endswith(f"cursor={token(1)}"):
            raise OSError("disk full")
        mark_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hub.store.inbound, "mark_read", failing)
    failed = run(hub_process(database, network, "hub-a"))
    assert isinstance(failed.error, RunCrashed)
    assert "disk full" in str(failed.error)
    assert cursor(database) == token(1), "page 2's cursor went with its events"
    assert stored(database) == EVENTS_PER_PAGE

    monkeypatch.setattr(hub.store.inbound, "mark_read", mark_read)
    feed.asked.clear()
    again = run(hub_process(database, network, "hub-a"))
    assert again.error is None, again.error
    assert feed.asked == [token(1), token(2)]
    assert again.counts.duplicates == 0
    assert stored(database) == 3 * EVENTS_PER_PAGE
    assert cursor(database) == token(3)


def test_while_one_hub_reads_the_feed_another_does_not(
    database: Database,
    other_database: Database,
    network: Path,
    partner: tuple[FeedPartner, str],
) -> None:
    feed, _ = partner
    feed.holding = token(1)
    reports: list[RunReport] = []
    reading = threading.Thread(
        target=lambda: reports.append(run(hub_process(database, network, "hub-a")))
    )
    reading.start()
    try:
        assert feed.asked_held.wait(timeout=30), "hub-a reached page 2"
        with hub_process(other_database, network, "hub-b") as other:
            assert other.run_now(CONNECTOR) is None, "hub-a holds the connector's lease"
    finally:
        feed.release.set()
        reading.join(timeout=30)
    assert [report.error for report in reports] == [None]
    assert feed.asked == [None, token(1), token(2)]
    assert stored(database) == 3 * EVENTS_PER_PAGE
    assert cursor(database) == token(3)
