"""A delivery's parts, to be counted under callgrind (issue 17, fifteenth pass).

Counted only over the loop (``--instr-atstart=no``; the script turns instrumentation
on and off on its own pid with ``callgrind_control``), so that the imports, the
database's set-up and the queueing stay out of the figure; divide by the messages::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --dump-instr=no \\
        --callgrind-out-file=/dev/null .venv/bin/python bench/delivery_count.py send 1000

``send N``: the dispatcher's ``_dispatch`` of a claimed webhook N times (its body read
ahead, as ``prefetch`` leaves it; signed, POSTed to the bench's receiver in a process
of its own, its verdict made and its log line written to a file), one thread.
``book N``: N rounds of the dispatcher's bookkeeping, each a claim of 25 of the
webhooks ``bench/dispatch.py`` queues, their bodies' read (``webhook_payloads``) and
their deliveries marked (``settle_many``); the messages counted are printed. Both on a
private PostgreSQL database (``--postgres-url``), after six rounds or fifty sends
uncounted (statements prepared, connections kept alive).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and bench/xml.py would hide
# the standard library's `xml` from the adapters this process loads.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import (
    DEFAULT_POSTGRES_URL,
    POSTGRES_VARIABLE,
    WEBHOOK_SECRET,
    prepare,
    queue_messages,
    receiver_process,
    write_network,
)
from bench.scratch import scratch_postgres
from hub.bootstrap import Hub
from hub.logs import configure_logging
from hub.partners.network import open_network
from hub.store import outbox as store
from hub.store.db import Database
from hub.store.outbox import Delivered
from hub.sync.delivery import Deliveries, webhook_payloads
from hub.sync.outbox import claim

WARM_SENDS = 50
WARM_ROUNDS = 6
ROUND = 25


def counting(on: bool) -> None:
    """Callgrind's instrumentation of this process on or off (nothing outside it)."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def sends(database: Database, network: Path, folder: Path, count: int) -> int:
    configure_logging((folder / "hub.log").open("w"), {}, default="info")
    queue_messages(database, network, 60)
    with Hub(database, open_network(network), owner="bench") as hub:
        dispatcher = hub._dispatcher  # the one `hub serve` runs
        assert dispatcher is not None
        deliveries = dispatcher.send
        assert isinstance(deliveries, Deliveries)
        rows = dispatcher._claim(limit=50)
        bodies = webhook_payloads(database, rows)
        for number in range(WARM_SENDS + count):
            if number == WARM_SENDS:
                counting(True)
            row = rows[number % len(rows)]
            deliveries._payloads[row.id] = bodies[row.id]  # as prefetch leaves it
            dispatcher._dispatch(row)
        counting(False)
    return count


def rounds(database: Database, network: Path, count: int) -> int:
    queue_messages(database, network, 2000)
    counted = 0
    for number in range(WARM_ROUNDS + count):
        if number == WARM_ROUNDS:
            counting(True)
        rows = claim(database, "bench", limit=ROUND)
        webhook_payloads(database, rows)
        marks = [(row, Delivered(at=datetime.now(UTC), receipt_status=204)) for row in rows]
        with database.transaction() as connection:
            assert all(store.settle_many(connection, marks, "bench"))
        counted += len(rows) if number >= WARM_ROUNDS else 0
    counting(False)
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("part", choices=("send", "book"))
    parser.add_argument("count", type=int, help="sends, or rounds of 25")
    parser.add_argument(
        "--postgres-url", default=os.environ.get(POSTGRES_VARIABLE) or DEFAULT_POSTGRES_URL
    )
    args = parser.parse_args()
    os.environ["BENCH_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    with (
        tempfile.TemporaryDirectory() as name,
        receiver_process() as receiver,
        scratch_postgres(args.postgres_url) as database,
    ):
        folder = Path(name)
        network = write_network(folder, receiver.url)
        prepare(database, network)
        if args.part == "send":
            messages = sends(database, network, folder, args.count)
        else:
            messages = rounds(database, network, args.count)
    print(f"{args.part}: {messages} messages counted")


if __name__ == "__main__":
    main()
