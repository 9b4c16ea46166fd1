"""`hub adapters new` drafts a mapping for every format the hub reads, from one realistic
sample each (a carrier's JSON answer with several parcels, a SOAP answer, an EDIFACT
IFTSTA interchange, a fixed-width file with header and trailer, a CSV export); the
draft loads, `hub adapters test` says what is missing, and once the codes are given the
draft maps the sample right. Run as processes, as an integrator would."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.scaffold import SampleFormat, detect_format, draft_mapping
from adapters.scaffold.layout import file_pattern
from tests.test_cli import run

CARRIER_JSON = {
    "account": "HUB-0042",
    "shipments": [
        {
            "tracking_number": "FP100000001FR",
            "reference": "ME-000123",
            "events": [
                {"code": "PU", "description": "Picked up", "timestamp": "2026-11-02T17:31:00+01:00",
                 "location": {"city": "Lyon", "postcode": "69003"}},
                {"code": "IT", "description": "Sorted", "timestamp": "2026-11-03T06:02:00+01:00",
                 "location": {"city": "Chaponnay", "postcode": "69970"}},
                {"code": "DL", "description": "Delivered", "timestamp": "2026-11-03T11:45:00+01:00",
                 "location": {"city": "Paris", "postcode": "75011"}, "signed_by": "M. Martin"},
            ],
        },
        {
            "tracking_number": "FP100000002FR",
            "reference": "BM-002041",
            "events": [
                {"code": "PU", "description": "Picked up", "timestamp": "2026-11-03T09:10:00+01:00",
                 "location": {"city": "Nantes", "postcode": "44000"}},
                {"code": "OD", "description": "Out for delivery",
                 "timestamp": "2026-11-04T07:55:00+01:00",
                 "location": {"city": "Rennes", "postcode": "35000"}},
            ],
        },
    ],
}  # fmt: skip

SOAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <tr:TrackResponse xmlns:tr="urn:example:track:2">
      <tr:Parcel trackingNumber="6A0000000001" ref="ME-000123">
        <tr:Event><tr:Code>PCH</tr:Code><tr:Date>02/11/2026 17:31</tr:Date>
          <tr:Label>Pris en charge</tr:Label><tr:Site><tr:City>Lyon</tr:City></tr:Site></tr:Event>
        <tr:Event><tr:Code>LIV</tr:Code><tr:Date>03/11/2026 11:45</tr:Date>
          <tr:Label>Livré</tr:Label><tr:Site><tr:City>Paris</tr:City></tr:Site></tr:Event>
      </tr:Parcel>
      <tr:Parcel trackingNumber="6A0000000002" ref="BM-002041">
        <tr:Event><tr:Code>PCH</tr:Code><tr:Date>03/11/2026 09:10</tr:Date>
          <tr:Label>Pris en charge</tr:Label><tr:Site><tr:City>Nantes</tr:City></tr:Site></tr:Event>
        <tr:Event><tr:Code>AVI</tr:Code><tr:Date>04/11/2026 14:20</tr:Date>
          <tr:Label>Avisé, absent</tr:Label><tr:Site><tr:City>Rennes</tr:City></tr:Site></tr:Event>
      </tr:Parcel>
    </tr:TrackResponse>
  </soap:Body>
</soap:Envelope>
"""

_IFTSTA_BODY = [
    "UNH+1+IFTSTA:D:01B:UN",
    "BGM+23+417+9",
    "DTM+137:202611041015:203",
    "CNI+1+AF100001",
    "LOC+175+VAL::ZZZ:VALENCE",
    "STS+1+21",
    "RFF+CU:ME-000123",
    "DTM+334:202611040815:203",
    "CNI+2+AF100002",
    "STS+1+80",
    "RFF+CU:BM-002041",
    "DTM+334:202611041002:203",
    "FTX+AAA+++Livré?: RAS",
]
IFTSTA = (
    "UNA:+.? '\n"
    "UNB+UNOC:3+CARRIER+HUB+261104:1015+417'\n"
    + "".join(f"{segment}'\n" for segment in _IFTSTA_BODY)
    + f"UNT+{len(_IFTSTA_BODY) + 1}+1'\nUNZ+1+417'\n"
)

