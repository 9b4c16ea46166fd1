"""`hub demo --once`: the whole story, run as a user runs it, and the checker behind its verdict.

The demo is run once, in a subprocess, in a temporary folder (SQLite, loopback only), and
its summary is read back. The consistency checker is tested on its own with states that
disagree on purpose, one way at a time, so that a failure is known to be reported.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from demo.network import (
    PRODUCTION_NETWORK,
    Endpoints,
    SftpEndpoint,
    demo_network,
    plugin_installed,
)
from demo.retailers import BadSignature, verify
from demo.story import Path as StoryPath
from demo.story import story
from demo.summary import DeadLetter, Observed, Reject, check, message_key
from hub.api.app import create_app
from hub.api.operator_auth import TOKEN_ENV
from hub.errors import ConfigurationError
from hub.partners.connectors import open_network
from hub.retailers.webhooks import sign
from hub.store.db import Database
from hub.store.tables import connector_runs, outbox
from hub.sync.outbox import OutboxRow, OutboxState
from tests.api_support import serving

ROOT = Path(__file__).resolve().parent.parent


EXTRA_SECRET = "ATELIER_MARTIN_SFTP_KEY"


def with_a_partner_added(folder: Path) -> Path:
    """A copy of the production network with one more partner, as an integrator adds one:
    a repairer (SFTP, its secret not set here; a pull API) first in the routes, a second
    repairer's mapping, and a retailer of its own with a webhook and a drop folder."""
    document = yaml.safe_load(PRODUCTION_NETWORK.read_text(encoding="utf-8"))
    for connector in document["connectors"]:
        connector["mapping"] = str(ROOT / connector["mapping"])
    mapping = folder / "atelier-martin.yaml"
    text = (ROOT / "mappings" / "atelier-dupont.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace("partner: atelier-dupont", "partner: atelier-martin"))
    document["parties"] += [
        {"id": "atelier-martin", "role": "repairer", "name": "Atelier Martin"},
        {"id": "electro-depot", "role": "retailer", "name": "Électro Dépôt"},
    ]
    sftp = {
        "type": "sftp",
        "host": "sftp.atelier-martin.example",
        "username": "hub",
        "host_key": "SHA256:3q2+7w3lVYkbYYZbz8aXUb3dFvS2iXmrRHNUczJ3P0o",
        "private_key_env": EXTRA_SECRET,
    }
    document["connectors"] += [
        {
            "name": "atelier-martin-status",
            "partner": "atelier-martin",
            "mapping": str(mapping),
            "message": "status",
            "transport": {**sftp, "remote_dir": "/out"},
            "schedule": {"every": "15m"},
        },
        {
            "name": "atelier-martin-orders",
            "partner": "atelier-martin",
            "mapping": str(mapping),
            "message": "repair_order",
            "transport": {**sftp, "remote_dir": "/in", "outbound_dir": "/in"},
        },
    ]
    document["case_imports"].append(
        {
            "name": "electro-depot-nightly",
            "retailer": "electro-depot",
            "transport": {"type": "local-dir", "path": "var/drop/electro-depot"},
            "schedule": {"every": "1h"},
        }
    )
    document["webhooks"].append(
        {
            "retailer": "electro-depot",
            "url": "https://hooks.electro-depot.example/hub",
            "secret_env": "ELECTRO_DEPOT_WEBHOOK_SECRET",
        }
    )
    document["service_levels"]["electro-depot"] = "gold"
    document["sync"]["routes"].insert(
        0, {"service": "workshop_repair", "repairer": "atelier-martin"}
    )
    path = folder / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return path


@dataclass(frozen=True)
class DemoRun:
    code: int
    output: str
    folder: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DemoRun:
    """`hub demo --once` as a user types it, in a fresh folder, wide enough to read back,
    with a partner added to the network file that the demo does not simulate (issue 13):
    every test of the demo's run is also a test that adding a partner breaks nothing.

    One run for the whole session: the tests only read what it left, and the workers of
    a distributed session share it (the first to come runs it, under a lock the others
    wait on, then read its record). Each worker ran its own before, a minute of a
    worker's time each."""
    if worker_id == "master":
        return _demo_once(tmp_path_factory.mktemp("demo"), tmp_path_factory.mktemp("network"))
    shared = tmp_path_factory.getbasetemp().parent / "demo-run"  # the session's, every worker's
    shared.mkdir(exist_ok=True)
    record = shared / "record.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not record.exists():
            (shared / "demo").mkdir(exist_ok=True)
            (shared / "network").mkdir(exist_ok=True)
            run = _demo_once(shared / "demo", shared / "network")
            record.write_text(json.dumps({"code": run.code, "output": run.output}))
        kept = json.loads(record.read_text())
    return DemoRun(kept["code"], kept["output"], shared / "demo" / "var/demo")


def _demo_once(cwd: Path, network_folder: Path) -> DemoRun:
    network = with_a_partner_added(network_folder)
    environ = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    environ.pop("HUB_OPERATOR_TOKEN", None)
    environ.pop(EXTRA_SECRET, None)
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "demo", "--once", "--network", str(network)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return DemoRun(completed.returncode, completed.stdout + completed.stderr, cwd / "var/demo")


def _row_count(output: str, title_row: str) -> int:
    match = re.search(rf"│ {re.escape(title_row)}\s+│ (\d+)", output)
    assert match is not None, f"no row {title_row!r} in the summary:\n{output}"
    return int(match.group(1))


def test_the_summary_tells_the_story(demo_run: DemoRun) -> None:
    output = demo_run.output
    assert _row_count(output, "total") == 50, "fifty cases, every one counted once"
    for party in ("atelier-dupont", "techniservice", "colis-express", "pieces-plus"):
        assert _row_count(output, party) > 0, f"{party} reported or received nothing"
    assert _row_count(output, "maison-electro") > 0
    assert _row_count(output, "bricomarket (feed items read)") > 0
    assert "on_hold" in output, f"the obsolete part puts its case on hold:\n{output}"
    assert "Service-level breaches" in output
    assert re.search(r"BM-\d+ +│ parts +│ silver", output), "the backordered part is late"
    assert "(expected)" in output
    assert "400 Bad Request" in output
    rejected_lines = re.findall(r"atelier-dupont-status │ STATUTS_\S+ +│ (\d+) ", output)
    assert len(rejected_lines) == 3, output


def test_repar_ouest_plays_its_faults(demo_run: DemoRun) -> None:
    """Bulky goods go to Répar'Ouest: its status files are read once their marker is
    there (a half-written one included), its bad trailer is the one file refused whole,
    and its lost file the one sequence gap flagged."""
    output = demo_run.output
    assert _row_count(output, "repar-ouest") > 0, output
    refused = re.findall(r"repar-ouest-status +│ (RO_STAT_\S+) +│ \d+ +│ the whole message", output)
    assert len(refused) == 1, output
    gaps = re.findall(r"repar-ouest-status +│ (RO_STAT_\S+) +│ sequence_gap", output)
    assert len(gaps) == 1, output


def test_a_partner_connected_by_a_plugin_that_is_not_ours_plays_in_the_demo(
    demo_run: DemoRun,
) -> None:
    """The example package's workshop (its own transport and codec) is read like any
    partner: its connector is in the demo's network and its acknowledgement is stored."""
    assert plugin_installed(), "the development install includes the example package"
    network = (demo_run.folder / "connectors.yaml").read_text(encoding="utf-8")
    assert "type: jsonl-spool" in network
    assert _row_count(demo_run.output, "atelier-exemple") == 1, demo_run.output


def test_the_exit_code_is_the_verdict(demo_run: DemoRun) -> None:
    consistent = "CONSISTENT:" in demo_run.output and "INCONSISTENT" not in demo_run.output
    assert demo_run.code == (0 if consistent else 1), demo_run.output


def test_the_working_folder_holds_no_secret(demo_run: DemoRun) -> None:
    network = (demo_run.folder / "connectors.yaml").read_text(encoding="utf-8")
    assert "127.0.0.1" in network
    assert "PRIVATE KEY" not in network
    assert "whsec_" not in network
    assert (demo_run.folder / "hub.db").is_file(), "a fresh SQLite database in the folder"


def test_the_demo_network_holds_only_the_simulated_parties(demo_run: DemoRun) -> None:
    network = (demo_run.folder / "connectors.yaml").read_text(encoding="utf-8")
    assert "atelier-dupont-status" in network
    assert "atelier-martin" not in network
    assert "electro-depot" not in network


ANYWHERE = Endpoints(
    atelier_dupont=SftpEndpoint(2201, "SHA256:dupont"),
    pieces_plus=SftpEndpoint(2202, "SHA256:pieces"),
    techniservice_url="http://127.0.0.1:8101",
    colis_express_url="http://127.0.0.1:8102",
    maison_electro_webhook_url="http://127.0.0.1:8103/hooks",
    bricomarket_drop=Path("/tmp/drop/bricomarket"),
    alpes_fret=SftpEndpoint(2203, "SHA256:alpes"),
    alpes_fret_bookings=Path("/tmp/phone-bookings/alpes-fret"),
    repar_ouest=SftpEndpoint(2204, "SHA256:reparouest"),
)


def test_adding_a_partner_changes_nothing_in_the_demo_network(tmp_path: Path) -> None:
    """The demo plays the partners it simulates: another partner, retailer, webhook,
    service level or route in connectors.yaml leaves its network as it was."""
    added = with_a_partner_added(tmp_path)
    assert demo_network(ANYWHERE, added) == demo_network(ANYWHERE, PRODUCTION_NETWORK)


def test_a_simulated_connector_missing_from_the_network_is_named(tmp_path: Path) -> None:
    document = yaml.safe_load(PRODUCTION_NETWORK.read_text(encoding="utf-8"))
    document["connectors"] = [
        c for c in document["connectors"] if c["name"] != "pieces-plus-answers"
    ]
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    with pytest.raises(ConfigurationError, match="the demo simulates pieces-plus-answers"):
        demo_network(ANYWHERE, path)


def test_the_cli_reads_the_demo_through_its_home_on_the_storys_clock(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    """`hub --home var/demo ...` from any folder reads the demo's database and network,
    and measures service levels by the story's clock (November), as the demo did: the
    summary's breaches, not thirty days more against the machine's date."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    story_now = datetime.fromisoformat((demo_run.folder / "clock").read_text().strip())
    assert story_now.month == 11, "the story's time, not the machine's"
    listed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(demo_run.folder), "sla", "--json"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    breaches = [json.loads(line) for line in listed.stdout.splitlines()]
    assert any(b["step"] == "parts" and b["basis"] == "silver" for b in breaches), breaches
    for breach in breaches:
        if breach["ended_at"] is None:
            deadline = datetime.fromisoformat(breach["deadline"])
            late = timedelta(seconds=breach["late_by_seconds"])
            assert abs(deadline + late - story_now) < timedelta(seconds=1), breach
    assert not (tmp_path / "hub.db").exists(), "nothing created where the command ran"


def test_every_party_ends_consistent(demo_run: DemoRun) -> None:
    assert demo_run.code == 0, demo_run.output
    assert "CONSISTENT" in demo_run.output


def test_status_and_metrics_agree_with_the_run_records(
    demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the story, what an operator reads (hub status --json, /metrics) is what the
    run records and the outbox hold."""
    database = Database(f"sqlite:///{demo_run.folder / 'hub.db'}")
    network_file = demo_run.folder / "connectors.yaml"
    environ = {
        **os.environ,
        "HUB_DATABASE_URL": database.url,
        "HUB_CONNECTORS": str(network_file),
    }
    status = json.loads(
        subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "status", "--json"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    token = "operator-token-for-the-demo-test"
    monkeypatch.setenv(TOKEN_ENV, token)
    try:
        with database.transaction() as connection:
            last_runs = {
                row.connector: row
                for row in connection.execute(
                    select(connector_runs).order_by(connector_runs.c.id)
                ).all()
            }
            runs = Counter(
                (row.connector, row.outcome)
                for row in connection.execute(
                    select(connector_runs.c.connector, connector_runs.c.outcome)
                ).all()
            )
            outbox_states = Counter(connection.execute(select(outbox.c.state)).scalars().all())
        with serving(create_app(database, open_network(network_file))) as url:
            exposition = httpx.get(
                f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}
            ).text
    finally:
        database.dispose()

    for connector in status["connectors"]:
        record = last_runs.get(connector["name"])
        if record is None:
            assert connector["last_run"] is None, connector["name"]
            continue
        assert connector["last_run"]["id"] == record.id, connector["name"]
        assert connector["last_run"]["outcome"] == record.outcome
        assert connector["records_read"] == record.records_read
        assert connector["rejected"] == record.rejected
    assert status["outbox"]["pending"] == outbox_states[OutboxState.PENDING.value]
    assert status["outbox"]["dead"] == outbox_states[OutboxState.DEAD.value] == 1
    assert status["outbox"]["delivered"] == outbox_states[OutboxState.DELIVERED.value]

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    for (connector, outcome), count in runs.items():
        key = ("hub_connector_runs_total", (("connector", connector), ("outcome", outcome)))
        assert samples[key] == count, key
    for state, count in outbox_states.items():
        assert samples[("hub_outbox_messages", (("state", state),))] == count, state
    assert (
        sum(value for (name, _), value in samples.items() if name == "hub_dead_letters")
        == status["outbox"]["dead"]
    )


# -- the checker, with states that disagree on purpose ----------------------------------------


def consistent() -> Observed:
    """A small end state where every party agrees."""
    return Observed(
        hub_statuses={"ME-000201": "repaired", "BM-000301": "on_hold", "ME-000219": "created"},
        delivered={
            "atelier-dupont-orders": Counter({"ME-000201": 1}),
            "colis-express-pickups": Counter({"ME-000201": 1, "ME-000201-R": 1}),
        },
        held={
            "atelier-dupont-orders": Counter({"ME-000201": 1}),
            "colis-express-pickups": Counter({"ME-000201": 1, "ME-000201-R": 1}),
        },
        webhook_statuses={"ME-000201": "repaired", "ME-000219": "created"},
        webhook_cases={"ME-000201", "ME-000219"},
        feed_statuses={"BM-000301": "on_hold"},
        feed_cases={"BM-000301"},
        pending=0,
        dead=[DeadLetter("colis-express-pickups", "ME-000219", "400 Bad Request")],
        expected_dead={("colis-express-pickups", "ME-000219")},
        rejects=[Reject("atelier-dupont-status", "STATUTS_1.csv", 3, "expected 10 fields")],
        expected_rejects={("STATUTS_1.csv", 3)},
        reject_connector="atelier-dupont-status",
    )


def test_a_consistent_state_has_no_problem() -> None:
    assert check(consistent()) == []


Breakage = Callable[[Observed], Observed]

BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "a partner lost a message": (
        lambda o: replace(o, held={**o.held, "atelier-dupont-orders": Counter()}),
        "atelier-dupont-orders: ME-000201 delivered 1 time(s) but held 0 time(s)",
    ),
    "a partner got one twice": (
        lambda o: replace(
            o, held={**o.held, "colis-express-pickups": Counter({"ME-000201": 2, "ME-000201-R": 1})}
        ),
        "colis-express-pickups: ME-000201 delivered 1 time(s) but held 2 time(s)",
    ),
    "a partner holds what the hub never sent": (
        lambda o: replace(o, held={**o.held, "techniservice-orders": Counter({"BM-000301": 1})}),
        "techniservice-orders: BM-000301 delivered 0 time(s) but held 1 time(s)",
    ),
    "a webhook status behind the hub": (
        lambda o: replace(o, webhook_statuses={**o.webhook_statuses, "ME-000201": "in_repair"}),
        "maison-electro (webhooks): ME-000201 shows in_repair but the hub says repaired",
    ),
    "a case the retailer never heard of": (
        lambda o: replace(o, webhook_statuses={"ME-000201": "repaired"}),
        "maison-electro (webhooks): never heard of ME-000219",
    ),
    "a feed reader behind the hub": (
        lambda o: replace(o, feed_statuses={"BM-000301": "waiting_parts"}),
        "bricomarket (feed): BM-000301 shows waiting_parts but the hub says on_hold",
    ),
    "messages still pending": (
        lambda o: replace(o, pending=2),
        "outbox: 2 message(s) still pending",
    ),
    "an unexpected dead letter": (
        lambda o: replace(o, dead=[*o.dead, DeadLetter("webhook:maison-electro", "ME-000201", "")]),
        "outbox: unexpected dead letter to webhook:maison-electro for ME-000201",
    ),
    "the expected dead letter missing": (
        lambda o: replace(o, dead=[]),
        "outbox: the expected dead letter to colis-express-pickups for ME-000219 is missing",
    ),
    "a good line rejected": (
        lambda o: replace(
            o, rejects=[*o.rejects, Reject("atelier-dupont-status", "STATUTS_1.csv", 4, "?")]
        ),
        "rejects: STATUTS_1.csv line 4 was rejected but is not a broken line",
    ),
    "a broken line let through": (
        lambda o: replace(o, rejects=[]),
        "rejects: STATUTS_1.csv line 3 is broken but was not rejected",
    ),
    "another connector rejecting": (
        lambda o: replace(
            o, rejects=[*o.rejects, Reject("pieces-plus-answers", "ANS_1.csv", 2, "bad date")]
        ),
        "rejects: unexpected pieces-plus-answers ANS_1.csv:2",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_each_disagreement_is_reported(breakage: str) -> None:
    damage, sentence = BREAKAGES[breakage]
    assert check(damage(consistent())) == [sentence]


def _row(kind: str, case_ref: str, payload: dict[str, str], row_id: int = 7) -> OutboxRow:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    return OutboxRow(
        id=row_id,
        target="t",
        kind=kind,
        case_ref=case_ref,
        ordering_key=case_ref,
        idempotency_key=f"k{row_id}",
        payload=payload,
        created_at=now,
        state=OutboxState.DELIVERED,
        attempts=1,
        next_attempt_at=now,
        lease_owner=None,
        lease_until=None,
        last_error=None,
        delivered_at=now,
        receipt_status=201,
    )


def test_messages_are_keyed_as_their_partner_knows_them() -> None:
    assert message_key(_row("pickup", "ME-1", {"leg": "to_repairer"})) == "ME-1"
    assert message_key(_row("pickup", "ME-1", {"leg": "to_customer"})) == "ME-1-R"
    assert message_key(_row("purchase_order", "ME-1", {"cause": "e"}, row_id=42)) == "PO-00000042"
    assert message_key(_row("repair_order", "ME-1", {})) == "ME-1"


# -- the retailer's own signature check, against the hub's signer ------------------------------

SECRET = "whsec_" + base64.b64encode(b"a demo secret of 32 bytes, exact").decode()


def test_the_receiver_accepts_what_the_hub_signs() -> None:
    body = b'{"case_reference":"ME-000201"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1793000000",
        "webhook-signature": "v1,bm90LWl0 " + sign(SECRET, "msg_1", 1793000000, body),
    }
    assert verify(SECRET, headers, body, now=1793000010) == "msg_1"


@pytest.mark.parametrize(
    ("change", "now"),
    [
        ({"webhook-signature": "v1,AAAA"}, 1793000010),
        ({"webhook-id": "msg_2"}, 1793000010),
        ({}, 1793000000 + 301),
        ({"webhook-timestamp": "soon"}, 1793000010),
    ],
)
def test_the_receiver_refuses_anything_else(change: dict[str, str], now: int) -> None:
    body = b'{"case_reference":"ME-000201"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1793000000",
        "webhook-signature": sign(SECRET, "msg_1", 1793000000, body),
        **change,
    }
    with pytest.raises(BadSignature):
        verify(SECRET, headers, body, now=now)


def test_the_story_has_fifty_cases_and_every_path() -> None:
    cases = story()
    assert len(cases) == 50
    assert len({case.reference for case in cases}) == 50
    assert {case.path for case in cases} == set(StoryPath)
    assert {case.retailer for case in cases} == {"maison-electro", "bricomarket"}


def test_without_the_demo_extra_hub_demo_says_which_to_install(tmp_path: Path) -> None:
    """asyncssh (the simulated SFTP servers) is the 'demo' extra: without it, one line
    says what to install, and nothing is started or written."""
    folder = tmp_path / "demo"
    script = (
        "import sys; sys.modules['asyncssh'] = None; "
        f"sys.argv = ['hub', 'demo', '--once', '--dir', {str(folder)!r}]; "
        "import cli; cli.main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "pip install -e '.[demo]'" in result.stderr
    assert not folder.exists()
