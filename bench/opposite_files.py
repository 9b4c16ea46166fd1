"""Two `hub ingest` processes at once, of two large files naming the same cases in
opposite orders, on a scratch PostgreSQL database: whether both files are stored.

A file is stored in one transaction, chunk by chunk (10,000 rows), each chunk locking
its cases as it reads them; the first file's rows sorted by case reference, the
second's (other events, ``generate``'s other seed) in the opposite order, so that each
process's first chunks lock the cases the other's last chunks need. Each trial uses a
fresh scratch database (``prepare``: the network, 2,000 cases)::

    .venv/bin/python bench/opposite_files.py --postgres-url URL [--rows 40000] [--trials 5]

Prints, a trial a line, each process's exit status, whether its output said
"deadlock", and the events stored; then how many trials stored both files whole.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from bench.ingest import generate, prepare
from bench.scratch import scratch_postgres
from hub.store.tables import events

CONNECTOR = "atelier-dupont-status"


def ordered(content: bytes, *, reverse: bool) -> bytes:
    """The file with its rows sorted by the case reference (the second field)."""
    header, *rows = content.decode("latin-1").split("\r\n")
    # A comment may hold a line break: rows are the generator's lines joined back.
    lines: list[str] = []
    for row in rows:
        if lines and lines[-1].count('"') % 2:
            lines[-1] += "\r\n" + row
        elif row:
            lines.append(row)
    lines.sort(key=lambda line: line.split(";")[1], reverse=reverse)
    return ("\r\n".join([header, *lines]) + "\r\n").encode("latin-1")


def trial(url: str, rows: int, folder: Path) -> tuple[list[tuple[int, bool]], int]:
    """One trial: both processes started together; their (exit status, said
    "deadlock"), and the events stored (the cases' openings left out)."""
    with scratch_postgres(url) as database:
        prepare(database)
        with database.transaction() as connection:
            opened = connection.execute(select(func.count()).select_from(events)).scalar_one()
        paths = []
        for name, seed, reverse in (("A.csv", 7, False), ("B.csv", 8, True)):
            path = folder / name
            path.write_bytes(ordered(generate(rows, seed=seed), reverse=reverse))
            paths.append(path)
        environment = dict(os.environ, HUB_DATABASE_URL=database.url)
        command = [sys.executable, str(ROOT / "cli.py"), "ingest", "--connector", CONNECTOR]
        processes = [
            subprocess.Popen(
                [*command, "--file", str(path)],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for path in paths
        ]
        said = []
        for process in processes:
            output, _ = process.communicate()
            said.append((process.returncode, b"deadlock" in output))
        with database.transaction() as connection:
            stored = connection.execute(select(func.count()).select_from(events)).scalar_one()
        return said, int(stored) - int(opened)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    whole = 0
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.trials):
            said, stored = trial(args.postgres_url, args.rows, Path(folder))
            both = all(code == 0 for code, _ in said)
            whole += both
            print(f"trial {number + 1}: (exit, deadlock said) {said}, events stored {stored}")
    print(f"both files stored in {whole} of {args.trials} trials")


if __name__ == "__main__":
    main()
