"""The network's status read from the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import update

from hub.bootstrap import Hub
from hub.config.connector_spec import ScheduleSpec
from hub.config.secrets import MissingSecret
from hub.errors import Location, NotFoundError, PartnerDataError, TransientError
from hub.operators.jsonable import as_json
from hub.operators.listings import recent_rejects, recent_runs, require_known, unmapped_codes
from hub.operators.schedules import next_run
from hub.operators.status import ConnectorState, network_status
from hub.partners.connectors import Network, check_network, open_network
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.store.archive import archive_message
from hub.store.cases import case_id_of, case_state, get_case, open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.migrate import upgrade
from hub.store.runs import record_rejects
from hub.store.tables import outbox
from hub.sync.outbox import OutboxItem, enqueue
from tests.factories import case_event, make_case, register_network
from tests.test_demo import EXTRA_SECRET, with_a_partner_added

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def network() -> Network:
    return open_network(ROOT / "connectors.yaml")


def _run(
    database: Database,
    connector: str,
    started: datetime,
    *,
    error: str | None = None,
    counts: RunCounts | None = None,
) -> int:
    run_id = start_run(database, connector, now=started)
    finish_run(
        database,
        run_id,
        counts or RunCounts(),
        error=TransientError(error) if error else None,
        now=started + timedelta(seconds=20),
    )
    return run_id


def test_every_connector_and_drop_folder_is_listed_with_its_direction(
    database: Database, network: Network
) -> None:
    status = network_status(database, network, now=NOW)
    directions = {c.name: c.direction for c in status.connectors}
    assert directions["atelier-dupont-status"] == "in"
    assert directions["atelier-dupont-orders"] == "out"
    assert directions["colis-express-push"] == "push"
    assert directions["bricomarket-nightly"] == "import"
    never = status.connector("atelier-dupont-status")
    assert never.state is ConnectorState.NEVER_RUN
    assert never.last_run is None
    assert never.lag is None
    assert never.next_run_at == NOW, "a scheduled connector that never ran is due now"
    nightly = status.connector("bricomarket-nightly")
    assert nightly.next_run_at == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert status.connector("techniservice-orders").next_run_at is None, "outbound: not polled"
    with pytest.raises(NotFoundError, match="known: atelier-dupont-status, "):
        status.connector("nope")
    with pytest.raises(NotFoundError, match="bricomarket-nightly"):
        require_known(network.config, "nope")


def test_a_failed_run_after_a_success_is_failing_with_lag_and_next_run(
    database: Database, network: Network
) -> None:
    _run(database, "atelier-dupont-status", NOW - timedelta(hours=2))
    counts = RunCounts(messages_read=1, records_read=12, rejected=2, unmapped=3)
    _run(database, "atelier-dupont-status", NOW - timedelta(minutes=30), counts=counts)
    failed = _run(database, "atelier-dupont-status", NOW - timedelta(minutes=10), error="timeout")
    status = network_status(database, network, now=NOW).connector("atelier-dupont-status")
    assert status.state is ConnectorState.FAILING
    assert status.consecutive_failures == 1
    assert status.last_run is not None
    assert status.last_run.id == failed
    assert status.last_run.error_message == "timeout"
    assert status.last_success_at == NOW - timedelta(minutes=30) + timedelta(seconds=20)
    assert status.lag == timedelta(minutes=29, seconds=40)
    assert status.next_run_at == NOW - timedelta(minutes=10) + timedelta(minutes=15)
    assert (status.records_read, status.rejected) == (0, 0), "the last run's figures"
    runs = recent_runs(database, "atelier-dupont-status", limit=2)
    assert [run.id for run in runs] == [failed, failed - 1], "newest first"
    assert runs[1].counts.records_read == 12


def test_rejects_keep_the_raw_line_and_the_reason(database: Database) -> None:
    run_id = start_run(database, "atelier-dupont-status", now=NOW)
    problem = PartnerDataError(
        "date 31/02/2026 does not exist",
        location=Location("STATUS_20261124.csv", line=7, field="date"),
        raw="ME-000123;REC;31/02/2026",
    )
    with database.transaction() as connection:
        record_rejects(
            connection, "atelier-dupont-status", [problem], run_id=run_id, message_id=None, now=NOW
        )
    [reject] = recent_rejects(database, "atelier-dupont-status")
    assert (reject.source, reject.line, reject.field) == ("STATUS_20261124.csv", 7, "date")
    assert reject.raw == "ME-000123;REC;31/02/2026"
    assert reject.reason == "date 31/02/2026 does not exist"
    assert reject.run_id == run_id
    assert reject.created_at == NOW
    assert recent_rejects(database, "pieces-plus-answers") == []


def test_unmapped_codes_grouped_by_party_and_code_and_flagged_on_their_connector(
    database: Database, network: Network
) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
        message = archive_message(
            connection,
            "atelier-dupont-status",
            RawMessage(MessageRef("STATUS_1.csv", 10, NOW), b"raw bytes"),
            now=NOW,
        )
        append_events(
            connection,
            [
                case_event(None, NOW - timedelta(hours=3), code="ZZ1"),
                case_event(None, NOW - timedelta(hours=2), code="ZZ1"),
                case_event(None, NOW - timedelta(hours=1), code="QQ9"),
                case_event("received", NOW - timedelta(hours=1), code="REC"),
            ],
            message_id=message.id,
        )
    codes = unmapped_codes(database)
    assert [(c.reported_by, c.raw_code, c.count) for c in codes] == [
        ("atelier-dupont", "ZZ1", 2),
        ("atelier-dupont", "QQ9", 1),
    ]
    assert codes[0].example_case_ref == "ME-000123"
    assert codes[0].first_seen <= codes[0].last_seen
    status = network_status(database, network, now=NOW).connector("atelier-dupont-status")
    assert status.unmapped_codes == 2
    assert "2 unmapped codes" in status.flags


def test_outbox_depth_and_dead_letters_by_target(database: Database, network: Network) -> None:
    items = [
        OutboxItem("techniservice-orders", "repair_order", f"key-{n}", {"n": n}, f"ME-00{n}")
        for n in range(3)
    ]
    with database.transaction() as connection:
        ids = enqueue(connection, items, now=NOW - timedelta(minutes=5))
        connection.execute(update(outbox).where(outbox.c.id == ids[0]).values(state="dead"))
    status = network_status(database, network, now=NOW)
    assert (status.outbox.pending, status.outbox.dead) == (2, 1)
    assert status.outbox.oldest_pending_at == NOW - timedelta(minutes=5)
    assert status.outbox.by_target == {"techniservice-orders": {"pending": 2, "dead": 1}}
    orders = status.connector("techniservice-orders")
    assert orders.state is ConnectorState.FAILING
    assert (orders.dead_letters, orders.pending) == (1, 2)
    assert "1 dead letter" in orders.flags
    assert status.connector("colis-express-pickups").state is ConnectorState.OK
    document = json.loads(json.dumps(as_json(status)))
    assert document["outbox"]["dead"] == 1
    assert document["generated_at"] == NOW.isoformat()


def test_cron_and_interval_schedules_fire_after_the_last_start() -> None:
    every = ScheduleSpec(every="15m")
    assert next_run(every, NOW, NOW) == NOW + timedelta(minutes=15)
    cron = ScheduleSpec(cron="30 2 * * *")
    last = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    assert next_run(cron, last, NOW) == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def test_a_partner_added_without_its_secret_is_not_configured(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: a partner in connectors.yaml before its secret is set. The check warns,
    naming the variable; the hub builds and schedules it as any other; each of its runs
    records why it failed, and the operator reads it as not configured, not failing."""
    monkeypatch.delenv(EXTRA_SECRET, raising=False)
    path = with_a_partner_added(tmp_path)
    warnings = [p.text for p in check_network(path) if p.warning and "atelier-martin" in p.text]
    assert len(warnings) == 2, warnings
    assert all("is not configured" in text and EXTRA_SECRET in text for text in warnings)

    network = open_network(path)
    hub = Hub(database, network, owner="test:1")
    assert hub.jobs.not_configured()["atelier-martin-status"] == [EXTRA_SECRET]
    job = hub.scheduler().get_job("atelier-martin-status")
    assert job is not None, "scheduled, so that its failure is recorded where all can see"
    report = job.func(*job.args, **job.kwargs)
    assert isinstance(report.error, MissingSecret)

    status = network_status(database, network)
    added = status.connector("atelier-martin-status")
    assert added.state is ConnectorState.NOT_CONFIGURED
    assert added.last_run is not None
    assert EXTRA_SECRET in (added.last_run.error_message or "")
    assert added.next_run_at is not None, "it runs again, and works once the secret is set"
    assert status.connector("atelier-dupont-status").state is ConnectorState.NEVER_RUN


