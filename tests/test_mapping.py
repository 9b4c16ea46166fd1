"""The mapping language: loading, reading partner values, records in and out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.errors import ConfigurationError, PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import load_mapping
from hub.mapping.outbound import OutboundMapping, OutboundRenderError
from hub.mapping.values import ValueProblem, localize, parse_amount, parse_instant
from hub.model import CaseStatus, Event, Party, PartyRole
from hub.ports import Record
from tests.factories import make_case

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = ROOT / "mappings" / "atelier-dupont.yaml"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 5, tzinfo=UTC)


def workshop_row(**fields: str | None) -> Record:
    values: dict[str, str | None] = {
        "N° dossier": "AD-2026-004512",
        "Réf. client": "ME-000123",
        "Date statut": "03/11/2026",
        "Heure": "14:05",
        "Code statut": "DEV",
        "Libellé": "Devis émis",
        "Commentaire": "Carte mère HS; remplacement conseillé",
        "N° série": "SN8841XK2",
        "Montant devis TTC": "149,90",
        "Réf. pièce": None,
    }
    values.update(fields)
    return Record(line=7, fields=values, raw="…")


@pytest.fixture(scope="module")
def status() -> InboundMapping:
    return InboundMapping(load_mapping(WORKSHOP), "status")


def test_a_workshop_line_becomes_a_canonical_event(status: InboundMapping) -> None:
    event = status.map_record(workshop_row(), source="STATUTS.csv", recorded_at=NOW)
    assert isinstance(event, Event)
    assert event.status is CaseStatus.QUOTE_PENDING
    assert event.occurred_at.isoformat() == "2026-11-03T14:05:00+01:00"
    assert event.details.quote is not None
    assert event.details.quote.amount_incl_tax.amount == Decimal("149.90")
    assert event.details.quote.amount_incl_tax.currency == "EUR"
    assert event.details.note == "Carte mère HS; remplacement conseillé"
    assert (event.partner_ref, event.reported_by, event.raw_code) == (
        "AD-2026-004512",
        "atelier-dupont",
        "DEV",
    )


def test_the_same_line_gives_the_same_id_and_another_line_another(
    status: InboundMapping,
) -> None:
    first = status.map_record(workshop_row(), source="a.csv", recorded_at=NOW)
    resent = status.map_record(workshop_row(), source="b.csv", recorded_at=NOW + timedelta(1))
    later = status.map_record(workshop_row(Heure="14:06"), source="b.csv", recorded_at=NOW)
    assert isinstance(first, Event)
    assert isinstance(resent, Event)
    assert isinstance(later, Event)
    assert first.id == resent.id != later.id


def test_an_unknown_code_is_kept_unmapped(status: InboundMapping) -> None:
    event = status.map_record(workshop_row(**{"Code statut": "XYZ"}), source="s", recorded_at=NOW)
    assert isinstance(event, Event)
    assert event.unmapped
    assert event.raw_code == "XYZ"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"Date statut": "31/02/2026"}, "Date statut + Heure", "does not match the format"),
        ({"Heure": None}, "Date statut + Heure", "occurred_at is required"),
        ({"Montant devis TTC": "12,3,4"}, "Montant devis TTC", "is not an amount"),
        ({"Code statut": " "}, "Code statut", "raw_code is required"),
        ({"Réf. client": None, "N° série": None}, None, "needs Réf. client or N° série"),
    ],
)
def test_a_bad_line_is_rejected_with_where_and_why(
    status: InboundMapping, fields: dict[str, str | None], field: str | None, reason: str
) -> None:
    problem = status.map_record(workshop_row(**fields), source="STATUTS.csv", recorded_at=NOW)
    assert isinstance(problem, PartnerDataError)
    assert problem.location.source == "STATUTS.csv"
    assert problem.location.line == 7
    assert problem.location.field == field
    assert reason in problem.reason
    assert problem.raw == "…"


def test_local_times_follow_daylight_saving() -> None:
    winter = parse_instant("03/11/2026 14:05", "%d/%m/%Y %H:%M", PARIS)
    summer = parse_instant("03/06/2026 14:05", "%d/%m/%Y %H:%M", PARIS)
    assert winter.utcoffset() == timedelta(hours=1)
    assert summer.utcoffset() == timedelta(hours=2)
    explicit = parse_instant("2026-11-03T10:15:00Z", "iso8601", PARIS)
    assert explicit.utcoffset() == timedelta(0)


def test_an_hour_that_happens_twice_is_decided_by_the_mapping() -> None:
    wall = datetime(2026, 10, 25, 2, 30)
    assert localize(wall, PARIS).isoformat() == "2026-10-25T02:30:00+02:00"
    assert localize(wall, PARIS, ambiguous="later").isoformat() == "2026-10-25T02:30:00+01:00"
    with pytest.raises(ValueProblem, match="happens twice"):
        localize(wall, PARIS, ambiguous="reject")


def test_an_hour_that_never_happens_is_shifted_or_refused() -> None:
    wall = datetime(2026, 3, 29, 2, 30)
    assert localize(wall, PARIS).isoformat() == "2026-03-29T03:30:00+02:00"
    with pytest.raises(ValueProblem, match="does not exist"):
        localize(wall, PARIS, nonexistent="reject")


def test_amounts_take_only_the_declared_separator() -> None:
    assert parse_amount("149,90", ",") == Decimal("149.90")
    assert parse_amount("-3", ",") == Decimal(-3)
    for bad in ("149.90", "1 249,00", "12,3,4", ""):
        with pytest.raises(ValueProblem):
            parse_amount(bad, ",")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "partner.yaml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """version: 1
