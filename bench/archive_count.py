"""What archiving a pushed message costs (issue 17, fourteenth pass): since migration 0023
every message the archive stores writes an entry in the index on source and arrival too.

A run archives ``messages`` pushes of about ``--size`` bytes (``archive_message``, one
transaction each, as a push is stored), from two sources in turn, each a second after
the previous, into a scratch database migrated first. Every push's bytes are generated
up front (``--generated``), so two runs differ only by the pushes they archive. On
SQLite, a push's instructions are the difference of two runs over the pushes between
them:

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
        --cachegrind-out-file=/dev/null .venv/bin/python -P bench/archive_count.py 2000
    (the same with 4000; (count(4000) - count(2000)) / 2000 is pushes 2000-3999's)

``--postgres-url URL`` archives into a scratch PostgreSQL database beside URL instead
and prints, for the pushes after ``--skip``, the server's backends' CPU a push (from
/proc: a server on this machine) and this process's; the wall clock is the commits'.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import _server_cpu, backends_cpu
from bench.scratch import scratch_postgres, scratch_sqlite
from hub.ports import MessageRef, RawMessage
from hub.store.archive import archive_message
from hub.store.migrate import upgrade

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SOURCES = ("colis-express-push", "relais-direct-push")


def pushed(number: int, size: int) -> bytes:
    """A push's body: an event of a parcel, padded to about ``size`` bytes, its own
    bytes (the archive keeps one copy of the same bytes from a source)."""
    event = {
        "parcel": f"CE{number:010d}",
        "status": "DELIVERED" if number % 3 else "IN_TRANSIT",
        "at": (T0 + timedelta(seconds=number)).isoformat(),
        "comment": "",
    }
    event["comment"] = "x" * max(0, size - len(json.dumps(event)))
    return json.dumps(event).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", type=int)
    parser.add_argument("--size", type=int, default=600, help="bytes a push, about")
    parser.add_argument("--generated", type=int, default=4_000, help="pushes generated")
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--skip", type=int, default=0, help="pushes archived before the count")
    args = parser.parse_args()
    bodies = [pushed(number, args.size) for number in range(max(args.generated, args.messages))]
    scratch = scratch_sqlite() if args.postgres_url is None else scratch_postgres(args.postgres_url)
    with scratch as database:
        upgrade(database)
        wall = cpu = 0.0
        server: dict[int, float | None] = {}
        for number, body in enumerate(bodies[: args.messages]):
            if number == args.skip:
                server = backends_cpu(database) if args.postgres_url else {}
                wall, cpu = time.perf_counter(), time.process_time()
            at = T0 + timedelta(seconds=number)
            message = RawMessage(MessageRef(f"push-{number}", len(body), at), body)
            with database.transaction() as connection:
                archive_message(connection, SOURCES[number % 2], message, now=at)
        counted = args.messages - args.skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        line = f"{args.messages} pushes archived; of the {counted} counted, a push:"
        if args.postgres_url:
            spent = _server_cpu(server, backends_cpu(database))
            line += " server CPU " + ("n/a" if spent is None else f"{spent / counted * 1e6:.0f} us")
            line += ","
        print(f"{line} CPU here {cpu / counted * 1e6:.0f} us, wall {wall / counted * 1e6:.0f} us")


if __name__ == "__main__":
    main()