def test_a_mapping_that_does_not_fit_its_connector_is_flagged_until_it_is_fixed(
    database: Database, tmp_path: Path
) -> None:
    """Issue 17: the direction is read from the mapping's YAML, not by building the
    connector; a mapping for another partner, or without the message, is still said on
    the connector's line, and an edited file is read again."""
    path = with_a_partner_added(tmp_path)
    mapping = tmp_path / "atelier-martin.yaml"
    good = mapping.read_text(encoding="utf-8")
    network = open_network(path)
    assert network_status(database, network).connector("atelier-martin-status").direction == "in"

    mapping.write_text(good.replace("partner: atelier-martin", "partner: atelier-nobody"))
    flagged = network_status(database, network).connector("atelier-martin-status")
    assert flagged.flags[0].startswith("configuration problem: ")
    assert "is for 'atelier-nobody', not 'atelier-martin'" in flagged.flags[0]

    mapping.write_text(good.replace("  status:\n", "  state:\n", 1))
    missing = network_status(database, network).connector("atelier-martin-status")
    assert "has no message 'status'" in missing.flags[0], missing.flags

    mapping.write_text(good + "\n")  # another size: read again
    fixed = network_status(database, network).connector("atelier-martin-status")
    assert fixed.direction == "in"
    assert not any(flag.startswith("configuration problem") for flag in fixed.flags)


