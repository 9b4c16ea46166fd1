"""Sequence numbers between files, for any file codec: judged against the last number the
connector kept (in the store, with the file's events); a gap, a repeat or an older file
is a file warning of its own, flagged until acknowledged; the file itself goes in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from cli import app
from hub.api import create_app
from hub.api.operator_auth import TOKEN_ENV
from hub.config.alerting import AlertingSpec
from hub.errors import ConfigurationError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.spec import SequenceSpec
from hub.partners.alerts import flags_for
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.sequence import SequenceMark, WarningKind, advances, judge
from hub.ports import MessageRef, RawMessage
from hub.store import file_warnings
from hub.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
YEARLY = SequenceSpec(field="header.seq", date_field="header.day", restart="yearly")


def mark(number: int, on: date | None = date(2026, 11, 4)) -> SequenceMark:
    return SequenceMark(number, f"{number:04d}", on, f"F_{number:04d}.txt")


@pytest.mark.parametrize(
    ("last", "current", "kind"),
    [
        (None, mark(17), None),
        (mark(17), mark(18), None),
        (mark(17), mark(19), WarningKind.SEQUENCE_GAP),
        (mark(17), mark(17), WarningKind.SEQUENCE_REPEATED),
        (mark(17), mark(12), WarningKind.SEQUENCE_OLDER),
        (mark(8760, date(2026, 12, 31)), mark(1, date(2027, 1, 1)), None),
        (mark(8760, date(2026, 12, 31)), mark(3, date(2027, 1, 1)), WarningKind.SEQUENCE_GAP),
        (mark(5, date(2027, 1, 1)), mark(1, date(2026, 12, 31)), WarningKind.SEQUENCE_OLDER),
    ],
)
def test_judge(last: SequenceMark | None, current: SequenceMark, kind: WarningKind | None) -> None:
    verdict = judge(YEARLY, last, current)
    assert (verdict and verdict.kind) == kind


def test_gap_reason_names_the_missing_numbers_and_files() -> None:
    verdict = judge(YEARLY, mark(17), mark(20))
    assert verdict is not None
    assert "F_0020.txt is number 0020 after 0017 (F_0017.txt): 2 files (18 to 19)" in (
        verdict.reason
    )


def test_a_late_file_does_not_become_the_last_one() -> None:
    assert advances(YEARLY, mark(17), mark(18))
    assert not advances(YEARLY, mark(17), mark(12))
    assert advances(YEARLY, mark(8760, date(2026, 12, 31)), mark(1, date(2027, 1, 1)))
    assert not advances(YEARLY, mark(2, date(2027, 1, 1)), mark(8761, date(2026, 12, 31)))


def test_without_restart_a_new_year_is_no_reset() -> None:
    plain = SequenceSpec(field="header.seq")
    verdict = judge(plain, mark(8760, date(2026, 12, 31)), mark(1, date(2027, 1, 1)))
    assert verdict is not None
    assert verdict.kind is WarningKind.SEQUENCE_OLDER


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "either field"),
        ({"field": "h.seq", "name_pattern": "(?P<seq>\\d+)"}, "either field"),
        ({"name_pattern": "(\\d+)"}, "group named seq"),
        ({"name_pattern": "(?P<seq>\\d+"}, "not a regular expression"),
        ({"field": "h.seq", "restart": "yearly"}, "needs the file's date"),
    ],
)
def test_spec_mistakes_are_said(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SequenceSpec.model_validate(settings)


FIXED = {
    "version": 1,
    "partner": "numbered-workshop",
    "timezone": "Europe/Paris",
    "messages": {
        "status": {
            "direction": "inbound",
            "codec": {
                "type": "fixed_width",
                "encoding": "iso-8859-15",
                "line_length": 30,
                "records": {
                    "header": {
                        "prefix": "01",
                        "role": "header",
                        "fields": {
                            "day": {"start": 3, "length": 8},
                            "seq": {"start": 11, "end": 14},
                        },
                    },
                    "status": {
                        "prefix": "02",
                        "fields": {
                            "job": {"start": 3, "length": 6},
                            "at": {"start": 9, "length": 12},
                            "code": {"start": 21, "length": 4},
                        },
                    },
                    "trailer": {
                        "prefix": "09",
                        "role": "trailer",
                        "fields": {"count": {"start": 3, "length": 4, "numeric": True}},
                    },
                },
                "controls": {
                    "header": "required",
                    "trailer": "required",
                    "count": {"record": "trailer", "field": "count", "counts": ["status"]},
                },
            },
            "event_type": "case_status",
            "fields": {
                "partner_ref": {"column": "job", "required": True},
                "case_ref": {"column": "job"},
                "occurred_at": {"column": "at", "format": "%Y%m%d%H%M", "required": True},
                "raw_code": {"column": "code", "required": True},
            },
            "codes": {"RECU": "received"},
            "sequence": {
                "field": "header.seq",
                "date_field": "header.day",
                "restart": "yearly",
            },
        }
    },
}


def pipeline_of(tmp_path: Path, mapping: dict[str, object]) -> InboundPipeline:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    spec = load_mapping(path)
    return InboundPipeline(build_codec(spec.inbound("status")), InboundMapping(spec, "status"))


def fixed_file(day: str, seq: int, jobs: int = 1, count: int | None = None) -> bytes:
    lines = [f"01{day}{seq:04d}"]
    lines += [f"02J{seq:03d}{n:02d}{day}0930RECU" for n in range(jobs)]
    lines.append(f"09{jobs if count is None else count:04d}")
    return "".join(line + "\n" for line in lines).encode("iso-8859-15")


def ingest(database: Database, pipeline: InboundPipeline, name: str, content: bytes) -> list[str]:
    message = RawMessage(MessageRef(name, len(content), datetime.now(UTC)), content)
    return ingest_message(database, "numbered-status", pipeline, message).warnings


def test_files_between_runs_gap_repeat_restart_and_refused_files(
    database: Database, tmp_path: Path
) -> None:
    pipeline = pipeline_of(tmp_path, FIXED)
    assert ingest(database, pipeline, "S_0017.txt", fixed_file("20261104", 17)) == []
    assert ingest(database, pipeline, "S_0018.txt", fixed_file("20261104", 18)) == []
    # A file refused whole (bad count) was still received: the corrected one under the
    # next number is no gap.
    assert ingest(database, pipeline, "S_0019.txt", fixed_file("20261104", 19, count=7)) == []
    assert ingest(database, pipeline, "S_0020.txt", fixed_file("20261104", 20)) == []
    gap = ingest(database, pipeline, "S_0022.txt", fixed_file("20261104", 22, jobs=2))
    assert len(gap) == 1
    assert "1 file (21) lost" in gap[0]
    again = ingest(database, pipeline, "S_0022b.txt", fixed_file("20261104", 22, jobs=3))
    assert len(again) == 1
    assert "sequence repeated" in again[0]
    assert ingest(database, pipeline, "S_0001.txt", fixed_file("20270101", 1)) == []
    with database.transaction() as connection:
        kept = file_warnings.all_warnings(connection)
        last = file_warnings.last_sequence(connection, "numbered-status")
        counts = file_warnings.open_warning_counts(connection)
    assert [(w.source, w.kind) for w in kept] == [
        ("S_0022.txt", "sequence_gap"),
        ("S_0022b.txt", "sequence_repeated"),
    ]
    assert all(w.message_id is not None for w in kept)
    assert last is not None
    assert SequenceMark.load(last).on == date(2027, 1, 1)
    assert counts == {"numbered-status": 2}
    with database.transaction() as connection:
        assert (
            file_warnings.acknowledge_warnings(connection, "numbered-status", now=datetime.now(UTC))
            == 2
        )
        assert file_warnings.open_warning_counts(connection) == {}


def test_the_last_number_is_kept_with_the_files_events(database: Database, tmp_path: Path) -> None:
    """A file whose storing fails keeps neither its events nor its number."""
    pipeline = pipeline_of(tmp_path, FIXED)
    ingest(database, pipeline, "S_0017.txt", fixed_file("20261104", 17))

    def boom(connection: object, outcome: object) -> None:
        raise RuntimeError("the database went away")

    content = fixed_file("20261104", 19)
    message = RawMessage(MessageRef("S_0019.txt", len(content), datetime.now(UTC)), content)
    with pytest.raises(RuntimeError):
        ingest_message(database, "numbered-status", pipeline, message, after_store=boom)
    with database.transaction() as connection:
        last = file_warnings.last_sequence(connection, "numbered-status")
        assert file_warnings.all_warnings(connection) == []
    assert last is not None
    assert SequenceMark.load(last).number == 17


def test_any_codec_by_the_file_name(database: Database, tmp_path: Path) -> None:
    mapping = yaml.safe_load((ROOT / "mappings" / "atelier-dupont.yaml").read_text("utf-8"))
    status = mapping["messages"]["status"]
    status["sequence"] = {
        "name_pattern": r"_(?P<date>\d{8})_(?P<seq>\d{4})\.csv$",
        "restart": "daily",
    }
    mapping["messages"] = {"status": status}
    pipeline = pipeline_of(tmp_path, mapping)
    header = ";".join(status["header"]) + "\r\n"
    content = header.encode("latin-1")
    assert ingest(database, pipeline, "STATUTS_20261104_0001.csv", content) == []
    gap = ingest(database, pipeline, "STATUTS_20261104_0003.csv", content + b"\r\n")
    assert len(gap) == 1
    assert "1 file (2) lost" in gap[0]
    assert ingest(database, pipeline, "STATUTS_20261105_0001.csv", content + b"\r\n\r\n") == []


def test_unacknowledged_warnings_are_flagged() -> None:
    policy = AlertingSpec()
    flags = flags_for(
        policy, consecutive_failures=0, unmapped_codes=0, last_run_rejected=0, file_warnings=1
    )
    assert flags == ("1 file warning (sequence) to acknowledge",)
    assert flags_for(policy, consecutive_failures=0, unmapped_codes=0, last_run_rejected=0) == ()


def _warned(database: Database) -> None:
    with database.transaction() as connection:
        file_warnings.record_warning(
            connection,
            "repar-ouest-status",
            kind="sequence_gap",
            reason="sequence gap: RO_STAT_20261104_0019.txt is number 0019 after 0017",
            source="RO_STAT_20261104_0019.txt",
            message_id=None,
            run_id=None,
            now=datetime.now(UTC),
        )


def test_the_operator_lists_acknowledges_and_sees_the_flag(database: Database) -> None:
    """`hub warnings` lists them (and as JSON), `hub status` flags the connector until
    `hub warnings --ack`."""
    _warned(database)
    env = {"HUB_CONNECTORS": str(ROOT / "connectors.yaml"), "HUB_DATABASE_URL": database.url}
    runner = CliRunner()

    def flags() -> list[str]:
        status = runner.invoke(app, ["status", "--json"], env=env)
        document = json.loads(status.stdout)
        mine = next(c for c in document["connectors"] if c["name"] == "repar-ouest-status")
        return list(mine["flags"])

    shown = runner.invoke(app, ["warnings", "repar-ouest-status"], env=env, terminal_width=250)
    assert shown.exit_code == 0, shown.output
    assert "RO_STAT_20261104_0019.txt" in shown.stdout
    assert "sequence_gap" in shown.stdout
    listed = runner.invoke(app, ["warnings", "repar-ouest-status", "--json"], env=env)
    [line] = [json.loads(text) for text in listed.stdout.splitlines()]
    assert (line["kind"], line["acknowledged_at"]) == ("sequence_gap", None)
    assert "1 file warning (sequence) to acknowledge" in flags()

    acked = runner.invoke(app, ["warnings", "repar-ouest-status", "--ack"], env=env)
    assert "1 warning of repar-ouest-status acknowledged" in acked.stdout
    assert not any("file warning" in flag for flag in flags())
    again = runner.invoke(app, ["warnings", "repar-ouest-status", "--json"], env=env)
    assert json.loads(again.stdout)["acknowledged_at"] is not None


def test_the_console_shows_them_beside_the_rejects(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "op-" + "5e1d9c3b7a2f4e6081c3a5e7f9b1d3c5"
    monkeypatch.setenv(TOKEN_ENV, token)
    _warned(database)
    network = open_network(ROOT / "connectors.yaml")
    with TestClient(create_app(database, network)) as client:
        page = client.get(
            "/console/connectors/repar-ouest-status",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert page.status_code == 200
    assert 'id="warnings"' in page.text
    assert "RO_STAT_20261104_0019.txt" in page.text
    assert "1 file warning (sequence) to acknowledge" in page.text


def test_a_codec_without_document_fields_is_told_to_use_the_file_name(tmp_path: Path) -> None:
    mapping = yaml.safe_load((ROOT / "mappings" / "atelier-dupont.yaml").read_text("utf-8"))
    mapping["messages"]["status"]["sequence"] = {"field": "header.seq"}
    with pytest.raises(ConfigurationError, match=r"gives no document fields.*use name_pattern"):
        pipeline_of(tmp_path, mapping)
