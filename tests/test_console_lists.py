"""What the console's lists read from the store, on SQLite and PostgreSQL: the cases list
(filters, search by every kind of reference, keyset pages), runs (empty polls left out,
totals over a window) and rejects (fixed by a replay, a same-name re-send or a later
corrected report; their case; replay attempts). Ingestion and replay go through the real
workshop mapping of connectors.yaml.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from hub.errors import Location, PartnerDataError
from hub.model.statuses import CaseStatus
from hub.operators.listings import describe_reject, outcome_text, rejects_page, runs_page
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.partners.replay import replay_message
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.store.case_lists import (
    CLOSED,
    OPEN,
    CaseFilter,
    case_messages,
    case_parcels,
    count_operator_cases,
    dead_letter_counts,
    operator_cases,
)
from hub.store.case_search import search_matches
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.outbox import Dead, OutboxItem, claim, enqueue, settle
from hub.store.parcels import KnownParcel, learn_parcels
from hub.store.rejects import FIXED, reject_page
from hub.store.rejects import OPEN as OPEN_REJECTS
from hub.store.run_history import RunsShown, run_totals_since
from hub.store.runs import record_rejects
from hub.store.tables import cases
from tests.factories import T0, case_event, make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = "atelier-dupont-status"
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)


def _open(database: Database, reference: str, **overrides: object) -> None:
    with database.transaction() as connection:
        open_case(connection, make_case(reference, **overrides))


@pytest.fixture
def listed(database: Database) -> Database:
    """Seven cases: two retailers, statuses, a serial, a partner reference, a parcel, a
    customer, one closed, one quiet for weeks, one with a dead letter."""
    register_network(database)
    for number in range(1, 6):
        _open(
            database,
            f"ME-00010{number}",
            customer={"name": f"Client Numéro {number}"},
            product={"brand": "Seb", "model": "Actifry", "serial_number": f"SN-ME-{number}"},
        )
    _open(
        database,
        "BM-000200",
        customer={"name": "Hélène Dupuis-Lefèvre"},
        product={"brand": "Bosch", "model": "WAN28", "serial_number": "wan 2820 77"},
        references=[{"party": "techniservice", "reference": "TS-77812"}],
    )
    _open(database, "BM-000201", customer={"name": "Marc Petit"})
    now = datetime.now(UTC)
    with database.transaction() as connection:
        append_events(
            connection,
            [
                case_event("diagnosing", T0, case_ref="ME-000102"),
                case_event("closed", T0, case_ref="ME-000103"),
                case_event("received", T0, case_ref="BM-000201", by="techniservice"),
            ],
            now=now,
        )
        learn_parcels(
            connection,
            [KnownParcel("CX123456789FR", "ME-000104", "colis-express", "outbound", "ev-1")],
        )
        # ME-000105: nothing recorded on it for three weeks.
        connection.execute(
            update(cases)
            .where(cases.c.reference == "ME-000105")
            .values(updated_at=now - timedelta(days=21))
        )
        enqueue(
            connection,
            [
                OutboxItem("colis-express-pickups", "pickup", "pick-101", {}, "ME-000101"),
                OutboxItem("webhook:maison-electro", "event", "hook-101", {}, "ME-000101"),
            ],
            now=now,
        )
    with database.transaction() as connection:
        for message in claim(connection, "test", now=now, limit=10, lease_seconds=60):
            if message.target == "colis-express-pickups":
                settle(connection, message, "test", Dead("400 Bad Request: postcode"))
    return database


def _refs(database: Database, where: CaseFilter, count: int = 50) -> list[str]:
    with database.reading() as connection:
        found = operator_cases(connection, where, count=count)
    return [record.case.reference for record in found.records]


def test_filters_keep_the_cases_they_name(listed: Database) -> None:
    everything = _refs(listed, CaseFilter())
    assert everything == [
        "BM-000201",
        "BM-000200",
        "ME-000105",
        "ME-000104",
        "ME-000103",
        "ME-000102",
        "ME-000101",
    ]  # newest opened first
    assert "ME-000103" not in _refs(listed, CaseFilter(status=OPEN))
    assert len(_refs(listed, CaseFilter(status=OPEN))) == 6
    assert _refs(listed, CaseFilter(status=CLOSED)) == ["ME-000103"]
    assert _refs(listed, CaseFilter(status=CaseStatus.DIAGNOSING.value)) == ["ME-000102"]
    assert _refs(listed, CaseFilter(retailer="bricomarket")) == ["BM-000201", "BM-000200"]
    assert _refs(listed, CaseFilter(partner="techniservice")) == ["BM-000201", "BM-000200"]
    assert _refs(listed, CaseFilter(only={"ME-000102", "BM-000200"})) == [
        "BM-000200",
        "ME-000102",
    ]
    stale = CaseFilter(quiet_since=datetime.now(UTC) - timedelta(days=7))
    assert _refs(listed, stale) == ["ME-000105"]
    assert _refs(listed, CaseFilter(dead_letters=True)) == ["ME-000101"]
    both = CaseFilter(retailer="maison-electro", status=OPEN, dead_letters=True)
    assert _refs(listed, both) == ["ME-000101"]
    with listed.transaction() as connection:
        assert count_operator_cases(connection, CaseFilter(status=OPEN)) == 6
        assert dead_letter_counts(connection, ["ME-000101", "ME-000102"]) == {"ME-000101": 1}


@pytest.mark.parametrize(
    ("text", "found", "kind", "value"),
    [
        (
            "me-00010",
            ["ME-000105", "ME-000104", "ME-000103", "ME-000102", "ME-000101"],
            "reference",
            None,
        ),
        ("WAN 2820", ["BM-000200"], "serial number", "WAN282077"),
        ("ts-778", ["BM-000200"], "partner reference", "TS-77812"),
        ("cx1234", ["ME-000104"], "tracking number", "CX123456789FR"),
        ("petit", ["BM-000201"], "customer", "Marc Petit"),
        ("dupuis-lef", ["BM-000200"], "customer", "Hélène Dupuis-Lefèvre"),
        ("50%_", [], None, None),
    ],
)
def test_one_search_box_finds_a_case_by_any_of_its_references(
    listed: Database, text: str, found: list[str], kind: str | None, value: str | None
) -> None:
    assert _refs(listed, CaseFilter(text=text)) == found
    with listed.transaction() as connection:
        page = operator_cases(connection, CaseFilter(text=text), count=50)
        matches = search_matches(connection, text, [record.id for record in page.records])
    if kind is not None:
        first = matches[page.records[0].id]
        assert first.kind == kind
        if value is not None:
            assert first.value == value


def test_keyset_pages_never_repeat_or_skip_a_case(listed: Database) -> None:
    seen: list[str] = []
    pages = []
    before = None
    every = _refs(listed, CaseFilter())  # a unit of its own, not one inside the pages'
    with listed.reading() as connection:
        while True:
            page = operator_cases(connection, CaseFilter(), count=3, before=before)
            pages.append(page)
            seen += [record.case.reference for record in page.records]
            if page.older is None:
                break
            before = page.older
        assert seen == every
        assert [len(page.records) for page in pages] == [3, 3, 1]
        assert pages[0].newer is None
        assert pages[1].newer is not None
        back = operator_cases(connection, CaseFilter(), count=3, after=pages[2].newer)
        assert back.records == pages[1].records
        assert back.newer == pages[1].newer
        assert back.older == pages[1].older


def test_a_case_lists_its_parcels_and_messages(listed: Database) -> None:
    with listed.transaction() as connection:
        page = operator_cases(connection, CaseFilter(text="ME-000104"), count=1)
        parcels = case_parcels(connection, page.records[0].id)
        messages = case_messages(connection, "ME-000101")
    assert [(p.tracking_number, p.carrier, p.leg) for p in parcels] == [
        ("CX123456789FR", "colis-express", "outbound")
    ]
    assert [(m.target, m.state.value, m.attempts) for m in messages] == [
        ("colis-express-pickups", "dead", 1),
        ("webhook:maison-electro", "pending", 1),
    ]
    assert messages[0].last_error == "400 Bad Request: postcode"


# --- runs ---------------------------------------------------------------------------------


def _run(database: Database, connector: str, counts: RunCounts, at: datetime, **kw: object) -> int:
    run = start_run(database, connector, now=at)
    finish_run(database, run, counts, now=at + timedelta(seconds=2), **kw)  # type: ignore[arg-type]
    return run


def test_empty_polls_are_left_out_and_a_run_with_rejects_says_so(database: Database) -> None:
    now = datetime.now(UTC)
    with_rejects = _run(
        database,
        WORKSHOP,
        RunCounts(messages_seen=1, messages_read=1, records_read=40, events_stored=37, rejected=3),
        now - timedelta(hours=30),
    )
    for minutes in range(30, 0, -1):
        _run(database, WORKSHOP, RunCounts(), now - timedelta(minutes=minutes))
    read = _run(
        database,
        WORKSHOP,
        RunCounts(messages_seen=1, messages_read=1, records_read=5, events_stored=4, unmapped=1),
        now - timedelta(seconds=20),
    )
    found = runs_page(database, connector=WORKSHOP, shown=RunsShown.WORK, count=10)
    assert [line.run.id for line in found.lines] == [read, with_rejects]
    assert found.empty_polls == 30
    assert [line.outcome for line in found.lines] == [
        "succeeded with 1 unmapped",
        "succeeded with 3 rejects",
    ]
    only_rejects = runs_page(database, connector=None, shown=RunsShown.REJECTS, count=10)
    assert [line.run.id for line in only_rejects.lines] == [with_rejects]
    every = runs_page(database, connector=WORKSHOP, shown=RunsShown.ALL, count=10)
    assert len(every.lines) == 10
    assert every.older is not None
    assert every.newer is None
    assert outcome_text(every.lines[1].run) == "nothing new"
    second = runs_page(
        database, connector=WORKSHOP, shown=RunsShown.ALL, count=10, before=every.older
    )
    assert second.lines[0].run.id < every.lines[-1].run.id
    assert second.newer is not None
    with database.transaction() as connection:
        totals = run_totals_since(connection, now - timedelta(hours=24))
    day = totals[WORKSHOP]
    assert (day.runs, day.records_read, day.rejected, day.unmapped) == (31, 5, 0, 1)


def test_failed_runs_are_listed_apart(database: Database) -> None:
    from hub.errors import TransientError

    now = datetime.now(UTC)
    failed = _run(database, "techniservice-changes", RunCounts(), now, error=TransientError("503"))
    _run(database, "techniservice-changes", RunCounts(), now + timedelta(seconds=5))
    found = runs_page(database, connector=None, shown=RunsShown.FAILED, count=10)
    assert [(line.run.id, line.outcome, line.tone) for line in found.lines] == [
        (failed, "failed", "failed")
    ]
    with database.transaction() as connection:
        totals = run_totals_since(connection, now - timedelta(hours=1))
    assert totals["techniservice-changes"].failed == 1


# --- rejects ------------------------------------------------------------------------------


@pytest.fixture
def network() -> Network:
    return open_network(ROOT / "connectors.yaml")


def _export(database: Database, network: Network, name: str, *lines: str) -> MessageOutcome:
    """Atelier Dupont's status export, through its real mapping."""
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("cp1252")
    pipeline = network.connector(WORKSHOP).pipeline()
    run = start_run(database, WORKSHOP)
    outcome = ingest_message(
        database,
        WORKSHOP,
        pipeline,
        RawMessage(MessageRef(name, len(content)), content),
        run_id=run,
    )
    finish_run(database, run, outcome.counts)
    return outcome