def test_the_status_of_the_network_imports_no_client_nor_mapping_engine(tmp_path: Path) -> None:
    """Issue 17: `hub status` reads connectors.yaml (every connector's options checked)
    and the store, and nothing that builds a connector: no HTTP or SFTP client, no
    mapping engine, no sync rules. Checked in a fresh interpreter, as `hub` starts."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(Database(url))
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from hub.operators.status import network_status\n"
        "from hub.partners.network import open_network\n"
        "from hub.store.db import Database\n"
        f"network = open_network(Path({str(ROOT / 'connectors.yaml')!r}))\n"
        f"status = network_status(Database({url!r}), network)\n"
        "assert {c.direction for c in status.connectors} == {'in', 'out', 'push', 'import'}\n"
        "heavy = ('httpx', 'authlib', 'paramiko', 'hub.mapping.inbound', 'hub.sync.engine',\n"
        "         'hub.partners.connectors', 'adapters.codecs.csv.codec')\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    printed = _printed_by(probe)
    assert printed == "", f"imported to read the status: {printed}"


def _printed_by(probe: str) -> str:
    """What ``probe`` prints, run in a fresh interpreter from the repository's root, as
    `hub` starts: what a module imports shows only in a process of its own."""
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


_MODULES_AT_EXIT = (
    "import atexit, builtins, runpy, sys\n"
    "out, sys.argv = sys.argv[1], ['hub', *sys.argv[2:]]\n"
    "first, plain = {}, builtins.__import__\n"
    "def noted(name, globals=None, locals=None, fromlist=(), level=0):\n"
    "    by, before = (globals or {}).get('__name__', '-'), set(sys.modules)\n"
    "    try:\n"
    "        return plain(name, globals, locals, fromlist, level)\n"
    "    finally:\n"
    "        for module in set(sys.modules) - before:\n"
    "            first.setdefault(module, by)\n"
    "builtins.__import__ = noted\n"
    "atexit.register(lambda: open(out, 'w').write(\n"
    "    '\\n'.join(f'{m} {first.get(m, \"-\")}' for m in sorted(sys.modules))))\n"
    "runpy.run_path('cli.py', run_name='__main__')\n"
)
"""Runs `hub` (cli.py) with the given arguments and writes, as it exits, every module it
imported, each with the module whose import first loaded it: what an operator's command
really loads, in a fresh interpreter, and who pulled each in."""


def importers_of(arguments: Sequence[str], environ: dict[str, str], out: Path) -> dict[str, str]:
    """Every module `hub <arguments>` imported, and the module that first imported it
    ("-" for those loaded before the command), run in a fresh interpreter from the
    repository's root with ``environ`` (its list written to ``out``)."""
    subprocess.run(
        [sys.executable, "-c", _MODULES_AT_EXIT, str(out), *arguments],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split(" ", 1) for line in out.read_text().splitlines())


