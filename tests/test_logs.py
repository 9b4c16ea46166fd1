"""The hub's logs: JSON lines away from a terminal, human lines on one, the ids of the
run, message or delivery on every line logged while it is handled, levels per logger
from the environment, and never a secret or a customer's personal data, checked on
the logs of a real `hub serve` that reads a status file naming the customer and
delivers a repair order and webhooks carrying them."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigurationError
from hub.logs import (
    MASK,
    JsonFormatter,
    LogSite,
    TextFormatter,
    _ContextFilter,
    _json_line,
    _LineTime,
    configure_logging,
    current_context,
    log_context,
    parse_levels,
)
from hub.partners.connectors import open_network
from hub.store.cases import open_case
from hub.store.db import Database
from simulators.server import free_port
from tests.factories import make_case
from tests.test_crash import SECRET, SECRET_ENV, Receiver, receiver, wait_until_answering

__all__ = ["receiver"]

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER = "Julie Martin"
PHONE = "+33612345678"
OPERATOR_TOKEN = "operator-token-for-the-logs-test"


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("hub.sync", "hub.partners", "alembic", "apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_a_library_s_line_per_request_shows_at_debug_not_at_info(restore_logging: None) -> None:
    """httpx says every request at info; the dispatcher already says every delivery."""
    for level, shown in (
        ("info", ["refused"]),
        ("debug", ["POST", "refused"]),
        ("info,httpx=info", ["POST", "refused"]),
        ("info", ["refused"]),  # configured again, it starts over
    ):
        stream = io.StringIO()
        configure_logging(stream, {"HUB_LOG_LEVEL": level})
        logging.getLogger("httpx").info("POST")
        logging.getLogger("httpx").warning("refused")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [line["message"] for line in lines] == shown, level


def test_levels_come_from_one_variable() -> None:
    assert parse_levels("info,hub.sync=debug") == (logging.INFO, {"hub.sync": logging.DEBUG})
    assert parse_levels(" warning , httpx=error,hub=INFO ") == (
        logging.WARNING,
        {"httpx": logging.ERROR, "hub": logging.INFO},
    )
    with pytest.raises(ConfigurationError, match="'loud' is not a log level"):
        parse_levels("info,hub=loud")


def test_json_lines_away_from_a_terminal_with_the_ids_of_the_work(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(stream, {"HUB_LOG_LEVEL": "warning,hub.sync=debug"})
    with log_context(connector="orders", partner="atelier-dupont"):
        with log_context(message_id=42, case_ref="ME-000123"):
            logging.getLogger("hub.sync.outbox").debug("sent %s", "once")
        logging.getLogger("hub.partners.x").info("not at this level")
        logging.getLogger("hub.partners.x").warning("after the message")
    logging.getLogger("other").warning("outside any work")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "sent once",
        "after the message",
        "outside any work",
    ]
    assert lines[0]["level"] == "debug"
    assert lines[0]["logger"] == "hub.sync.outbox"
    assert {key: lines[0][key] for key in ("message_id", "case_ref", "connector", "partner")} == {
        "message_id": "42",
        "case_ref": "ME-000123",
        "connector": "orders",
        "partner": "atelier-dupont",
    }
    assert "message_id" not in lines[1], "the inner context ended with its block"
    assert lines[1]["connector"] == "orders"
    assert set(lines[2]) == {"time", "level", "logger", "message"}


def test_a_context_ends_with_its_block_even_when_it_raises() -> None:
    seen: list[dict[str, str]] = []

    def failing_send() -> None:
        with log_context(message_id=42, case_ref=None):
            seen.append(dict(current_context()))
            raise RuntimeError("the send failed")

    with log_context(connector="orders"):
        with pytest.raises(RuntimeError):
            failing_send()
        assert current_context() == {"connector": "orders"}
    assert current_context() == {}
    assert seen == [{"connector": "orders", "message_id": "42"}]


def test_human_lines_on_a_terminal(restore_logging: None) -> None:
    stream = TtyStream()
    configure_logging(stream, {})
    with log_context(run_id=7, connector="status"):
        logging.getLogger("hub.partners.supervisor").warning("run failed")
    line = stream.getvalue().strip()
    assert not line.startswith("{")
    assert line.endswith("WARNING hub.partners.supervisor [run_id=7 connector=status]: run failed")


def test_a_log_id_cannot_overwrite_a_field_of_the_line() -> None:
    with pytest.raises(ValueError, match="not a log id: message"), log_context(message="x"):
        pass


def test_secrets_and_refused_input_values_are_masked(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(stream, {"PARTNER_API_KEY": "k3y-of-the-partner", "HUB_LOG_LEVEL": "info"})

    class Customer(BaseModel):
        phone: int

    log = logging.getLogger("hub.test")
    log.info("calling with k3y-of-the-partner")
    refused = {"phone": "06 12 34 56 78"}
    try:
        Customer.model_validate(refused)
    except ValidationError:
        log.exception("refused")
    text = stream.getvalue()
    assert "k3y-of-the-partner" not in text
    assert "06 12 34 56 78" not in text
    assert f"calling with {MASK}" in text
    assert f"input_value={MASK}" in text
    assert JsonFormatter  # the same formatter serves `hub serve`, below


def write_network(tmp_path: Path, receiver_url: str) -> tuple[Path, Path, Path]:
    inbox, outbox = tmp_path / "from-workshop", tmp_path / "to-workshop"
    inbox.mkdir()
    outbox.mkdir()
    mapping = ROOT / "mappings" / "atelier-dupont.yaml"
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - id: atelier-dupont
    role: repairer
    name: Atelier Dupont Réparation
    address: {{line1: ZA des Prés, postcode: "38300", city: Bourgoin-Jallieu, country: FR}}
connectors:
  - name: logs-status
    partner: atelier-dupont
    mapping: {mapping}
    message: status
    transport: {{type: local-dir, path: "{inbox}"}}
    schedule: {{every: 1s}}
  - name: logs-orders
    partner: atelier-dupont
    mapping: {mapping}
    message: repair_order
    transport: {{type: local-dir, path: "{outbox}"}}
webhooks:
  - {{retailer: maison-electro, url: "{receiver_url}/hub", secret_env: {SECRET_ENV}}}
sync:
  routes:
    - {{service: workshop_repair, repairer: atelier-dupont}}
  rules:
    - name: opened
      when: {{type: case_status, status: created}}
      send:
        - {{to: repairer, message: repair_order}}
    - {{name: news, when: {{type: case_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return path, inbox, outbox


STATUS_FILE = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
    f"AD-2026-009001;ME-000123;03/11/2026;09:12;REC;Reçu atelier;{CUSTOMER} a déposé "
    f"l'appareil, joignable au {PHONE};SN8841XK2;;\r\n"
    "AD-2026-009002;ME-000123;03/11/2026;09:40;XYZ;Code inconnu;;SN8841XK2;;\r\n"
)


@pytest.mark.parametrize("level", ["debug", "warning,hub=info,httpx=info"])
def test_the_logs_of_a_served_hub_hold_no_secret_and_no_personal_data(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    network_file, inbox, outbox = write_network(tmp_path, receiver.url)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": url,
        "HUB_CONNECTORS": str(network_file),
        "HUB_LOG_LEVEL": level,
        "HUB_OPERATOR_TOKEN": OPERATOR_TOKEN,
    }
    cli = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*cli, "up"], cwd=tmp_path, env=env, check=True, capture_output=True)
    database = Database(url)
    with database.transaction() as connection:
        open_case(
            connection, make_case("ME-000123"), on_stored=open_network(network_file).sync_hook()
        )
    database.dispose()

    port = free_port()
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as errors, (tmp_path / "stdout.log").open("wb") as output:
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--dispatch-every", "0.2"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=errors,
        )
        try:
            wait_until_answering([server], [port])
            (inbox / "STATUTS_20261103_0930.csv").write_bytes(STATUS_FILE.encode("latin-1"))
            deadline = time.monotonic() + 60
            while receiver.settled() < 2 or not list(outbox.iterdir()):
                assert time.monotonic() < deadline, "the webhooks and the order went out"
                assert server.poll() is None
                time.sleep(0.2)
        finally:
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=60)
    assert code == 0

    order = b"".join(file.read_bytes() for file in outbox.iterdir())
    assert CUSTOMER.encode() in order or CUSTOMER.encode("latin-1") in order, (
        "the personal data did go through the hub"
    )
    text = stderr.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines, "the hub logged its work"
    for forbidden in (
        SECRET,
        SECRET.removeprefix("whsec_"),
        OPERATOR_TOKEN,
        CUSTOMER,
        PHONE,
        "Julie",
    ):
        assert forbidden not in text, f"{forbidden!r} is in the logs"

    runs = [line for line in lines if line["logger"] == "hub.partners.supervisor"]
    assert runs
    assert all({"run_id", "connector", "partner"} <= set(line) for line in runs)
    read = [line for line in lines if line["logger"] == "hub.partners.ingest.message"]
    assert [line["connector"] for line in read] == ["logs-status"], "the status file, once"
    assert {"run_id", "raw_id", "partner"} <= set(read[0]), "a partner's message names its run"
    messages = [line for line in lines if line["message"].startswith("outbox ")]
    assert {line["connector"] for line in messages} == {"webhook:maison-electro", "logs-orders"}
    assert all({"message_id", "case_ref"} <= set(line) for line in messages)
    # A webhook goes through urllib3's connection pool, not httpx (the http-webhook
    # transport): its request line is the transport's own, at debug unless it was a
    # retry or a repeat, never httpx's.
    requests = [line for line in lines if line["logger"].startswith("adapters.transports.http")]
    assert not [line for line in lines if line["logger"] == "httpx"]
    if level == "debug":
        assert requests, "the webhook sender says each request at debug"
    assert all("message_id" in line for line in requests), "with the delivery's ids"
    loggers = {line["logger"] for line in lines}
    if level == "debug":
        assert any(line["level"] == "debug" for line in lines)
    else:
        assert all(
            line["level"] != "info"
            for line in lines
            if not line["logger"].startswith(("hub", "httpx"))
        ), "uvicorn's info lines are below its level"
        assert "uvicorn.error" not in loggers
    shutil.rmtree(inbox)


class Records(logging.Handler):
    """Keeps every record it is handed, after the hub's own filter (its ids), and its
    fields as they were then (a formatter adds some later)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(_ContextFilter())
        self.records: list[logging.LogRecord] = []
        self.fields: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.fields.append({k: v for k, v in vars(record).items() if k not in TIMES})


