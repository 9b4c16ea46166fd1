"""CSV case import: each row created, unchanged or rejected with its line and reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from hub.model import Case
from hub.retailers import case_import
from hub.retailers.case_import import import_cases_csv
from hub.retailers.cases import open_case_for
from hub.retailers.tenants import Retailer
from hub.store.db import Database
from hub.store.tables import cases, raw_messages, rejects
from tests.api_support import Hub, make_hub

HEADER = (
    "reference,opened_at,brand,model,serial_number,purchase_date,coverage,service,fault,"
    "customer_name,customer_phone,postcode,city,address_line1,contract_level,repairer,"
    "repairer_reference\n"
)
GOOD_1 = (
    "BM-000045,2026-10-28T09:40:00+01:00,Liebherr,CNd 5203,LH-22-0098811,2023-09-02,none,"
    'workshop_repair,"Ne refroidit plus, bruit de claquement",Karim Benali,06 71 22 33 44,'
    "69001,Lyon,3 rue de la République,silver,techniservice,TS-88120\n"
)
MULTILINE = (
    "BM-000046,2026-10-28T10:00:00+01:00,Bosch,WAN28209FF,,,legal_conformity,"
    'home_intervention,"Fuite d\'eau\nau démarrage",Léa Roux,,,,,silver,,\n'
)
NAIVE = (
    "BM-000047,2026-10-28T10:00:00,Seb,Actifry,,,none,workshop_repair,Ne chauffe plus,"
    "Jean Dupuis,,,,,silver,,\n"
)
OTHER_PREFIX = (
    "ME-000123,2026-10-28T10:00:00+01:00,Seb,Actifry,,,none,workshop_repair,Panne,"
    "Jean Dupuis,,,,,silver,,\n"
)
FRENCH_DATE = (
    "BM-000048,2026-10-28T10:00:00+01:00,Seb,Actifry,,30/10/2026,none,workshop_repair,Panne,"
    "Jean Dupuis,,,,,silver,,\n"
)
SHORT_ROW = "BM-000049,2026-10-28T10:00:00+01:00,Seb\n"
UNKNOWN_PARTNER = (
    "BM-000050,2026-10-28T10:00:00+01:00,Seb,Actifry,,,none,workshop_repair,Panne,"
    "Jean Dupuis,,,,,silver,nobody,N-1\n"
)
CONFLICT = GOOD_1.replace("bruit de claquement", "odeur de brûlé")


@pytest.fixture
def hub(database: Database) -> Hub:
    return make_hub(database)


def _upload(hub: Hub, content: str | bytes, name: str = "cases_20261028.csv") -> dict[str, object]:
    data = content.encode() if isinstance(content, str) else content
    response = hub.client.post(
        "/v1/cases/import", files={"file": (name, data, "text/csv")}, headers=hub.bm.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_good_rows_open_cases_and_bad_rows_are_rejected_with_line_field_and_reason(
    hub: Hub,
) -> None:
    content = (
        HEADER
        + GOOD_1
        + MULTILINE
        + NAIVE
        + "\n"
        + OTHER_PREFIX
        + FRENCH_DATE
        + SHORT_ROW
        + UNKNOWN_PARTNER
        + CONFLICT
    )
    body = _upload(hub, content)
    rows = body["rows"]
    assert isinstance(rows, list)
    summary = [(r["line"], r["reference"], r["outcome"], r["field"]) for r in rows]
    assert summary == [
        (2, "BM-000045", "created", None),
        (3, "BM-000046", "created", None),  # its quoted fault spans lines 3 and 4
        (5, "BM-000047", "rejected", "opened_at"),
        # line 6 is blank and skipped
        (7, "ME-000123", "rejected", "reference"),
        (8, "BM-000048", "rejected", "purchase_date"),
        (9, None, "rejected", None),
        (10, "BM-000050", "rejected", "repairer"),
        (11, "BM-000045", "rejected", None),
    ]
    reasons = {r["line"]: r["reason"] for r in rows}
    assert "timezone" in str(reasons[5])
    assert "'BM-'" in str(reasons[7])
    assert reasons[9] == "3 cells where the header has 17"
    assert "different content" in str(reasons[11])
    assert (body["created"], body["unchanged"], body["rejected"]) == (2, 0, 6)

    case = hub.client.get("/v1/cases/BM-000046", headers=hub.bm.headers).json()["case"]
    assert case["fault"] == "Fuite d'eau\nau démarrage"
    assert case["retailer"] == "bricomarket"
    first = hub.client.get("/v1/cases/BM-000045", headers=hub.bm.headers).json()["case"]
    assert first["references"] == [{"party": "techniservice", "reference": "TS-88120"}]
    assert first["customer"]["address"] == {
        "line1": "3 rue de la République",
        "line2": None,
        "postcode": "69001",
        "city": "Lyon",
        "country": "FR",
    }


def test_a_control_character_in_a_cell_rejects_the_row_naming_its_column(hub: Hub) -> None:
    body = _upload(hub, HEADER + GOOD_1.replace("Karim Benali", "Karim\x00Benali"))
    rows = body["rows"]
    assert isinstance(rows, list)
    assert [(r["line"], r["outcome"], r["field"]) for r in rows] == [
        (2, "rejected", "customer_name")
    ]
    with hub.database.transaction() as connection:
        kept = connection.execute(select(rejects.c.raw)).scalar_one()
    assert "Karim\ufffdBenali" in kept  # NUL cannot be stored in PostgreSQL text


def test_the_file_is_archived_and_rejects_are_kept_for_the_operator(hub: Hub) -> None:
    content = (HEADER + GOOD_1 + NAIVE).encode()
    body = _upload(hub, content)
    assert body["duplicate_file"] is False
    with hub.database.transaction() as connection:
        archived = connection.execute(select(raw_messages)).one()
        kept = connection.execute(select(rejects)).one()
    assert bytes(archived.content) == content
    assert archived.source == "api:bricomarket:cases-import"
    assert archived.name == "cases_20261028.csv"
    assert (kept.line, kept.field, kept.message_id) == (3, "opened_at", archived.id)
    assert kept.raw == NAIVE.rstrip("\n")


def test_importing_the_same_file_twice_changes_nothing(hub: Hub) -> None:
    content = HEADER + GOOD_1 + MULTILINE
    _upload(hub, content)
    again = _upload(hub, content)
    assert again["duplicate_file"] is True
    assert (again["created"], again["unchanged"], again["rejected"]) == (0, 2, 0)


@pytest.mark.parametrize(
    ("content", "field", "needle"),
    [
        (b"", "file", "empty"),
        ("\ufeff" + HEADER.replace("fault,", ""), "fault", "missing"),
        (HEADER.replace("model", "modele"), "modele", "unknown column"),
        (HEADER.replace("city", "brand"), "brand", "twice"),
        ((HEADER + GOOD_1).encode("latin-1", errors="replace")[:-30] + b"\xe9\n", "file", "UTF-8"),
    ],
    ids=["empty", "missing-column", "unknown-column", "duplicate-column", "not-utf8"],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_a_422_naming_why(
    hub: Hub, content: str | bytes, field: str, needle: str
) -> None:
    data = content.encode() if isinstance(content, str) else content
    response = hub.client.post(
        "/v1/cases/import", files={"file": ("bad.csv", data, "text/csv")}, headers=hub.bm.headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert needle in body["errors"][0]["message"]


def test_a_missing_file_part_is_a_422_naming_the_file_field(hub: Hub) -> None:
    response = hub.client.post("/v1/cases/import", data={"other": "x"}, headers=hub.bm.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_a_file_over_the_import_limit_is_a_413(hub: Hub) -> None:
    huge = HEADER + GOOD_1 * 30_000  # about 6 MB, over the 5 MiB limit
    response = hub.client.post(
        "/v1/cases/import",
        files={"file": ("huge.csv", huge.encode(), "text/csv")},
        headers=hub.bm.headers,
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:aftersales-hub:problem:payload-too-large"


def test_an_import_stopped_half_way_is_finished_by_sending_the_file_again(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two rows a chunk here; the process dies in the third chunk, after two committed."""
    good_2 = GOOD_1.replace("BM-000045", "BM-000051").replace("TS-88120", "TS-88121")
    content = HEADER + GOOD_1 + NAIVE + MULTILINE + FRENCH_DATE + UNKNOWN_PARTNER + good_2
    monkeypatch.setattr(case_import, "CHUNK_ROWS", 2)
    # Chunks by rows alone: a chunk also ends after CHUNK_SECONDS, which a busy machine
    # can reach within a row and so move the chunks' edges.
    monkeypatch.setattr(case_import, "CHUNK_SECONDS", 3600.0)

    def dies_at_bm_000051(connection: Connection, retailer: Retailer, case: Case, **kw: Any) -> Any:
        if case.reference == "BM-000051":
            raise RuntimeError("the process died here")
        return open_case_for(connection, retailer, case, **kw)

    monkeypatch.setattr(case_import, "open_case_for", dies_at_bm_000051)
    with pytest.raises(RuntimeError):
        import_cases_csv(hub.database, hub.bm.retailer, content.encode(), name="cases.csv")
    with hub.database.transaction() as connection:
        opened = connection.execute(select(cases.c.reference).order_by(cases.c.reference))
        assert list(opened.scalars()) == ["BM-000045", "BM-000046"]
        assert list(connection.execute(select(rejects.c.line)).scalars()) == [3, 6]

    monkeypatch.setattr(case_import, "open_case_for", open_case_for)
    body = _upload(hub, content, name="cases.csv")

    assert body["duplicate_file"] is True
    rows = body["rows"]
    assert isinstance(rows, list)
    assert [(r["line"], r["outcome"]) for r in rows] == [
        (2, "unchanged"),  # committed before the stop
        (3, "rejected"),
        (4, "unchanged"),
        (6, "rejected"),
        (7, "rejected"),
        (8, "created"),
    ]
    with hub.database.transaction() as connection:
        assert connection.execute(select(func.count()).select_from(cases)).scalar_one() == 3
        assert connection.execute(select(func.count()).select_from(raw_messages)).scalar_one() == 1
        kept = connection.execute(select(rejects.c.line).order_by(rejects.c.line)).scalars()
        assert list(kept) == [3, 6, 7], "each rejected line kept once"


def test_a_chunk_that_lost_a_race_for_a_reference_is_done_again_whole(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case opened elsewhere between a row's check and its insert: the chunk rolls back
    and is imported once more, each row reported once."""
    raced: list[str] = []

    def loses_a_race_once(connection: Connection, retailer: Retailer, case: Case, **kw: Any) -> Any:
        if case.reference == "BM-000046" and not raced:
            raced.append(case.reference)
            raise IntegrityError("INSERT INTO cases", {}, Exception("unique reference"))
        return open_case_for(connection, retailer, case, **kw)

    monkeypatch.setattr(case_import, "open_case_for", loses_a_race_once)
    body = _upload(hub, HEADER + GOOD_1 + NAIVE + MULTILINE)

    assert raced == ["BM-000046"]
    rows = body["rows"]
    assert isinstance(rows, list)
    assert [(r["line"], r["outcome"]) for r in rows] == [
        (2, "created"),
        (3, "rejected"),
        (4, "created"),
    ]
    with hub.database.transaction() as connection:
        assert list(connection.execute(select(rejects.c.line)).scalars()) == [3]
