"""The push connectors' last arrivals (`hub status`: ``LAST_RECEIVED``) as the database
runs them (issue 17, fourteenth pass): the plan, and on PostgreSQL the server's execution
time and buffers, the median of ``--runs`` runs of ``EXPLAIN (ANALYZE, BUFFERS)``. The
statement is this tree's (``hub.store.plain_sql``), on a store bench/status_store.py
filled:

    python bench/arrival_plan.py sqlite:///var/status.db
    python bench/arrival_plan.py postgresql://postgres@127.0.0.1:5432/status
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg

from hub.partners.network_cache import read_outline
from hub.store import plain_sql
from hub.store.plain import _expanded
from hub.store.urls import sqlite_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    pushed = [
        spec.name for spec in read_outline(ROOT / "connectors.yaml").connectors if spec.pushed
    ]
    query = plain_sql.LAST_RECEIVED
    postgresql = args.url.startswith("postgresql")
    sql, params = _expanded(
        query.postgresql if postgresql else query.sqlite,
        {**query.params, "sources": pushed},
        "sources",
        postgresql=postgresql,
    )
    if not postgresql:
        path = sqlite_file(args.url)
        assert path is not None, "a SQLite file"
        with sqlite3.connect(path) as connection:
            for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params):
                print(row[3])
        return
    with psycopg.connect(args.url) as connection:
        runs = []
        for _ in range(args.runs):
            [(found,)] = connection.execute(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params
            ).fetchall()
            plan = found[0]["Plan"]
            buffers = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
            runs.append((float(found[0]["Execution Time"]), int(buffers)))
        for (line,) in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params):
            print(line)
    times = ", ".join(f"{seconds:.3f}" for seconds, _ in runs)
    print(
        f"{len(pushed)} sources asked; execution {statistics.median(t for t, _ in runs):.3f} ms "
        f"(median of {args.runs}: {times}), {runs[-1][1]} buffers"
    )


if __name__ == "__main__":
    main()