@pytest.fixture
def records() -> Iterator[tuple[logging.Logger, Records]]:
    logger = logging.getLogger("hub.tests.log_site")
    handler = Records()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, handler
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


TIMES = ("created", "msecs", "relativeCreated")
"""A record's own instant: the only fields two records of the same line differ by."""


def test_a_log_site_records_what_logger_info_records(
    records: tuple[logging.Logger, Records],
) -> None:
    logger, handler = records
    site = LogSite(logger, logging.INFO)

    def deliver(through_site: bool) -> None:
        with log_context(message_id=42, case_ref="ME-1", connector="crm"):
            (site if through_site else logger.info)("message %d (%s): %s", 42, "x", "delivered")

    for through_site in (False, True, True, False):
        deliver(through_site)
    plain, first, kept, _ = handler.records
    assert first.funcName == "deliver"
    assert first.pathname == __file__
    assert first.lineno == deliver.__code__.co_firstlineno + 2
    assert handler.fields[1] == handler.fields[0] == handler.fields[3] == handler.fields[2]
    every = set(vars(logging.makeLogRecord({}))) - set(TIMES) | {"hub_ids"}
    assert set(handler.fields[0]) == every, "every field of a record compared, not a few"
    assert handler.fields[1]["hub_ids"] == {
        "message_id": "42",
        "case_ref": "ME-1",
        "connector": "crm",
    }
    for record in (first, kept):
        record.created, record.msecs = plain.created, plain.msecs
        for formatter in (JsonFormatter(), TextFormatter()):
            assert formatter.format(record) == formatter.format(plain)
    assert json.loads(JsonFormatter().format(kept)) == {
        "time": json.loads(JsonFormatter().format(plain))["time"],
        "level": "info",
        "logger": "hub.tests.log_site",
        "message": "message 42 (x): delivered",
        "message_id": "42",
        "case_ref": "ME-1",
        "connector": "crm",
    }


