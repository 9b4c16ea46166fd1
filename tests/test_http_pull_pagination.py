"""The REST pull transport's Link-header and page-number pagination, over real HTTP on
loopback, and through ``Hub.run_now`` with the cursor kept in the database.

The partner is a small feed of JSON arrays (Élec Distrib's order events): page N's
answer links to page N+1 by an RFC 8288 ``Link`` header, relative or absolute, and the
last page has no ``rel="next"``. A second server on another port stands for another
host: a link to it is refused, and it must never be asked anything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.transports.http.links import parse_links
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import HttpPullSettings
from adapters.transports.http.spec import PaginationSpec
from hub.bootstrap import Hub
from hub.errors import ConfigurationError
from hub.partners.connectors import open_network
from hub.ports import MORE_PAGES, NEXT_CURSOR
from hub.store.connector_state import read_cursor
from hub.store.db import Database
from hub.store.events import count_events_by_reporter

PATH = "/api/v2/order-events"
PARTNER = "elec-distrib"
CONNECTOR = "elec-distrib-order-events"


@dataclass
class Feed:
    """Pages of order events; ``link`` renders page N's Link header (None: no header)."""

    pages: int = 3
    per_page: int = 2
    link: Callable[[int, str], str | None] | None = None
    asked: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, target: str, origin: str) -> tuple[bytes, str | None]:
        with self.lock:
            self.asked.append(target)
        query = parse_qs(urlsplit(target).query)
        number = int(query.get("page", ["1"])[0])
        events = [] if number > self.pages else [self.event(number, i) for i in range(2)]
        link = (self.link or default_link)(number, origin) if number < self.pages else None
        return json.dumps(events).encode(), link

    @staticmethod
    def event(page: int, index: int) -> dict[str, object]:
        return {
            "event_id": 1000 + 10 * page + index,
            "order_id": f"ED-{page:03d}",
            "customer_order_ref": f"PO-{page:03d}",
            "type": "order.accepted" if index == 0 else "order.shipped",
            "occurred_at": f"2026-11-05T{8 + page:02d}:1{index}:00+01:00",
        }


def default_link(number: int, origin: str) -> str:
    """Page 1 links relatively, the next ones absolutely, with a rel="last" beside."""
    query = f"page={number + 1}&per_page=2"
    target = f"{PATH}?{query}" if number == 1 else f"{origin}{PATH}?{query}"
    return f'<{origin}{PATH}?page=9>; rel="last", <{target}>; title="next; page"; rel="next"'


@dataclass
class Served:
    feed: Feed
    url: str
    requests: list[str]


@pytest.fixture
def serve() -> Iterator[Callable[[Feed], Served]]:
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(feed: Feed) -> Served:
        requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                origin = f"http://127.0.0.1:{self.server.server_address[1]}"
                body, link = feed.answer(self.path, origin)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if link is not None:
                    self.send_header("Link", link)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return Served(feed, f"http://127.0.0.1:{server.server_address[1]}", requests)

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


def transport(base_url: str, pagination: PaginationSpec) -> HttpPullTransport:
    settings = HttpPullSettings(
        base_url, page_path=PATH, pagination=pagination, requests_per_second=1000
    )
    return HttpPullTransport(settings, sleep=lambda _: None)


LINKS = PaginationSpec(style="link_header", size_param="per_page", size=2)


def test_the_link_header_parser_follows_rfc_8288() -> None:
    links = parse_links(
        ['<a;b,c>; title="x; y=z, <q>"; REL="Next Last"; rel=prev', "", "</p3>;rel=next, "]
    )
    assert [link.target for link in links] == ["a;b,c", "/p3"]
    assert links[0].params["title"] == "x; y=z, <q>"
    assert links[0].rels == {"next", "last"}  # the first rel wins, case does not matter


def test_three_pages_by_link_header_relative_and_absolute(
    serve: Callable[[Feed], Served],
) -> None:
    partner = serve(Feed())
    with transport(partner.url, LINKS) as source:
        first = source.fetch_page(None)
        assert first.metadata[NEXT_CURSOR] == f"{PATH}?page=2&per_page=2"  # relative link
        second = source.fetch_page(first.metadata[NEXT_CURSOR])
        assert second.metadata[NEXT_CURSOR] == f"{PATH}?page=3&per_page=2"  # absolute link
        third = source.fetch_page(second.metadata[NEXT_CURSOR])
    assert third.metadata[MORE_PAGES] == "false"
    assert NEXT_CURSOR not in third.metadata  # no rel="next": no more pages
    assert partner.requests == [
        f"{PATH}?per_page=2",
        f"{PATH}?page=2&per_page=2",
        f"{PATH}?page=3&per_page=2",
    ]
    assert [e["event_id"] for e in json.loads(third.content)] == [1030, 1031]


