"""Case resolution never crosses a tenant boundary the facts do not support (issue 11).

The attack these reproduce: a retailer opens a case with another retailer's product
serial (and an ``opened_at`` in 2099 so that it is the newest), or records a partner's
reference on its own case first; the workshop's next rows without a case reference then
landed on the attacker's case, notes included. Each test runs the real pipeline (the
workshop's CSV mapping, the sync rules that send repair orders, the retailer API) on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, select

from hub.model.statuses import CaseStatus
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage
from hub.store.case_links import unlinked_events
from hub.store.cases import case_state, open_case
from hub.store.db import Database
from hub.store.tables import case_references, cases
from tests.api_support import case_json, make_hub
from tests.factories import make_case
from tests.test_operator_cli import hub as hub_cli

ROOT = Path(__file__).resolve().parent.parent

HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)


def _network() -> Network:
    return open_network(ROOT / "connectors.yaml")


def _workshop_file(database: Database, name: str, *lines: str) -> int:
    """Atelier Dupont's status export, through its real mapping; the events stored."""
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("cp1252")
    pipeline = _network().connector("atelier-dupont-status").pipeline()
    message = RawMessage(MessageRef(name, len(content)), content)
    outcome = ingest_message(database, "atelier-dupont-status", pipeline, message)
    assert outcome.counts.rejected == 0
    return outcome.counts.events_stored


def _open_sent_to_workshop(database: Database, reference: str, serial: str) -> None:
    """A Maison Électro workshop repair: the sync rules send Atelier Dupont its order."""
    with database.transaction() as connection:
        open_case(
            connection,
            make_case(reference, product={"brand": "Seb", "model": "X", "serial_number": serial}),
            on_stored=_network().sync_hook(),
        )


def _reporters(database: Database, reference: str) -> list[tuple[str, str | None]]:
    with database.transaction() as connection:
        state = case_state(connection, reference)
    return [(event.reported_by, event.raw_code) for event in state.timeline]


