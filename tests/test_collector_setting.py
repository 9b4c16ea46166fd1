"""The garbage collector's setting for the commands that ingest (commands.common), checked
in a process of its own where the command runs: frozen objects and the raised young
threshold after `hub ingest` (stored and dry run), the interpreter's defaults after a
command that does not ingest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from commands.common import BATCH_COLLECTION_THRESHOLD
from tests.test_cli import ROOT, run

SAMPLE = ROOT / "fixtures" / "atelier-dupont" / "STATUTS_20261103_1415.csv"

# Runs the command in this process (as `hub` does), then prints the collector's state.
PROBE = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
import cli
try:
    cli.app(sys.argv[2:], standalone_mode=False)
finally:
    print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
"""


def collector_after(*args: str, cwd: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONNECTORS"] = str(ROOT / "connectors.yaml")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    state: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return state


def test_ingest_freezes_what_it_built_and_raises_the_young_threshold(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    ingest = ["ingest", "--connector", "atelier-dupont-status", "--file", str(SAMPLE)]
    for args in (ingest, [*ingest, "--dry-run"]):
        state = collector_after(*args, cwd=tmp_path)
        assert isinstance(state["frozen"], int)
        assert state["frozen"] > 10_000, "the imports and the network are frozen"
        assert state["threshold"] == [BATCH_COLLECTION_THRESHOLD, 10, 10]


def test_a_command_that_does_not_ingest_keeps_the_interpreters_defaults(
    tmp_path: Path,
) -> None:
    state = collector_after("connectors", "check", cwd=tmp_path)
    assert state == {"frozen": 0, "threshold": [700, 10, 10]}