def modules_loaded_by(arguments: Sequence[str], environ: dict[str, str], out: Path) -> set[str]:
    """Every module `hub <arguments>` imported (see :func:`importers_of`)."""
    return set(importers_of(arguments, environ, out))


def pulled_in(importers: dict[str, str], unused: Sequence[str]) -> list[str]:
    """Each module of ``unused`` (or below one) that was imported, with the chain of the
    modules that pulled it in, up to the command's: ``pydantic <- hub.config.alerting <-
    ... <- commands.common``. A package's own submodules are left out: it is said."""
    found = []
    for name, by in importers.items():
        for prefix in unused:
            inside = name == prefix or name.startswith(f"{prefix}.")
            if inside and not (by == prefix or by.startswith(f"{prefix}.")):
                chain = [name]
                while not chain[-1].startswith("commands.") and (
                    (by := importers.get(chain[-1], "-")) not in (*chain, "-", "__main__")
                ):
                    chain.append(by)
                found.append(" <- ".join(chain))
    return sorted(found)


_SERVING = ("fastapi", "uvicorn", "apscheduler.schedulers", "httpx", "paramiko", "authlib")
_BUILDING = ("hub.partners.connectors", "hub.mapping.inbound", "hub.sync.engine")
_NETWORK = ("hub.config.network", "hub.config.connector_spec", "adapters.transports", "lxml")
_SQLITE = ("alembic", "sqlalchemy.dialects.postgresql")
"""On a SQLite database: no migration machinery, and not SQLAlchemy's PostgreSQL dialect
(the partial indexes get their PostgreSQL predicates where PostgreSQL is migrated)."""
_RUNNING = (
    "hub.partners.ingest.listed",
    "hub.partners.ingest.paged",
    "hub.partners.ingest.acknowledge",
    "hub.partners.supervisor",
    "hub.store.inbound",
)
"""What runs a connector: `hub connectors check` builds and checks every connector, and
runs none."""
_STORE_ALONE = (*_SERVING, *_NETWORK, *_SQLITE, "yaml", "pydantic", "hub.ports")
"""A command that reads the store alone parses no YAML and validates nothing with pydantic
(no hub.yaml here either: a home's file is read with both), nor imports the adapters'
ports (their protocols and settings model)."""
_NO_ENGINE = ("sqlalchemy", "hub.store.db", "hub.store.tables")
"""A command that reads through hub.store.plain: no SQLAlchemy (issue 17)."""
_PLAIN = (*_STORE_ALONE, *_NO_ENGINE)
"""A store-only command that reads through hub.store.plain: no SQLAlchemy (issue 17)."""