def test_a_serial_never_links_to_another_retailers_case(database: Database) -> None:
    hub = make_hub(database)
    _open_sent_to_workshop(database, "ME-000500", "SN-VICTIM-1")
    attack = case_json(
        "BM-000500",
        retailer="bricomarket",
        product={"brand": "Seb", "model": "X", "serial_number": "SN-VICTIM-1"},
        opened_at="2099-01-01T00:00:00+00:00",
    )
    refused = hub.client.post("/v1/cases", json=attack, headers=hub.bm.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "opened_at"
    # Opened now, it is still the newest case with that serial.
    attack["opened_at"] = datetime.now(UTC).isoformat()
    accepted = hub.client.post("/v1/cases", json=attack, headers=hub.bm.headers)
    assert accepted.status_code == 201

    stored = _workshop_file(
        database,
        "STATUTS_20261103_1415.csv",
        "AD-1;;03/11/2026;09:00;DIA;Diagnostic;Carte mère HS, client très mécontent;SN-VICTIM-1;;",
    )

    assert stored == 1
    assert ("atelier-dupont", "DIA") in _reporters(database, "ME-000500")
    assert [by for by, _ in _reporters(database, "BM-000500")] == ["bricomarket"]
    timeline = hub.client.get("/v1/cases/BM-000500/timeline", headers=hub.bm.headers).text
    assert "mécontent" not in timeline


def test_a_partner_reference_a_retailer_records_first_does_not_take_the_partners_events(
    database: Database,
) -> None:
    hub = make_hub(database)
    _open_sent_to_workshop(database, "ME-000501", "SN-501")
    attack = case_json(
        "BM-000501",
        retailer="bricomarket",
        references=[{"party": "atelier-dupont", "reference": "AD-2026-009999"}],
    )
    assert hub.client.post("/v1/cases", json=attack, headers=hub.bm.headers).status_code == 201

    _workshop_file(
        database,
        "STATUTS_20261103_0900.csv",
        "AD-2026-009999;ME-000501;03/11/2026;09:00;REC;Reçu atelier;;;;",
    )
    stored = _workshop_file(
        database,
        "STATUTS_20261103_1000.csv",
        "AD-2026-009999;;03/11/2026;10:00;DIA;Diagnostic;Devis à suivre;SN-501;;",
    )

    assert stored == 1
    assert ("atelier-dupont", "DIA") in _reporters(database, "ME-000501")
    assert [by for by, _ in _reporters(database, "BM-000501")] == ["bricomarket"]


def test_no_refusal_tells_a_retailer_whose_a_partner_reference_is(database: Database) -> None:
    hub = make_hub(database)
    _open_sent_to_workshop(database, "ME-000502", "SN-502")
    _workshop_file(
        database,
        "STATUTS_20261103_0900.csv",
        "AD-2026-000502;ME-000502;03/11/2026;09:00;REC;Reçu atelier;;;;",
    )
    probe = case_json(
        "BM-000502",
        retailer="bricomarket",
        references=[{"party": "atelier-dupont", "reference": "AD-2026-000502"}],
    )
    answer = hub.client.post("/v1/cases", json=probe, headers=hub.bm.headers)
    assert answer.status_code == 201
    assert "ME-000502" not in answer.text
    # The workshop's own word still decides where its next rows go.
    _workshop_file(
        database,
        "STATUTS_20261103_1000.csv",
        "AD-2026-000502;;03/11/2026;10:00;DIA;Diagnostic;;SN-502;;",
    )
    assert ("atelier-dupont", "DIA") in _reporters(database, "ME-000502")


def test_a_retailer_cannot_record_a_reference_in_another_retailers_name(
    database: Database,
) -> None:
    hub = make_hub(database)
    foreign = case_json(
        "BM-000503",
        retailer="bricomarket",
        references=[{"party": "maison-electro", "reference": "ME-000001"}],
    )
    answer = hub.client.post("/v1/cases", json=foreign, headers=hub.bm.headers)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "references.0.party"
    own = case_json(
        "BM-000504",
        retailer="bricomarket",
        references=[{"party": "bricomarket", "reference": "BM-INTERNAL-7"}],
    )
    assert hub.client.post("/v1/cases", json=own, headers=hub.bm.headers).status_code == 201


def test_several_candidate_cases_leave_the_event_unlinked_with_the_reason(
    database: Database,
) -> None:
    make_hub(database)
    _open_sent_to_workshop(database, "ME-000510", "SN-TWIN")
    _open_sent_to_workshop(database, "ME-000511", "SN-TWIN")

    _workshop_file(
        database,
        "STATUTS_20261103_1100.csv",
        "AD-7;;03/11/2026;11:00;DIA;Diagnostic;;SN-TWIN;;",
    )

    for reference in ("ME-000510", "ME-000511"):
        assert [by for by, _ in _reporters(database, reference)] == ["maison-electro"]
    with database.transaction() as connection:
        waiting = unlinked_events(connection, party="atelier-dupont")
    assert len(waiting) == 1
    assert "SN-TWIN" in waiting[0].reason
    assert "ME-000510" in waiting[0].reason
    assert "ME-000511" in waiting[0].reason
    listed = hub_cli(database, "unlinked", "--json")
    assert listed.returncode == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [row["reason"] for row in rows] == [waiting[0].reason]


def test_a_case_never_sent_to_the_partner_is_not_linked_by_its_serial(
    database: Database,
) -> None:
    make_hub(database)
    with database.transaction() as connection:
        open_case(
            connection,
            make_case("ME-000520", product={"brand": "Seb", "model": "X", "serial_number": "SN-Q"}),
        )  # no sync rules ran: nothing was sent to the workshop

    _workshop_file(
        database, "STATUTS_20261103_1200.csv", "AD-9;;03/11/2026;12:00;DIA;Diagnostic;;SN-Q;;"
    )

    assert [by for by, _ in _reporters(database, "ME-000520")] == ["maison-electro"]
    with database.transaction() as connection:
        (waiting,) = unlinked_events(connection, party="atelier-dupont")
    assert "never sent to atelier-dupont" in waiting.reason


def test_a_partner_that_reported_before_the_case_opened_holds_it(database: Database) -> None:
    """The workshop named the case before the retailer opened it: once open, the case is
    the workshop's to report on by serial too."""
    make_hub(database)
    _workshop_file(
        database,
        "STATUTS_20261103_0800.csv",
        "AD-11;ME-000530;03/11/2026;08:00;REC;Reçu atelier;;SN-EARLY;;",
    )
    with database.transaction() as connection:
        open_case(
            connection,
            make_case(
                "ME-000530", product={"brand": "Seb", "model": "X", "serial_number": "SN-EARLY"}
            ),
        )
    _workshop_file(
        database, "STATUTS_20261103_0900.csv", "AD-11;;03/11/2026;09:00;TER;Réparé;;SN-EARLY;;"
    )
    with database.transaction() as connection:
        state = case_state(connection, "ME-000530")
    assert state.status is CaseStatus.REPAIRED


def test_a_reference_the_retailer_recorded_links_for_the_partner_it_was_sent_to(
    database: Database,
) -> None:
    """The honest use of ``references``: the retailer knows the workshop's number, and
    the case was sent to that workshop."""
    make_hub(database)
    with database.transaction() as connection:
        open_case(
            connection,
            make_case("ME-000540", references=[{"party": "atelier-dupont", "reference": "AD-540"}]),
            on_stored=_network().sync_hook(),
        )
    _workshop_file(
        database,
        "STATUTS_20261103_0900.csv",
        "AD-540;;03/11/2026;09:00;REC;Reçu atelier;;SN-NOT-ON-ANY-CASE;;",
    )
    assert ("atelier-dupont", "REC") in _reporters(database, "ME-000540")
    with database.transaction() as connection:
        recorded = connection.execute(
            select(case_references.c.recorded_by)
            .join(cases, cases.c.id == case_references.c.case_id)
            .where(cases.c.reference == "ME-000540")
        ).scalar_one()
    assert recorded == "retailer"


def test_an_opening_date_a_few_minutes_ahead_is_clock_skew_not_the_future(
    database: Database,
) -> None:
    hub = make_hub(database)
    ahead = case_json("ME-000550", opened_at=(datetime.now(UTC) + timedelta(minutes=2)).isoformat())
    assert hub.client.post("/v1/cases", json=ahead, headers=hub.me.headers).status_code == 201


def test_reports_repeated_page_after_page_write_only_what_they_change(
    database: Database,
) -> None:
    """A partner names the same cases on every page: what is known is read, not written
    again, and the rules stay (a retailer's reference confirmed becomes the partner's,
    a different one kept stays, a case the hub sent stays held "by message")."""
    from hub.store.case_links import GivenHow, learn_from_reports, record_given
    from hub.store.tables import case_parties

    make_hub(database)
    with database.transaction() as connection:
        open_case(
            connection,
            make_case("ME-000560", references=[{"party": "atelier-dupont", "reference": "AD-560"}]),
        )
        open_case(connection, make_case("ME-000561"))
        record_given(connection, [("ME-000561", "atelier-dupont")], GivenHow.MESSAGE)

    def links() -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str, str]]]:
        with database.transaction() as connection:
            given = connection.execute(
                select(cases.c.reference, case_parties.c.party_id, case_parties.c.how).join(
                    cases, cases.c.id == case_parties.c.case_id
                )
            )
            kept = connection.execute(
                select(
                    cases.c.reference,
                    case_references.c.party_id,
                    case_references.c.reference,
                    case_references.c.recorded_by,
                ).join(cases, cases.c.id == case_references.c.case_id)
            )
            return {tuple(row) for row in given}, {tuple(row) for row in kept}

    page = (
        {("ME-000560", "atelier-dupont"), ("ME-000561", "atelier-dupont")},
        {("ME-000560", "atelier-dupont", "AD-560"), ("ME-000561", "atelier-dupont", "AD-561")},
    )
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]).split()[0].upper())

    for number in range(2):  # the second page names the same cases: nothing is written
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            with database.transaction() as connection:
                learn_from_reports(connection, *page)
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        writes = [s for s in statements if s in {"INSERT", "UPDATE"}]
        assert writes if number == 0 else not writes
        assert links() == (
            {("ME-000560", "atelier-dupont", "report"), ("ME-000561", "atelier-dupont", "message")},
            {
                ("ME-000560", "atelier-dupont", "AD-560", "partner"),
                ("ME-000561", "atelier-dupont", "AD-561", "partner"),
            },
        )
    with database.transaction() as connection:
        learn_from_reports(
            connection,
            {("ME-000560", "atelier-dupont")},
            {("ME-000560", "atelier-dupont", "AD-999"), ("ME-404040", "atelier-dupont", "AD-4")},
        )
    assert ("ME-000560", "atelier-dupont", "AD-560", "partner") in links()[1]
    assert len(links()[1]) == 2