partner: atelier-test
messages:
  status:
    direction: inbound
    codec: {type: csv, encoding: utf-8, delimiter: ";"}
    event_type: case_status
    fields:
      raw_code: {column: code}
      occurred_at: {column: at, format: iso8601}
    codes:
      REC: received
"""


def test_a_code_listed_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "      REC: diagnosing\n")
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(path)
    assert f"{path}:13:" in caught.value.message
    assert "'REC' is listed twice (first on line 12)" in caught.value.message


def test_a_code_to_a_status_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("REC: received", "REC: in_transit"))
    with pytest.raises(ConfigurationError, match="in_transit, which are not case_status"):
        load_mapping(path)


def test_a_message_without_its_time_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path, MINIMAL.replace("      occurred_at: {column: at, format: iso8601}\n", "")
    )
    with pytest.raises(ConfigurationError, match="where occurred_at comes from") as caught:
        load_mapping(path)
    assert f"{path}:5: messages.status" in caught.value.message


PARCELS = """version: 1
partner: carrier-test
messages:
  parcel:
    direction: inbound
    codec: {type: csv, encoding: utf-8, delimiter: ";"}
    event_type: shipment_status
    fields:
      raw_code: {column: code}
      occurred_at: {column: at, format: iso8601}
      tracking_number: {column: parcel}
      case_ref: {column: ref, pattern: '^(.+?)(?:-R)?$'}
      shipment_leg: {column: ref, pattern: '(-R)$', values: {"-R": to_customer}}
      carrier_name: {column: carrier, values: {CE: ColisExpress}, default: another carrier}
    codes:
      LIV: delivered