def test_a_next_link_to_another_host_is_refused_and_never_followed(
    serve: Callable[[Feed], Served],
) -> None:
    elsewhere = serve(Feed())
    partner = serve(Feed(link=lambda n, _: f'<{elsewhere.url}{PATH}?page={n + 1}>; rel="next"'))
    with transport(partner.url, LINKS) as source, pytest.raises(ConfigurationError) as refused:
        source.fetch_page(None)
    assert elsewhere.url.removeprefix("http://") in str(refused.value)
    assert partner.url.removeprefix("http://") in str(refused.value)
    assert elsewhere.requests == []
    # A stored cursor naming another host (base_url changed since) is refused unasked.
    with transport(partner.url, LINKS) as source, pytest.raises(ConfigurationError):
        source.fetch_page(f"{elsewhere.url}{PATH}?page=2")
    assert elsewhere.requests == []
    assert len(partner.requests) == 1


def test_page_numbers_count_up(serve: Callable[[Feed], Served]) -> None:
    partner = serve(Feed())
    pagination = PaginationSpec(style="page_number", size_param="per_page", size=2)
    with transport(partner.url, pagination) as source:
        first = source.fetch_page(None)
        assert first.metadata[NEXT_CURSOR] == "2"
        assert MORE_PAGES not in first.metadata  # the core decides: records, or `more`
        source.fetch_page("2")
        with pytest.raises(ConfigurationError, match="no page number"):
            source.fetch_page("/api/v2/order-events?page=2")
    assert partner.requests == [f"{PATH}?page=1&per_page=2", f"{PATH}?page=2&per_page=2"]


MAPPING = """\
version: 1
partner: elec-distrib
description: Élec Distrib's order events, a JSON array per page.
timezone: Europe/Paris
messages:
  order_events:
    direction: inbound
    codec:
      type: json
      record: "$[*]"
      fields: {id: $.event_id, order: $.order_id, ref: $.customer_order_ref, type: $.type,
               at: $.occurred_at}
    event_type: case_status
    fields:
      partner_event_id: {column: id, required: true}
      partner_ref: {column: order, required: true}
      case_ref: {column: ref, required: true}
      occurred_at: {column: at, required: true}
      raw_code: {column: type, required: true}
    codes: {order.accepted: received, order.shipped: diagnosing}
"""


def network(tmp_path: Path, base_url: str, pagination: str) -> Path:
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "mappings" / "elec-distrib.yaml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""\
version: 1
parties:
  - {{id: {PARTNER}, role: repairer, name: Élec Distrib}}
connectors:
  - name: {CONNECTOR}
    partner: {PARTNER}
    mapping: mappings/elec-distrib.yaml
    message: order_events
    transport:
      type: http-pull
      base_url: {base_url}
      page_path: {PATH}
      pagination: {pagination}
    schedule: {{every: 5m}}
""",
        encoding="utf-8",
    )
    return path


def run(database: Database, connectors: Path) -> None:
    with Hub(database, open_network(connectors), owner="hub-test") as hub:
        assert hub.run_now(CONNECTOR) is not None


def state(database: Database) -> tuple[str | None, int]:
    with database.transaction() as connection:
        stored = count_events_by_reporter(connection).get(PARTNER, 0)
        return read_cursor(connection, CONNECTOR), stored


@pytest.mark.parametrize(
    ("pagination", "after_first", "second_asks"),
    [
        (
            "{style: link_header, size_param: per_page, size: 2}",
            f"{PATH}?page=3&per_page=2",
            [f"{PATH}?page=3&per_page=2", f"{PATH}?page=4&per_page=2"],
        ),
        ("{style: page_number}", "4", [f"{PATH}?page=4", f"{PATH}?page=5"]),
    ],
    ids=["link_header", "page_number"],
)
def test_runs_store_the_cursor_and_the_next_run_continues(
    database: Database,
    tmp_path: Path,
    serve: Callable[[Feed], Served],
    pagination: str,
    after_first: str,
    second_asks: list[str],
) -> None:
    partner = serve(Feed(pages=3))
    connectors = network(tmp_path, partner.url, pagination)
    run(database, connectors)
    assert state(database) == (after_first, 6)
    partner.feed.pages = 4  # a page more since
    partner.requests.clear()
    run(database, connectors)
    assert partner.requests == second_asks
    assert state(database)[1] == 8