def test_the_named_cases_heads_read_with_their_links_are_those_appending_reads(
    database: Database,
) -> None:
    """The links' read hands the named cases' heads on to appending (one read of the cases
    a file names, issue 17): the same heads as appending's own read, a case with a status
    or without, and none for a case that does not exist."""
    from hub.store.case_links import learn_from_reports
    from hub.store.events import _case_heads

    make_hub(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000570"))
        open_case(connection, make_case("ME-000571"))
        connection.execute(
            cases.update().where(cases.c.reference == "ME-000571").values(status=None)
        )
    assert _workshop_file(
        database, "STATUTS_1.csv", "AD-570;ME-000570;02/03/2026;10:00;DIA;Diagnostic;;;;"
    )
    named = {"ME-000570", "ME-000571", "ME-999999"}
    with database.transaction() as connection:
        heads = learn_from_reports(
            connection,
            {(reference, "atelier-dupont") for reference in named},
            {(reference, "atelier-dupont", f"AD-{reference[-3:]}") for reference in named},
        )
        assert heads == _case_heads(connection, named, {})
    assert set(heads) == {"ME-000570", "ME-000571"}
    assert heads["ME-000570"].key is not None
    assert heads["ME-000571"].key is None


def test_a_file_naming_many_cases_first_learns_them_in_one_statement_each(
    database: Database,
) -> None:
    """Cases given and references learned for many cases at once (a file's first chunk):
    on PostgreSQL one statement of arrays each, not a row a statement (issue 17,
    thirteenth pass), with the rules of a row at a time: a new pair inserted, a
    retailer's reference the partner confirms becomes the partner's, a different one
    kept stays, a case the hub sent stays held "by message"."""
    from hub.store.case_links import GivenHow, learn_from_reports, record_given
    from hub.store.tables import case_parties

    make_hub(database)
    references = [f"ME-0006{number:02d}" for number in range(40)]
    with database.transaction() as connection:
        for number, reference in enumerate(references):
            kept = []
            if number % 4 == 1:  # the same reference a retailer wrote: confirmed
                kept = [{"party": "atelier-dupont", "reference": f"AD-{number}"}]
            elif number % 4 == 2:  # another one a retailer wrote: it stays
                kept = [{"party": "atelier-dupont", "reference": f"RET-{number}"}]
            open_case(connection, make_case(reference, references=kept))
        record_given(connection, [(references[3], "atelier-dupont")], GivenHow.MESSAGE)
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.transaction() as connection:
            learn_from_reports(
                connection,
                {(reference, "atelier-dupont") for reference in references},
                {
                    (reference, "atelier-dupont", f"AD-{number}")
                    for number, reference in enumerate(references)
                },
            )
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    with database.transaction() as connection:
        given = dict(
            connection.execute(
                select(cases.c.reference, case_parties.c.how)
                .join(cases, cases.c.id == case_parties.c.case_id)
                .where(case_parties.c.party_id == "atelier-dupont")
            ).all()
        )
        kept = {
            row[0]: (row[1], row[2])
            for row in connection.execute(
                select(
                    cases.c.reference, case_references.c.reference, case_references.c.recorded_by
                )
                .join(cases, cases.c.id == case_references.c.case_id)
                .where(case_references.c.party_id == "atelier-dupont")
            )
        }
    assert given == {
        reference: "message" if number == 3 else "report"
        for number, reference in enumerate(references)
    }
    assert kept == {
        reference: (f"RET-{number}", "retailer") if number % 4 == 2 else (f"AD-{number}", "partner")
        for number, reference in enumerate(references)
    }
    writes = [s for s in statements if s.split()[0].upper() in {"INSERT", "UPDATE"}]
    assert len(writes) == 2
    if database.engine.dialect.name == "postgresql":
        assert all("unnest" in s for s in writes)


def test_the_named_cases_are_read_by_one_statement_text(
    database: Database,
) -> None:
    """The named cases and their links are read with the references as one value, an
    array on PostgreSQL (issue 17, thirteenth pass), a JSON list on SQLite (fifteenth
    pass): one statement text whatever their number, where an expanded ``IN`` list made
    one per number; the same heads."""
    from hub.store.case_links import _known_links

    make_hub(database)
    with database.transaction() as connection:
        for number in range(5):
            open_case(connection, make_case(f"ME-00065{number}"))
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.transaction() as connection:
            one = _known_links(connection, ["ME-000650"])
            five = _known_links(connection, [f"ME-00065{number}" for number in range(5)])
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert set(one[0]) == {"ME-000650"}
    assert set(five[0]) == {f"ME-00065{number}" for number in range(5)}
    assert one[0]["ME-000650"] == five[0]["ME-000650"]
    # PostgreSQL's begins WITH: the named cases locked in its first query (seventeenth pass).
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(reads) == 2
    assert reads[0] == reads[1]


def test_the_named_cases_are_found_whatever_their_references_hold(
    database: Database,
) -> None:
    """A case reference is any text without NUL: bound as one JSON list on SQLite, one
    holding quotes, backslashes, a tab, accents or a character beyond the BMP is found
    as itself, and one differing only in case or by a character is not."""
    from hub.store.case_links import _known_links

    odd = ['BM-"7"', "BM-a\\b", "BM-\tx", "BM-Réparé", "BM-outil-\U0001f527", "BM-[1, 2]"]
    make_hub(database)
    with database.transaction() as connection:
        for reference in odd:
            open_case(connection, make_case(reference))
    with database.transaction() as connection:
        heads, _, _ = _known_links(connection, [*odd, "BM-réparé", "BM-outil-x", "BM-7"])
    assert set(heads) == set(odd)
    assert all(head.reference == reference for reference, head in heads.items())


def test_a_cases_head_keys_its_stored_status_by_the_statuses_rank() -> None:
    """A head read from a case's row: every case status's text gives the order key of
    its rank, its instant in UTC; a case without a status has no key; a text that is no
    case status is refused as the enum refuses it; a head is not changed once made."""
    from hub.model.timeline import order_key
    from hub.store.events import CaseHead, case_head

    at = datetime(2026, 3, 2, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    for status in CaseStatus:
        head = case_head(7, "ME-000007", status.value, at, "ev-1")
        assert head == CaseHead(7, "ME-000007", order_key(at, status.rank, "ev-1"))
        assert head.key is not None
        assert head.key[0].utcoffset() == timedelta(0)
        assert head.key[1] == status.rank
    assert case_head(7, "ME-000007", None, None, None).key is None
    with pytest.raises(ValueError, match="CaseStatus"):
        case_head(7, "ME-000007", "lost_in_space", at, "ev-1")
    head = case_head(7, "ME-000007", None, None, None)
    with pytest.raises(AttributeError):
        head.key = order_key(at, 0, "ev-1")  # type: ignore[misc]


def test_cases_given_with_their_ids_known_are_recorded_without_looking_them_up(
    database: Database,
) -> None:
    """The sync rules hand ``record_given`` the ids of the cases they read: the same rows
    are written as when it looks them up, by no read of the cases; a reference the ids
    do not name is no case, and nothing is written for it."""
    from hub.store.case_links import GivenHow, record_given
    from hub.store.tables import case_parties

    make_hub(database)
    with database.transaction() as connection:
        cases_opened = [open_case(connection, make_case(f"ME-00070{n}")) for n in range(3)]
        ids = {done.record.case.reference: done.record.id for done in cases_opened}

    def given() -> set[tuple[str, str, str]]:
        with database.transaction() as connection:
            rows = connection.execute(
                select(cases.c.reference, case_parties.c.party_id, case_parties.c.how).join(
                    cases, cases.c.id == case_parties.c.case_id
                )
            )
            return {(row.reference, row.party_id, row.how) for row in rows}

    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]).split()[0].upper())

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.transaction() as connection:
            record_given(
                connection,
                [("ME-000700", "atelier-dupont"), ("ME-000701", "techniservice")],
                GivenHow.MESSAGE,
                ids=ids,
            )
            record_given(connection, [("ME-000799", "atelier-dupont")], GivenHow.MESSAGE, ids=ids)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert "SELECT" not in statements
    with_ids = given()
    assert with_ids == {
        ("ME-000700", "atelier-dupont", "message"),
        ("ME-000701", "techniservice", "message"),
    }
    with database.transaction() as connection:
        connection.execute(case_parties.delete())
        record_given(
            connection,
            [("ME-000700", "atelier-dupont"), ("ME-000701", "techniservice")],
            GivenHow.MESSAGE,
        )
    assert given() == with_ids