"""


@pytest.mark.parametrize(
    ("reference", "carrier", "case_ref", "leg", "carrier_name"),
    [
        ("ME-000123-R", "CE", "ME-000123", "to_customer", "ColisExpress"),
        ("ME-000123", "CE", "ME-000123", None, "ColisExpress"),
        ("ME-000123-RR", "XX", "ME-000123-RR", None, "another carrier"),
        ("ME-000123", None, "ME-000123", None, "another carrier"),
    ],
)
def test_a_pattern_narrows_a_value_and_a_value_table_translates_it(
    tmp_path: Path,
    reference: str,
    carrier: str | None,
    case_ref: str,
    leg: str | None,
    carrier_name: str,
) -> None:
    inbound = InboundMapping(load_mapping(_write(tmp_path, PARCELS)), "parcel")
    fields = {"code": "LIV", "at": "2026-11-12T10:40:00+01:00", "parcel": "CE777000222FR"}
    record = Record(2, fields | {"ref": reference, "carrier": carrier}, "LIV;…")
    event = inbound.map_record(record, source="f", recorded_at=NOW)
    assert isinstance(event, Event), event
    assert event.case_ref == case_ref
    assert event.details.shipment is not None
    assert event.details.shipment.leg == leg
    assert event.details.shipment.carrier_name == carrier_name


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("{column: ref, pattern: '(unclosed'}", "is not a regular expression"),
        ("{column: ref, pattern: '(a)(b)'}", "may have one group, it has 2"),
        ("{const: ME, pattern: 'M'}", "a const takes no pattern, values or default"),
    ],
)
def test_a_pattern_that_cannot_work_is_refused(tmp_path: Path, field: str, problem: str) -> None:
    text = PARCELS.replace("{column: ref, pattern: '^(.+?)(?:-R)?$'}", field)
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        load_mapping(_write(tmp_path, text))


def test_a_null_code_is_known_but_not_mapped(tmp_path: Path) -> None:
    mapping = load_mapping(_write(tmp_path, MINIMAL + "      NEW: null\n"))
    inbound = InboundMapping(mapping, "status")
    record = Record(2, {"code": "NEW", "at": "2026-11-03T10:00:00+01:00"}, "NEW;…")
    event = inbound.map_record(record, source="f", recorded_at=NOW)
    assert isinstance(event, Event)
    assert event.unmapped


def test_a_repair_order_is_rendered_in_the_workshop_s_words() -> None:
    orders = OutboundMapping(load_mapping(WORKSHOP), "repair_order")
    retailer = Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro")
    case = make_case(product={"brand": "Seb", "model": "X", "purchase_date": "2026-02-11"})
    row = orders.render({"case": case, "retailer": retailer})
    assert row["Réf. client"] == "ME-000123"
    assert row["Enseigne"] == "Maison Électro"
    assert row["Date achat"] == "11/02/2026"
    assert row["Garantie"] == "O"
    assert row["N° suivi aller"] is None
    assert orders.file_name(now=datetime(2026, 11, 3, 10, 15, tzinfo=UTC)) == (
        "ORDRES_20261103_101500.csv"
    )
    assert make_case(coverage="none").coverage.value == "none"
    assert (
        orders.render({"case": make_case(coverage="none"), "retailer": retailer})["Garantie"] == "N"
    )


def test_a_repair_order_missing_what_the_workshop_needs_is_not_rendered() -> None:
    orders = OutboundMapping(load_mapping(WORKSHOP), "repair_order")
    with pytest.raises(OutboundRenderError, match=r"'Enseigne': retailer\.name is empty"):
        orders.render({"case": make_case(), "retailer": None})


OUTBOUND = """version: 1
partner: workshop-test
messages:
  order:
    direction: outbound
    file_name: "{name}"
    codec: {codec}
    {batch}
    columns:
      ref: {{from: case.reference}}
"""
CSV = "{type: csv, encoding: utf-8}"
XML = "{type: xml, record: Order, fields: {ref: Ref}}"


def _outbound(tmp_path: Path, *, name: str, codec: str = CSV, batch: str = "") -> Path:
    return _write(tmp_path, OUTBOUND.format(name=name, codec=codec, batch=batch))


def test_a_file_name_may_use_the_time_and_the_message_id(tmp_path: Path) -> None:
    path = _outbound(tmp_path, name="ORDER_{now:%Y%m%d}_{id}.csv", batch="batch: {max_records: 5}")
    spec = load_mapping(path)
    mapping = OutboundMapping(spec, "order")
    assert mapping.file_name(now=NOW, identifier="00000042") == "ORDER_20261105_00000042.csv"
    assert mapping.spec.batch is not None
    assert mapping.spec.batch.max_records == 5


@pytest.mark.parametrize("name", ["ORDER_{message_id}.csv", "ORDER_{}.csv", "ORDER_{now.x}{"])
def test_a_file_name_with_an_unknown_placeholder_is_refused_at_load(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigurationError, match="file_name"):
        load_mapping(_outbound(tmp_path, name=name))


def test_only_a_codec_holding_many_records_can_send_batches(tmp_path: Path) -> None:
    path = _outbound(tmp_path, name="o_{id}.xml", codec=XML, batch="batch: {max_records: 5}")
    with pytest.raises(ConfigurationError, match=r"messages\.order\.batch: batch needs a codec"):
        load_mapping(path)


def test_codes_by_pattern_come_after_the_exact_ones(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "      REC: received\n", '      REC: received\n      "R*": repaired\n      DX: null\n'
    )
    inbound = InboundMapping(load_mapping(_write(tmp_path, text)), "status")

    def status_of(code: str) -> str | None:
        record = Record(2, {"code": code, "at": "2026-11-03T10:00:00+01:00"}, code)
        event = inbound.map_record(record, source="f", recorded_at=NOW)
        assert isinstance(event, Event), event
        return None if event.status is None else event.status.value

    assert [status_of(code) for code in ("REC", "REP", "R12", "DX", "QQ")] == [
        "received",
        "repaired",
        "repaired",
        None,  # known, not mapped: a pattern does not override it
        None,
    ]


def test_identity_targets_tell_same_second_facts_in_two_places_apart(tmp_path: Path) -> None:
    places = MINIMAL.replace(
        "      occurred_at: {column: at, format: iso8601}\n",
        "      occurred_at: {column: at, format: iso8601}\n"
        "      case_ref: {column: ref}\n"
        "      location_city: {column: city}\n",
    )
    at = "2026-11-03T10:00:00+01:00"

    def ids(text: str) -> set[str]:
        inbound = InboundMapping(load_mapping(_write(tmp_path, text)), "status")
        events = [
            inbound.map_record(
                Record(n, {"code": "REC", "at": at, "ref": "ME-1", "city": city}, city),
                source="f",
                recorded_at=NOW,
            )
            for n, city in enumerate(("Lyon", "Grenoble"), start=2)
        ]
        return {event.id for event in events if isinstance(event, Event)}

    assert len(ids(places)) == 1  # by default, the same fact: merged
    with_identity = places.replace("    codes:\n", "    identity: [location_city]\n    codes:\n")
    assert len(ids(with_identity)) == 2
    with pytest.raises(ConfigurationError, match="identity names targets with no field: note"):
        load_mapping(
            _write(tmp_path, places.replace("    codes:\n", "    identity: [note]\n    codes:\n"))
        )


def test_columns_can_leave_their_empty_parts_out(tmp_path: Path) -> None:
    """``skip_empty`` joins what is there with ``separator``; without it, one empty column
    gives no value (a date without its time is no date)."""
    path = _write(
        tmp_path,
        """
