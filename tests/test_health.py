"""Health and readiness, with real processes: `/healthz` and `/readyz` of a `hub serve`
on PostgreSQL reached through a TCP proxy the test cuts and restores; `hub serve`
refusing a schema that is behind; any command refusing a database without the schema
in one line, creating nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from hub.store.db import Database
from hub.store.migrate import head_revision, upgrade
from simulators.server import free_port
from tests.conftest import _postgres_base, private_postgres_database
from tests.tcp_proxy import tcp_proxy

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, str(ROOT / "cli.py")]


def hub_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    return env | {"HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(ROOT / "connectors.yaml")}


def hub(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ["cases", "show", "ME-1"],
        ["overview"],
        ["outbox", "dead-letters"],
        ["status"],
        ["run", "atelier-dupont-status"],
        ["retailers", "add", "Shop", "--prefix", "SH-"],
        ["serve-api"],
        ["serve"],
    ],
)
def test_a_command_on_a_missing_database_says_run_hub_up_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    target = tmp_path / "hub.db"
    result = hub(*args, cwd=tmp_path, env=hub_env(f"sqlite:///{target}"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"configuration error: no database at {target}: run `hub up` to create it"
    ]
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_db_current_on_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "hub.db"
    result = hub("db", "current", cwd=tmp_path, env=hub_env(f"sqlite:///{target}"))
    assert result.returncode == 0
    assert f"current (none: no database at {target})" in result.stdout
    assert not target.exists()


def test_a_command_on_a_database_without_the_schema_says_run_hub_up(tmp_path: Path) -> None:
    target = tmp_path / "hub.db"
    target.touch()  # an empty file: SQLite's empty database
    result = hub("cases", "show", "ME-1", cwd=tmp_path, env=hub_env(f"sqlite:///{target}"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "has no hub schema: run `hub up`" in lines[0]
    with sqlite3.connect(target) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [], "no table was created in it"


def test_hub_serve_refuses_a_schema_that_is_behind_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    database = Database(url)
    upgrade(database, "0010")
    database.dispose()
    result = hub("serve", "--port", str(free_port()), cwd=tmp_path, env=hub_env(url))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"configuration error: database schema is at 0010, not {head_revision(database)}: "
        "run `hub up` (or `hub db upgrade`) to migrate it"
    ]


def test_hub_serve_refuses_a_schema_from_a_newer_release(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    database = Database(url)
    upgrade(database)
    with database.transaction() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    database.dispose()
    result = hub("serve", "--port", str(free_port()), cwd=tmp_path, env=hub_env(url))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "at 9999, which this release does not know" in lines[0]


def test_an_unreachable_database_is_one_line_too(tmp_path: Path) -> None:
    url = f"postgresql://hub@127.0.0.1:{free_port()}/nothing"
    result = hub("cases", "show", "ME-1", cwd=tmp_path, env=hub_env(url))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach postgresql+psycopg://hub@127.0.0.1")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with private_postgres_database(_postgres_base()) as url:
        yield url


def readiness(port: int) -> tuple[int, dict[str, object]]:
    answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    return answer.status_code, answer.json()


def wait_for(port: int, status: int, server: subprocess.Popen[str]) -> dict[str, object]:
    """Poll /readyz as a load balancer does, until it answers ``status``."""
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "hub serve exited"
        assert time.monotonic() < deadline, f"/readyz never answered {status}"
        try:
            code, body = readiness(port)
        except httpx.TransportError:
            code, body = 0, {}
        if code == status:
            return body
        time.sleep(0.2)


@pytest.mark.postgres
def test_readyz_fails_and_recovers_as_postgresql_goes_and_comes_back(
    tmp_path: Path, postgres_url: str
) -> None:
    Database(postgres_url).dispose()
    upgrade(Database(postgres_url))
    real = make_url(postgres_url)
    with tcp_proxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        port = free_port()
        log = (tmp_path / "serve.log").open("w")
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--dispatch-every", "0.5"],
            cwd=tmp_path,
            env=hub_env(through),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            ready = wait_for(port, 200, server)
            assert ready["status"] == "ready"
            checks = ready["checks"]
            assert isinstance(checks, dict)
            assert checks["database"] == "reachable"
            assert checks["schema"] == f"at head {head_revision(Database(postgres_url))}"
            assert checks["connectors"].endswith("loaded")

            proxy.cut()
            down = wait_for(port, 503, server)
            assert down["status"] == "not ready"
            assert str(down["checks"]["database"]).startswith("unreachable: ")  # type: ignore[index]
            alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert alive.status_code == 200, "the process itself is alive"
            assert alive.json() == {"status": "alive"}

            proxy.restore()
            back = wait_for(port, 200, server)
            assert back["checks"] == checks, "ready again, without a restart"
        finally:
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=60)
            log.close()
        assert code == 0, (tmp_path / "serve.log").read_text()