GOOD = "AD-1;ME-000101;03/11/2026;09:00;REC;Reçu atelier;;;;"
BROKEN = "AD-2;ME-000102;31/02/2026;09:00;REC;Reçu atelier;;;;"
CORRECTED = "AD-2;ME-000102;03/11/2026;09:10;REC;Reçu atelier;;;;"
SHORT = "AD-3;ME-000104;03/11/2026;09:00;REC;Reçu atelier;;;"


def _rejects(database: Database, state: str | None) -> list[tuple[str, int | None, bool]]:
    with database.transaction() as connection:
        page = reject_page(connection, connector=WORKSHOP, state=state, count=50)
    return [(r.source, r.line, r.fixed_at is not None) for r in page.rejects]


def test_a_corrected_line_in_the_next_export_fixes_its_reject(
    listed: Database, network: Network
) -> None:
    first = _export(listed, network, "STATUTS_1.csv", GOOD, BROKEN, SHORT)
    assert first.counts.rejected == 2
    assert _rejects(listed, OPEN_REJECTS) == [  # the header is line 1
        ("STATUTS_1.csv", 4, False),
        ("STATUTS_1.csv", 3, False),
    ]
    _export(listed, network, "STATUTS_2.csv", GOOD, CORRECTED)
    # The corrected line brought ME-000102's REC: fixed; ME-000104's short line was not re-sent.
    assert _rejects(listed, FIXED) == [("STATUTS_1.csv", 3, True)]
    assert _rejects(listed, OPEN_REJECTS) == [("STATUTS_1.csv", 4, False)]
    found = rejects_page(
        listed, connector=WORKSHOP, state=None, count=10, partners={WORKSHOP: "atelier-dupont"}
    )
    assert [(line.case_ref, line.reject.fixed_by_run is not None) for line in found.lines] == [
        ("ME-000104", False),
        ("ME-000102", True),
    ]
    assert (found.open, found.fixed) == (1, 1)
    assert found.lines[0].sentence.startswith("Line 4 of STATUTS_1.csv")


