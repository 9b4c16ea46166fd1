"""Benchmark of the command line's start: how long an operator waits for `hub`.

Run it from the repository root::

    .venv/bin/python bench/start.py [--runs N]

Each figure is a whole process, started and waited for, the median of N runs (5 by
default), the commands interleaved so that a busy moment of a shared machine falls on
all of them alike:

- the floors: ``python -c pass`` (the interpreter) and ``python -c "import typer"`` (the
  least any Typer command line pays);
- ``hub --help``;
- ``hub status`` on a fresh SQLite database (migrated before the clock starts) with the
  repository's connectors.yaml: the network read and checked, every connector's state;
- ``hub runs atelier-dupont-status`` (the network read, one connector's runs),
  ``hub sla`` (the network and the service levels of open cases) and ``hub unmapped``
  (the store alone), on the same database;
- the other commands that serve no HTTP and only read: ``rejects``, ``warnings``,
  ``unlinked``, ``cases show`` (of a case opened from fixtures/cases before the clock
  starts), ``overview``, ``db current``, ``outbox dead-letters``, ``connectors list``,
  ``connectors check`` and ``retention --dry-run``.

It prints each median, its ratio to the Typer floor (floor / command: 1.0 would be a
command that costs nothing beyond importing Typer) and the issue's target (0.4 s for
every command that serves no HTTP). Absolute seconds depend on the machine's load;
compare the ratios. On a machine shared with other work, the wall clock also counts the
time a process waits for a core: the CPU seconds (user + system) each command used are
printed beside it, with their ratio to the Typer floor's, which waiting does not change.
This prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.4
"""The issue's target for a command that serves no HTTP."""
CONNECTOR = "atelier-dupont-status"
"""A connector of the repository's connectors.yaml."""
CASE = "BM-000045"
"""A case of fixtures/cases, opened before the clock starts."""


def _hub() -> list[str]:
    """`hub` as its entry point runs it (cli.main), from this checkout's cli.py: the
    figures are this tree's, whichever `hub` the environment installed."""
    return [sys.executable, str(ROOT / "cli.py")]


def _cpu() -> float:
    """CPU seconds used by this process's waited-for children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time(command: list[str], environ: dict[str, str]) -> tuple[float, float]:
    """Wall clock and CPU seconds of one whole process."""
    cpu, began = _cpu(), perf_counter()
    subprocess.run(
        command,
        cwd=ROOT,
        env=environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return perf_counter() - began, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Runs of each command (median).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        environ = {
            **os.environ,
            "HUB_DATABASE_URL": f"sqlite:///{Path(scratch) / 'hub.db'}",
            "COLUMNS": "140",
        }
        # The warm-up run writes the bytecode a deployed hub has; without it every run
        # would compile the hub's modules again.
        environ.pop("PYTHONDONTWRITEBYTECODE", None)
        hub = _hub()
        subprocess.run([*hub, "up"], cwd=ROOT, env=environ, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*hub, "cases", "open", str(ROOT / "fixtures" / "cases" / f"{CASE}.json")],
            cwd=ROOT,
            env=environ,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import typer"': [sys.executable, "-c", "import typer"],
            "hub --help": [*hub, "--help"],
            "hub status": [*hub, "status"],
            "hub runs <connector>": [*hub, "runs", CONNECTOR],
            "hub sla": [*hub, "sla"],
            "hub unmapped": [*hub, "unmapped"],
            "hub rejects <connector>": [*hub, "rejects", CONNECTOR],
            "hub warnings <connector>": [*hub, "warnings", CONNECTOR],
            "hub unlinked": [*hub, "unlinked"],
            "hub cases show <case>": [*hub, "cases", "show", CASE],
            "hub overview": [*hub, "overview"],
            "hub db current": [*hub, "db", "current"],
            "hub outbox dead-letters": [*hub, "outbox", "dead-letters"],
            "hub connectors list": [*hub, "connectors", "list"],
            "hub connectors check": [*hub, "connectors", "check"],
            "hub retention --dry-run": [*hub, "retention", "--dry-run"],
        }
        for command in commands.values():  # warm the file cache and the bytecode
            _time(command, environ)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                wall, cpu = _time(command, environ)
                times[name].append(wall)
                cpus[name].append(cpu)
    medians = {name: statistics.median(runs) for name, runs in times.items()}
    cpu_medians = {name: statistics.median(runs) for name, runs in cpus.items()}
    floor = medians['python -c "import typer"']
    cpu_floor = cpu_medians['python -c "import typer"']
    print(f"start of whole processes, median of {args.runs} runs each, in the same run:")
    for name, median in medians.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        cpu = cpu_medians[name]
        line = f"  {name:<28} {median:6.3f} s  (runs {spread} s)  cpu {cpu:6.3f} s"
        if name.startswith("hub"):
            verdict = "met" if median <= TARGET_SECONDS else "not met"
            line += (
                f"  ratio to the Typer floor {floor / median:.2f} (cpu {cpu_floor / cpu:.2f}); "
                f"target <= {TARGET_SECONDS} s: {verdict}"
            )
        print(line)


if __name__ == "__main__":
    main()