_NETWORK_MODELS = (
    "pydantic",
    "yaml",
    "hub.config.network",
    "hub.config.connector_spec",
    "hub.config.alerting",
    "hub.config.sync",
    "hub.config.registry",
    "hub.partners.network",
)
"""What reading and checking the network loads: a command that shows it from its kept
outline (hub.partners.network_outline) loads none of it (issue 17, twelfth pass)."""
_OUTLINE = (*_SERVING, *_BUILDING, *_SQLITE, *_NO_ENGINE, *_NETWORK_MODELS)
"""A network command that reads the store through hub.store.plain and the network's
kept outline: no SQLAlchemy, no pydantic, no network model."""
_CHECKING = (
    "adapters.codecs",
    "adapters.transports",
    "adapters.receivers",
    "lxml",
    "hub.mapping",
    "hub.sync.profiles",
    "hub.sync.addresses",
    "hub.ports",
    "hub.config.yamlfile",
)
"""What checking the network loads beyond its models: the adapters, the mappings, the
profiles' needs; a kept check loads none of it."""
_MODEL_CLASSES = (
    "hub.model.case",
    "hub.model.event",
    "hub.model.work",
    "hub.model.parties",
    "hub.model.address",
    "hub.model.money",
)
"""The canonical model's pydantic classes: `hub sla` and `hub cases show` read stored rows
through the same rules (hub.store.stored_events, hub.store.measured_rows), none of them
(issue 17, twelfth pass)."""