def test_the_same_file_sent_again_fixes_the_lines_it_no_longer_refuses(
    listed: Database, network: Network
) -> None:
    _export(listed, network, "STATUTS_9.csv", GOOD, SHORT)
    assert _rejects(listed, OPEN_REJECTS) == [("STATUTS_9.csv", 3, False)]
    _export(listed, network, "STATUTS_9.csv", GOOD, "AD-3;ME-000104;03/11/2026;09:00;DIA;Diag;;;;")
    assert _rejects(listed, FIXED) == [("STATUTS_9.csv", 3, True)]


def test_a_file_sent_again_still_refusing_a_line_but_bringing_it_elsewhere_fixes_it_once(
    listed: Database, network: Network
) -> None:
    """Re-send and later report read together: the earlier file's line, refused again
    at its place, is fixed by the corrected line the new file also brings; the new
    file's own refusal stays open, and a line it no longer refuses is fixed by re-send."""
    _export(listed, network, "STATUTS_7.csv", GOOD, SHORT, BROKEN)
    assert _rejects(listed, OPEN_REJECTS) == [
        ("STATUTS_7.csv", 4, False),
        ("STATUTS_7.csv", 3, False),
    ]
    fixed_line = "AD-3;ME-000104;03/11/2026;09:05;REC;Reçu atelier;;;;"
    outcome = _export(listed, network, "STATUTS_7.csv", GOOD, SHORT, CORRECTED, fixed_line)
    assert outcome.counts.rejected == 1
    assert sorted(_rejects(listed, None)) == [
        ("STATUTS_7.csv", 3, False),  # the new file's own refusal
        ("STATUTS_7.csv", 3, True),  # refused again, but its REC came on line 5
        ("STATUTS_7.csv", 4, True),  # no longer refused at its place: the re-send
    ]