version: 1
partner: carrier-one
timezone: Europe/Paris
messages:
  status:
    direction: inbound
    codec: {type: csv, encoding: utf-8}
    event_type: shipment_status
    fields:
      tracking_number: {column: parcel, required: true}
      raw_code: {column: code, required: true}
      occurred_at: {column: at, format: iso8601, required: true}
      note: {columns: [city, signer], skip_empty: true, separator: " / "}
      reason: {columns: [city, signer]}
    codes: {"80": delivered}
""",
    )
    mapping = InboundMapping(load_mapping(path), "status")

    def read(city: str | None, signer: str | None) -> Event:
        fields = {"parcel": "AF7700112233", "code": "80", "at": "2026-11-04T17:42:00+01:00"}
        record = Record(line=2, fields={**fields, "city": city, "signer": signer}, raw="…")
        event = mapping.map_record(record, source="s", recorded_at=NOW)
        assert isinstance(event, Event)
        return event

    both = read("VALENCE", "M. RENÉ FAURE")
    assert both.details.note == "VALENCE / M. RENÉ FAURE"
    assert both.details.reason == "VALENCE M. RENÉ FAURE"
    city_only = read("LYON", " ")
    assert city_only.details.note == "LYON"
    assert city_only.details.reason is None
    assert read(None, None).details.note is None


@pytest.mark.parametrize(
    ("codec", "where"),
    [
        (
            '{type: xml, namespaces: {rd: "urn:rd"}, record: //rd:Evt,\n'
            "             fields: {code: zz:Code, at: rd:At}}",
            "messages.status.codec.fields.code: field 'code': 'zz:Code' is not a usable XPath",
        ),
        (
            '{type: json, record: "$.events[*]",\n             fields: {code: code, at: $.at}}',
            "messages.status.codec.fields.code: field 'code': path 'code': a path starts with $",
        ),
    ],
)
def test_a_bad_field_path_names_the_mapping_file_and_the_fields_line(
    tmp_path: Path, codec: str, where: str
) -> None:
    text = MINIMAL.replace('{type: csv, encoding: utf-8, delimiter: ";"}', codec)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigurationError) as refused:
        load_mapping(path)
    assert refused.value.message.startswith(f"{path}:7: {where}")


def test_spaces_inside_a_value_are_normalised_when_the_mapping_asks(tmp_path: Path) -> None:
    """A JSON label wrapped over lines reads as XPath's normalize-space() would give it."""
    text = MINIMAL.replace(
        "      occurred_at: {column: at, format: iso8601}\n",
        "      occurred_at: {column: at, format: iso8601}\n"
        "      raw_label: {column: label, normalize_space: true}\n"
        "      note: {column: label}\n",
    )
    inbound = InboundMapping(load_mapping(_write(tmp_path, text)), "status")
    label = "  Colis \n  pris\ten   charge "
    record = Record(2, {"code": "REC", "at": "2026-11-03T10:00:00+01:00", "label": label}, "…")
    event = inbound.map_record(record, source="f", recorded_at=NOW)
    assert isinstance(event, Event), event
    assert event.raw_label == "Colis pris en charge"
    assert event.details.note == "Colis \n  pris\ten   charge"  # by default: only trimmed