@pytest.mark.parametrize(
    ("arguments", "unused"),
    [
        (["--help"], ("pydantic", "sqlalchemy", "yaml", "hub.model")),
        (["status"], (*_OUTLINE, "urllib.request", "xml.sax", "hub.model")),
        (["status", "--json"], (*_OUTLINE, "hub.model")),
        (["runs", "atelier-dupont-status"], (*_OUTLINE, "hub.model")),
        (["rejects", "atelier-dupont-status"], (*_OUTLINE, "hub.model")),
        (["warnings", "atelier-dupont-status"], (*_OUTLINE, "hub.model")),
        (["unmapped"], (*_PLAIN, "hub.model.case", "hub.model.event")),
        (["unlinked"], (*_PLAIN, "hub.model.case")),
        (["outbox", "dead-letters"], (*_PLAIN, "hub.model.case")),
        (["overview"], _PLAIN),
        (["db", "current"], _PLAIN),
        (["connectors", "list"], (*_OUTLINE, "sqlalchemy", "hub.store", "hub.partners.ingest")),
        (["sla"], (*_OUTLINE, *_MODEL_CLASSES, "holidays")),
        (["sla", "--json"], (*_OUTLINE, *_MODEL_CLASSES, "holidays")),
        (["sla", "--case", "BM-000045"], (*_OUTLINE, *_MODEL_CLASSES, "holidays")),
        (["cases", "show", "BM-000045"], (*_PLAIN, *_MODEL_CLASSES)),
        # It binds instants: SQLite's text of one comes from hub.model.utc_texts, which
        # imports nothing; none of the model's classes.
        (["retention", "--dry-run"], (*_OUTLINE, "hub.model.event", "hub.model.case")),
        # Its first run checked and kept what it found: said again without PyYAML,
        # pydantic, an adapter or a mapping (issue 17, thirteenth pass).
        (["connectors", "check"], (*_OUTLINE, *_CHECKING, "hub.store")),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_command_that_serves_no_http_imports_only_what_it_uses(
    tmp_path: Path, arguments: list[str], unused: tuple[str, ...]
) -> None:
    """Issue 17: each module is a start cost the operator waits for. A command that reads
    the store alone loads no network model, `hub overview` and `hub db current` no Alembic
    (the head is read from the migration files), `hub connectors list` no store and no
    connector, `hub sla` not every country's holidays nor (with `hub cases show`) the
    canonical model's classes, `hub connectors check` run again nothing that checks
    (what it found was kept; afresh: the next test), `hub retention --dry-run` no
    SQLAlchemy (its counts go through hub.store.plain), none of them the serving
    machinery or a partner client. A command that shows the network, run a second time
    (the first checked the network and kept its outline), loads neither pydantic nor the
    network's models; a failure says which modules pulled one in."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    database = Database(url)
    upgrade(database)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("BM-000045"))
    modules = tmp_path / "modules.txt"
    environ = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "COLUMNS": "200",
        "HUB_CACHE_DIR": str(tmp_path / "kept"),
    }
    environ.pop("HUB_HOME", None)
    importers_of(arguments, environ, modules)  # the network checked and its outline kept
    importers = importers_of(arguments, environ, modules)
    assert "commands.common" in importers  # the list is the command's own
    found = pulled_in(importers, unused)
    assert found == [], f"hub {' '.join(arguments)} imported {found}"


def test_a_check_made_afresh_imports_no_store_nor_what_runs_a_connector(tmp_path: Path) -> None:
    """Issue 17: `hub connectors check` with nothing kept builds and checks every
    connector and runs none: nothing that runs one, no store (it reads files only)."""
    environ = {**os.environ, "COLUMNS": "200", "HUB_CACHE_DIR": str(tmp_path / "kept")}
    environ.pop("HUB_HOME", None)
    importers = importers_of(["connectors", "check"], environ, tmp_path / "modules.txt")
    assert "hub.partners.connectors" in importers, "checked afresh"
    found = pulled_in(importers, (*_SERVING, *_RUNNING, "sqlalchemy", "hub.store"))
    assert found == [], f"hub connectors check imported {found}"


def test_every_command_s_parameters_are_annotated_with_objects_not_strings() -> None:
    """Issue 17: Typer reads the parameters of every command at each start (to build the
    whole tree, even for one command). A postponed annotation is a string it compiles and
    evaluates then, each time: the modules that define commands do not postpone theirs
    (`from __future__ import annotations`), so it finds the objects made at import."""
    from cli import app

    def callbacks(typer_app: typer.Typer) -> list[Callable[..., Any]]:
        found = [command.callback for command in typer_app.registered_commands]
        if typer_app.registered_callback is not None:
            found.append(typer_app.registered_callback.callback)
        for group in typer_app.registered_groups:
            assert group.typer_instance is not None
            found += callbacks(group.typer_instance)
        return [callback for callback in found if callback is not None]

    every = callbacks(app)
    assert len(every) > 40  # every command of `hub`, the groups' own included
    postponed = [
        f"{callback.__module__}.{callback.__name__}: {name}"
        for callback in every
        for name, annotation in callback.__annotations__.items()
        if isinstance(annotation, str)
    ]
    assert postponed == []


def test_a_case_s_timeline_and_erasure_read_its_id_and_validate_no_case(
    database: Database,
) -> None:
    """Issue 17: `hub cases show` reads a case's events and its erasure by the case's id;
    its stored document is not made a ``Case`` (the case model's validator is built on
    first use), on both databases. An unknown reference is still said."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000321"))
        record = get_case(connection, "ME-000321")
        assert record is not None
        assert case_id_of(connection, "ME-000321") == record.id
        assert case_id_of(connection, "ME-000999") is None
        with pytest.raises(NotFoundError, match="no case ME-000999"):
            case_state(connection, "ME-000999")
    url = database.engine.url.render_as_string(hide_password=False)
    probe = (
        "import sys\n"
        "from hub.retailers.erasure import erasure_status\n"
        "from hub.store.cases import case_state\n"
        "from hub.store.db import Database\n"
        f"database = Database({url!r})\n"
        "with database.transaction() as connection:\n"
        "    state = case_state(connection, 'ME-000321')\n"
        "assert [event.status for event in state.timeline] == ['created'], state\n"
        "assert erasure_status(database, 'ME-000321') is None\n"
        "print(sys.modules['hub.model.case'].Case.__pydantic_complete__)\n"
    )
    assert _printed_by(probe) == "False"