def test_a_log_site_follows_the_process_switch_and_the_level(
    records: tuple[logging.Logger, Records], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, handler = records
    site = LogSite(logger, logging.INFO)
    quiet = LogSite(logger, logging.DEBUG)
    site("looked up")
    quiet("not at this level")
    monkeypatch.setattr(logging, "_srcfile", None)  # caller lookup off for the process
    site("not looked up")
    logger.info("nor here")
    assert [record.getMessage() for record in handler.records] == [
        "looked up",
        "not looked up",
        "nor here",
    ]
    looked_up, off, plain_off = handler.records
    assert looked_up.funcName == "test_a_log_site_follows_the_process_switch_and_the_level"
    for record in (off, plain_off):
        assert (record.pathname, record.lineno, record.funcName) == (
            "(unknown file)",
            0,
            "(unknown function)",
        )


def test_a_json_lines_time_is_what_fromtimestamp_and_isoformat_write() -> None:
    """The formatter keeps each second's text; the milliseconds after it must be those
    ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`` writes,
    at the edges of a millisecond and of a second too (rounded half to even, carried)."""
    written = _LineTime()
    draw = random.Random(17)
    instants = [draw.uniform(1.7e9, 1.9e9) for _ in range(20_000)]
    instants += [draw.uniform(-1e6, 1e6) for _ in range(2_000)]
    for second in (0, 1_796_601_714, 1_798_761_599, 253_402_300_798):
        for fraction in (0.0, 5e-7, 1.5e-6, 2.5e-6, 0.0005, 0.0009995, 0.4999995, 0.5, 0.9995):
            for edge in (0.999999, 0.9999994, 0.9999995, 0.9999996, fraction):
                instant = second + edge
                instants += [instant, math.nextafter(instant, 0), math.nextafter(instant, math.inf)]
    for instant in [*instants, *sorted(instants)]:  # by chance, then second after second
        expected = datetime.fromtimestamp(instant, UTC).isoformat(timespec="milliseconds")
        assert written(instant) == expected, instant
    record = logging.makeLogRecord({"msg": "sent", "created": 1_796_601_714.9999996})
    assert json.loads(JsonFormatter().format(record))["time"] == "2026-12-07T00:01:55.000+00:00"


def test_a_json_line_is_the_text_the_standard_encoder_writes() -> None:
    """The formatter writes a line of texts itself; each must be the standard encoder's
    (``ensure_ascii=False``) byte for byte: quotes, backslashes, control characters,
    line and paragraph separators, non-ASCII and lone surrogates, empty texts, any
    field name. A value or a name that is not a text takes the encoder's own way."""
    standard = json.JSONEncoder(ensure_ascii=False)
    draw = random.Random(19)
    alphabet = '"\\/\b\f\n\r\t\x00\x01\x1f\x7f é€😀\u2028\u2029\ud800\udfff' + "abcXYZ019 :{},"
    entries: list[dict[Any, object]] = [{}, {"": ""}, {"time": "t", "message": "'\"\\"}]
    for _ in range(2_000):
        size = draw.randint(1, 9)
        entries.append(
            {
                "".join(draw.choices(alphabet, k=draw.randint(0, 6))): "".join(
                    draw.choices(alphabet, k=draw.randint(0, 40))
                )
                for _ in range(size)
            }
        )
    entries += [{"message": "x", "count": 3}, {"message": None}, {"at": 1.5, "ids": ["a"]}]
    entries += [{"message": "x", 7: "seven"}, {"message": "x", None: "no name"}]
    for entry in entries:
        assert _json_line(entry) == standard.encode(entry), entry
        assert json.loads(_json_line(entry)) == json.loads(standard.encode(entry))
    record = logging.makeLogRecord({"msg": 'sent \u00e9 "%s"\n', "args": ("x\\y",)})
    record.hub_ids = {"message_id": "7", "case_ref": 'A"1'}
    line = JsonFormatter().format(record)
    assert line == standard.encode(json.loads(line))
    assert json.loads(line)["message"] == 'sent \u00e9 "x\\y"\n'
    assert json.loads(line)["case_ref"] == 'A"1'