def test_a_replay_counts_its_attempts_and_leaves_a_line_still_refused_open(
    listed: Database, network: Network
) -> None:
    outcome = _export(listed, network, "STATUTS_5.csv", GOOD, SHORT)
    first = replay_message(listed, network, outcome.message_id)
    second = replay_message(listed, network, outcome.message_id)
    assert (first.fixed, second.fixed, len(second.rejects)) == (0, 0, 1)
    found = rejects_page(listed, connector=WORKSHOP, state=OPEN_REJECTS, count=10, partners={})
    (line,) = found.lines
    assert line.case_ref == "ME-000104"  # the hub's own reference, in the raw line
    assert line.replays is not None
    assert (line.replays.attempts, line.replays.last_run) == (2, second.run_id)
    assert (line.replays.last_outcome, line.replays.last_rejected) == ("succeeded", 1)


def test_a_replay_that_reads_a_record_now_marks_its_reject_fixed(listed: Database) -> None:
    """The message is archived; its reject was kept by an older mapping that refused a
    line today's reads: the replay marks it fixed, by the replay's run."""
    network = open_network(ROOT / "connectors.yaml")
    outcome = _export(listed, network, "STATUTS_7.csv", GOOD)
    problem = PartnerDataError(
        "unknown column", location=Location("STATUTS_7.csv", line=2, field="Code statut"), raw=GOOD
    )
    with listed.transaction() as connection:
        record_rejects(
            connection,
            WORKSHOP,
            [problem],
            run_id=None,
            message_id=outcome.message_id,
            now=datetime.now(UTC),
        )
    report = replay_message(listed, network, outcome.message_id)
    assert report.fixed == 1
    with listed.transaction() as connection:
        (fixed,) = reject_page(connection, connector=WORKSHOP, state=FIXED, count=5).rejects
    assert fixed.fixed_by_run == report.run_id
    assert describe_reject(fixed) == (
        "Line 2 of STATUTS_7.csv (field Code statut) was left out: unknown column"
    )