def test_the_model_loads_a_module_only_when_one_of_its_names_is_used() -> None:
    """`hub.model`'s names come from their modules on first use: importing a party's id
    builds no case or event class, and `from hub.model import Case` still gives the Case."""
    probe = (
        "import sys\n"
        "from hub.model.parties import PartyId\n"
        "before = sorted(m for m in sys.modules if m.startswith('hub.model.'))\n"
        "from hub.model import Case, derive_case_state\n"
        "from hub.model.case import Case as Defined\n"
        "assert Case is Defined, Case\n"
        "assert derive_case_state.__module__ == 'hub.model.timeline'\n"
        "print(','.join(before))\n"
    )
    assert _printed_by(probe) == "hub.model.address,hub.model.parties"


def test_the_schema_head_read_from_the_migration_files_is_alembics(tmp_path: Path) -> None:
    """`head_revision` reads the migration files' revision lines instead of loading
    Alembic; it must name the head Alembic names, and leave a branch to Alembic."""
    from alembic.script import ScriptDirectory

    from hub.store.migrate import alembic_config, head_revision
    from hub.store.revisions import MIGRATIONS
    from hub.store.revisions import single_head as _single_head

    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    alembic_head = ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    assert _single_head(MIGRATIONS / "versions") == alembic_head
    assert head_revision(database) == alembic_head
    branched = tmp_path / "versions"
    branched.mkdir()
    for revision, down in [("0001", None), ("0002", "0001"), ("0003", "0001")]:
        (branched / f"{revision}_step.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n", encoding="utf-8"
        )
    assert _single_head(branched) is None  # two heads: Alembic says what to do
    (branched / "0003_step.py").write_text(
        'revision = "0003"\ndown_revision = ("0001", "0002")\n', encoding="utf-8"
    )
    assert _single_head(branched) is None  # a merge: Alembic's to read
    (branched / "0003_step.py").write_text(
        'revision = "0003"\ndown_revision = "0002"\n', encoding="utf-8"
    )
    assert _single_head(branched) == "0003"


def test_the_check_reads_a_shared_mapping_once_and_says_its_error_for_each_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two connectors of one partner share its mapping: `hub connectors check` reads and
    checks the file once (issue 17), and a broken one is still said for each of them."""
    import hub.partners.connectors as connectors

    mapping = (ROOT / "mappings" / "atelier-dupont.yaml").read_text(encoding="utf-8")
    broken = mapping.replace("messages:\n", "messages:\n  no_direction: {codec: {type: csv}}\n", 1)
    assert broken != mapping
    (tmp_path / "atelier-dupont.yaml").write_text(broken, encoding="utf-8")
    sftp = (
        "{type: sftp, host: sftp.example, username: hub, private_key_env: AD_KEY, "
        "host_key: 'SHA256:3q2+7w3lVYkbYYZbz8aXUb3dFvS2iXmrRHNUczJ3P0o', remote_dir: /out}"
    )
    path = tmp_path / "connectors.yaml"
    path.write_text(
        "version: 1\n"
        "parties: [{id: atelier-dupont, role: repairer, name: AD}]\n"
        "connectors:\n"
        "  - {name: ad-status, partner: atelier-dupont, mapping: atelier-dupont.yaml,\n"
        f"     message: status, transport: {sftp}}}\n"
        "  - {name: ad-orders, partner: atelier-dupont, mapping: atelier-dupont.yaml,\n"
        f"     message: repair_order, transport: {sftp}}}\n",
        encoding="utf-8",
    )
    reads: list[Path] = []

    def counted(mapping_file: Path) -> object:
        reads.append(mapping_file)
        return load_mapping(mapping_file)

    load_mapping = connectors.load_mapping
    monkeypatch.setattr(connectors, "load_mapping", counted)
    problems = [p.text for p in check_network(path)]
    assert reads == [tmp_path / "atelier-dupont.yaml"]
    assert len(problems) >= 2
    assert problems[: len(problems) // 2] == problems[len(problems) // 2 :]
    assert all(str(tmp_path / "atelier-dupont.yaml") in text for text in problems)

    (tmp_path / "atelier-dupont.yaml").write_text(mapping, encoding="utf-8")
    reads.clear()
    problems = [p.text for p in check_network(path) if not p.warning]
    assert problems == []
    assert reads == [tmp_path / "atelier-dupont.yaml"]