FIXED_WIDTH = "\n".join(
    [
        "HATELIERNORD   20261104 0042",
        "DJ000451  ME-000123      04112026 0915 RECU",
        "DJ000452  BM-002041      04112026 1102 DIAG",
        "DJ000451  ME-000123      04112026 1630 TERM",
        "DJ000460                 04112026 1705 RECU",
        "T000004",
        "",
    ]
)

CSV_EXPORT = (
    "tracking_number,reference,event_code,event_time,city\n"
    "LP0000000001,ME-000123,COL,2026-11-04 09:15:00,Lyon\n"
    "LP0000000001,ME-000123,HUB,2026-11-04 18:40:00,Chaponnay\n"
    "LP0000000002,BM-002041,COL,2026-11-04 10:05:00,Nantes\n"
    "LP0000000001,ME-000123,DLV,2026-11-05 10:30:00,Paris\n"
)


def _draft(tmp_path: Path, name: str, content: bytes) -> tuple[list[str], str, dict[str, Any]]:
    """`hub adapters new` on a sample: the folder options, its output and the draft."""
    sample = tmp_path / name
    sample.write_bytes(content)
    folders = ["--mappings", str(tmp_path / "mappings"), "--fixtures", str(tmp_path / "fixtures")]
    created = run("adapters", "new", "new-partner", "--sample", str(sample), *folders, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert "Traceback" not in created.stderr
    text = (tmp_path / "mappings" / "new-partner.yaml").read_text(encoding="utf-8")
    return folders, created.stdout, yaml.safe_load(text)


def _conform(tmp_path: Path, folders: list[str], codes: dict[str, str]) -> list[dict[str, Any]]:
    """Before the codes: the test explains; with them: the events the sample gives."""
    before = run("adapters", "test", "new-partner", *folders, cwd=tmp_path)
    assert before.returncode == 1, before.stdout
    assert "Traceback" not in before.stderr
    assert "no golden file" in before.stderr
    assert "run with --update" in before.stderr
    assert "event(s), 0 reject(s)" in before.stderr
    note = re.search(r"messages\.status\.codes: (\d+) code\(s\) not mapped yet", before.stdout)
    assert note, before.stdout
    assert int(note.group(1)) == len(codes)
    path = tmp_path / "mappings" / "new-partner.yaml"
    text = path.read_text(encoding="utf-8")
    for code, status in codes.items():
        text = text.replace(f'"{code}": null', f'"{code}": {status}')
    path.write_text(text, encoding="utf-8")
    assert (
        run("adapters", "test", "new-partner", *folders, "--update", cwd=tmp_path).returncode == 0
    )
    after = run("adapters", "test", "new-partner", *folders, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "not mapped yet" not in after.stdout
    golden = next((tmp_path / "fixtures" / "new-partner").glob("*.expected.jsonl"))
    lines = [json.loads(line) for line in golden.read_text(encoding="utf-8").splitlines()]
    assert all("event" in line for line in lines), lines
    return [line["event"] for line in lines]


def _tracking(event: dict[str, Any]) -> str | None:
    return event.get("details", {}).get("shipment", {}).get("tracking_number")


def test_a_carrier_json_answer_with_several_parcels(tmp_path: Path) -> None:
    content = json.dumps(CARRIER_JSON, indent=2).encode()
    folders, stdout, draft = _draft(tmp_path, "tracking_FP100000001FR.json", content)
    message = draft["messages"]["status"]
    assert message["file_pattern"] == "tracking_*.json"
    assert message["codec"]["type"] == "json"
    assert message["codec"]["record"] == "$.shipments[*].events[*]"
    assert message["codec"]["fields"]["tracking_number"] == "^.tracking_number"
    assert message["codec"]["fields"]["location_city"] == "$.location.city"
    assert message["event_type"] == "shipment_status"
    assert message["fields"]["occurred_at"] == {
        "column": "timestamp", "format": "iso8601", "required": True,
    }  # fmt: skip
    assert message["fields"]["tracking_number"] == {"column": "tracking_number"}
    assert message["fields"]["case_ref"] == {"column": "reference"}
    assert message["codes"] == {"PU": None, "IT": None, "DL": None, "OD": None}
    assert "map the 4 code(s)" in stdout
    events = _conform(
        tmp_path,
        folders,
        {"PU": "picked_up", "IT": "in_transit", "DL": "delivered", "OD": "out_for_delivery"},
    )
    assert [(e["status"], _tracking(e), e["case_ref"]) for e in events] == [
        ("picked_up", "FP100000001FR", "ME-000123"),
        ("in_transit", "FP100000001FR", "ME-000123"),
        ("delivered", "FP100000001FR", "ME-000123"),
        ("picked_up", "FP100000002FR", "BM-002041"),
        ("out_for_delivery", "FP100000002FR", "BM-002041"),
    ], "each parcel's events carry their own parcel's number"
    assert events[2]["occurred_at"] == "2026-11-03T11:45:00+01:00"


def test_a_soap_answer(tmp_path: Path) -> None:
    folders, _, draft = _draft(tmp_path, "suivi_6A0000000001.xml", SOAP_XML.encode())
    message = draft["messages"]["status"]
    codec = message["codec"]
    assert message["file_pattern"] == "suivi_*.xml"
    assert codec["namespaces"] == {
        "soap": "http://schemas.xmlsoap.org/soap/envelope/", "tr": "urn:example:track:2",
    }  # fmt: skip
    assert codec["record"] == "/soap:Envelope/soap:Body/tr:TrackResponse/tr:Parcel/tr:Event"
    assert codec["fields"]["Code"] == "tr:Code"
    assert codec["fields"]["Site_City"] == "tr:Site/tr:City"
    assert codec["fields"]["trackingNumber"] == "../@trackingNumber"
    fields = message["fields"]
    assert fields["occurred_at"]["format"] == "%d/%m/%Y %H:%M"
    assert fields["raw_code"]["column"] == "Code"
    assert fields["tracking_number"] == {"column": "trackingNumber"}
    assert fields["case_ref"] == {"column": "ref"}
    assert fields["location_city"] == {"column": "Site_City"}
    events = _conform(
        tmp_path, folders, {"PCH": "picked_up", "LIV": "delivered", "AVI": "failed_attempt"}
    )
    assert [(e["raw_code"], _tracking(e), e["occurred_at"]) for e in events] == [
        ("PCH", "6A0000000001", "2026-11-02T17:31:00+01:00"),
        ("LIV", "6A0000000001", "2026-11-03T11:45:00+01:00"),
        ("PCH", "6A0000000002", "2026-11-03T09:10:00+01:00"),
        ("AVI", "6A0000000002", "2026-11-04T14:20:00+01:00"),
    ]
    assert events[3]["raw_label"] == "Avisé, absent"


def test_an_edifact_iftsta_interchange(tmp_path: Path) -> None:
    folders, _, draft = _draft(tmp_path, "IFTSTA_00000417.edi", IFTSTA.encode("latin-1"))
    message = draft["messages"]["status"]
    codec = message["codec"]
    assert message["file_pattern"] == "IFTSTA_*.edi"
    assert (codec["type"], codec["record"], codec["encoding"]) == ("edifact", "CNI", "UNOC")
    assert codec["fields"]["cni_2"] == "CNI/2"
    assert codec["fields"]["dtm_334_1_2"] == "DTM[334]/1/2"
    fields = message["fields"]
    assert fields["occurred_at"] == {
        "column": "dtm_334_1_2", "format": "%Y%m%d%H%M", "required": True,
    }  # fmt: skip
    assert fields["raw_code"] == {"column": "sts_2", "required": True}
    assert fields["tracking_number"] == {"column": "cni_2"}
    assert fields["case_ref"] == {"column": "rff_cu_1_2"}
    assert fields["note"] == {"column": "ftx_aaa_4"}
    events = _conform(tmp_path, folders, {"21": "in_transit", "80": "delivered"})
    assert [(e["status"], _tracking(e), e["occurred_at"]) for e in events] == [
        ("in_transit", "AF100001", "2026-11-04T08:15:00+01:00"),
        ("delivered", "AF100002", "2026-11-04T10:02:00+01:00"),
    ]
    assert events[0]["details"]["location"] == {"id": "VAL", "name": "VALENCE"}
    assert events[1]["details"]["note"] == "Livré: RAS"


def test_a_fixed_width_file_with_header_and_trailer(tmp_path: Path) -> None:
    folders, stdout, draft = _draft(tmp_path, "STAT_20261104_0042.txt", FIXED_WIDTH.encode())
    message = draft["messages"]["status"]
    codec = message["codec"]
    assert message["file_pattern"] == "STAT_*.txt"
    assert codec["type"] == "fixed_width"
    records = codec["records"]
    assert {name: r["prefix"] for name, r in records.items()} == {
        "header": "H", "detail": "D", "trailer": "T",
    }  # fmt: skip
    assert (records["header"]["role"], records["trailer"]["role"]) == ("header", "trailer")
    assert records["detail"]["fields"] == {
        "pos2_8": {"start": 2, "end": 8},
        "pos11_19": {"start": 11, "end": 19},
        "pos26_33": {"start": 26, "end": 33},
        "pos35_38": {"start": 35, "end": 38},
        "pos40_43": {"start": 40, "end": 43},
    }
    assert codec["controls"] == {"header": "required", "trailer": "required"}
    assert message["fields"]["occurred_at"] == {
        "columns": ["pos26_33", "pos35_38"], "format": "%d%m%Y %H%M", "required": True,
    }  # fmt: skip
    assert message["fields"]["raw_code"]["column"] == "pos40_43"
    assert "name the fixed-width fields from the partner's sheet" in stdout
    events = _conform(
        tmp_path, folders, {"RECU": "received", "DIAG": "diagnosing", "TERM": "repaired"}
    )
    assert [(e["status"], e["occurred_at"]) for e in events] == [
        ("received", "2026-11-04T09:15:00+01:00"),
        ("diagnosing", "2026-11-04T11:02:00+01:00"),
        ("repaired", "2026-11-04T16:30:00+01:00"),
        ("received", "2026-11-04T17:05:00+01:00"),
    ]


def test_a_csv_export(tmp_path: Path) -> None:
    folders, _, draft = _draft(tmp_path, "events-20261105.csv", CSV_EXPORT.encode())
    message = draft["messages"]["status"]
    assert message["file_pattern"] == "events-*.csv"
    assert message["codec"] == {
        "type": "csv", "encoding": "utf-8", "delimiter": ",", "line_terminator": "\n",
    }  # fmt: skip
    assert message["header"] == ["tracking_number", "reference", "event_code", "event_time", "city"]
    fields = message["fields"]
    assert fields["occurred_at"] == {"column": "event_time", "format": "iso8601", "required": True}
    assert fields["raw_code"] == {"column": "event_code", "required": True}
    assert fields["location_city"] == {"column": "city"}
    events = _conform(
        tmp_path, folders, {"COL": "picked_up", "HUB": "in_transit", "DLV": "delivered"}
    )
    assert [(e["status"], _tracking(e), e["occurred_at"]) for e in events] == [
        ("picked_up", "LP0000000001", "2026-11-04T09:15:00+01:00"),
        ("in_transit", "LP0000000001", "2026-11-04T18:40:00+01:00"),
        ("picked_up", "LP0000000002", "2026-11-04T10:05:00+01:00"),
        ("delivered", "LP0000000001", "2026-11-05T10:30:00+01:00"),
    ]


def test_what_the_sample_cannot_say_is_left_for_the_checks_to_name(tmp_path: Path) -> None:
    """No date in the sample: no made-up occurred_at; the draft does not load, and both
    checks say where and what to write."""
    content = json.dumps({"parcels": [{"no": "X1", "state": "A"}, {"no": "X2", "state": "B"},
                                      {"no": "X3", "state": "A"}]}).encode()  # fmt: skip
    folders, stdout, draft = _draft(tmp_path, "answer.json", content)
    assert "occurred_at" not in draft["messages"]["status"]["fields"]
    assert "1970" not in (tmp_path / "mappings" / "new-partner.yaml").read_text(encoding="utf-8")
    assert "no field reads as a date and time: write occurred_at" in stdout
    tested = run("adapters", "test", "new-partner", *folders, cwd=tmp_path)
    assert tested.returncode == 2
    assert "Traceback" not in tested.stderr
    mapping = tmp_path / "mappings" / "new-partner.yaml"
    assert f"{mapping}:" in tested.stderr
    assert "fields must say where occurred_at comes from: add a line" in tested.stderr


def test_an_empty_code_table_is_explained_not_raised(tmp_path: Path) -> None:
    """A draft whose codes are all removed: `hub adapters test` explains, no StopIteration."""
    folders, _, _ = _draft(tmp_path, "events-1.csv", CSV_EXPORT.encode())
    path = tmp_path / "mappings" / "new-partner.yaml"
    text = re.sub(r'\n      "\w+": null[^\n]*', "", path.read_text(encoding="utf-8"))
    path.write_text(text.replace("    codes:\n", "    codes: {}\n"), encoding="utf-8")
    tested = run("adapters", "test", "new-partner", *folders, cwd=tmp_path)
    assert tested.returncode == 1
    assert "Traceback" not in tested.stderr
    assert "StopIteration" not in tested.stderr
    assert "the code table is empty" in tested.stdout


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.txt", b'  {"a": 1}', SampleFormat.JSON),
        ("a.txt", b"\xef\xbb\xbf<?xml version='1.0'?><a/>", SampleFormat.XML),
        ("a.dat", b"UNB+UNOC:3+A+B+261104:1015+1'", SampleFormat.EDIFACT),
        ("a.dat", IFTSTA.encode("latin-1"), SampleFormat.EDIFACT),
        ("a.txt", b"a;b;c\n1;2;3\n4;5;6\n", SampleFormat.CSV),
        ("a.txt", FIXED_WIDTH.encode(), SampleFormat.FIXED_WIDTH),
    ],
)
def test_the_format_is_told_from_the_bytes(name: str, content: bytes, expected: str) -> None:
    assert detect_format(content, name) is expected


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("parcel_events_CE123456789FR.json", "parcel_events_*.json"),
        ("STATUTS_20261103_1415.csv", "STATUTS_*.csv"),
        ("RO_STAT_20261104_0017.txt", "RO_STAT_*.txt"),
        ("IFTSTA_00000417.edi", "IFTSTA_*.edi"),
        ("20261104.xml", "*.xml"),
        ("answer.json", "answer*.json"),
    ],
)
def test_the_file_pattern_matches_its_own_sample(name: str, pattern: str) -> None:
    assert file_pattern(name) == pattern


