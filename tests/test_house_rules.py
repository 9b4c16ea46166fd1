"""The house rules are import-linter contracts (`.importlinter`, run by the test command);
this shows each one fails when broken, on a copy of the tree with one forbidden import
added per rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "adapters", "commands", "demo", "simulators")

VIOLATIONS = {
    "hub/model/_probe.py": "import hub.store.db",
    "hub/partners/_probe.py": "import adapters.codecs.csv.codec",
    "hub/api/_probe.py": "import hub.store.tables",
    "hub/sla/_probe.py": "import sqlalchemy",
    "hub/store/_probe.py": "import hub.partners.ingest",
    "adapters/codecs/_probe.py": "import httpx",
    "adapters/transports/_probe.py": "import hub.model.statuses",
    "hub/console/_probe.py": "import adapters.transports.sftp",
    "hub/store/instants.py": "import sqlalchemy",
    "hub/config/durations.py": "import pydantic",
    "hub/model/terms.py": "import hub.model.event",
    "hub/sla/store.py": "import hub.model.case",
}
"""One forbidden import per contract, in a module of its own (the plain reads' and the
network outline's contracts and those of the rules over stored rows name their modules:
one of each is replaced by the import)."""


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache", "--config", str(tree / ".importlinter")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_contract_fails_when_its_rule_is_broken(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for path, line in VIOLATIONS.items():
        (tmp_path / path).write_text(f'"""A forbidden import."""\n\n{line}  # noqa: F401\n')

    result = _lint(tmp_path)

    assert result.returncode != 0
    output = result.stdout
    for path, line in VIOLATIONS.items():
        module = path.removesuffix(".py").replace("/", ".")
        target = line.removeprefix("import ")
        assert f"{module} -> {target}" in output, output
    for name in (
        "The canonical model imports nothing of the hub",
        "Nothing in hub/ imports adapters/, demo/ or simulators/",
        "Only hub.store touches the tables and SQL",
        "The plain store reads import no SQLAlchemy",
        "The network's outline and what reads it import no pydantic and no network model",
        "The rules over stored rows import no pydantic",
        "The service levels' and a case's reads import no model class",
        "Codecs and the mapping engine do no I/O",
        "Transports know no canonical statuses",
        "The API and console never call a transport",
        "Layers: entry points, services, mapping, configuration, store, model",
    ):
        assert f"{name} BROKEN" in output, output