def test_the_record_s_own_time_beats_its_batch_s_and_bad_rows_do_not_hide_a_field() -> None:
    """A batch stamped when it was sent: the events' own Date and Heure are the time,
    even with one malformed date among them (it becomes a reject, shown by the test);
    the batch's values are never the status code."""
    batch = (
        '<Lots emis="2026-11-04T10:00:00+01:00" etat="OK">'
        '<Evt><Code>PEC</Code><Date>03/11/2026</Date><Heure>09:12</Heure></Evt>'
        '<Evt><Code>TRA</Code><Date>03/11/2026</Date><Heure>18:40</Heure></Evt>'
        '<Evt><Code>DEP</Code><Date>31/11/2026</Date><Heure>08:05</Heure></Evt>'
        '<Evt><Code>REM</Code><Date>04/11/2026</Date><Heure>09:30</Heure></Evt>'
        "</Lots>"
    )  # fmt: skip
    draft = draft_mapping("relay", batch.encode(), "lot_0042.xml")
    fields = yaml.safe_load(draft.yaml_text)["messages"]["status"]["fields"]
    assert fields["occurred_at"] == {
        "columns": ["Date", "Heure"], "format": "%d/%m/%Y %H:%M", "required": True,
    }  # fmt: skip
    assert fields["raw_code"] == {"column": "Code", "required": True}
    assert draft.codes_seen == {"PEC": 1, "TRA": 1, "DEP": 1, "REM": 1}


def test_a_default_namespace_gets_a_prefix_and_xml_lang_is_no_field() -> None:
    """XPath 1.0 has no default namespace: the draft names it ns and uses it."""
    answer = (
        '<r:Answer xmlns:r="urn:example:a" xmlns="urn:example:default" xml:lang="fr">'
        '<Item xml:lang="fr" code="A"><When>2026-11-04T10:00:00Z</When></Item>'
        '<Item code="B"><When>2026-11-04T11:00:00Z</When></Item>'
        "</r:Answer>"
    )
    codec = yaml.safe_load(draft_mapping("p", answer.encode(), "a.xml").yaml_text)["messages"][
        "status"
    ]["codec"]
    assert codec["namespaces"] == {"r": "urn:example:a", "ns": "urn:example:default"}
    assert codec["record"] == "/r:Answer/ns:Item"
    assert codec["fields"] == {"code": "@code", "When": "ns:When"}
