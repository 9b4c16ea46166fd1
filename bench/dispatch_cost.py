"""Where one outbox delivery's CPU goes: a dispatcher run in this process (as `hub serve`
builds it, hub.bootstrap), its phases timed on the threads that run them.

Run it from the repository root::

    .venv/bin/python bench/dispatch_cost.py [--messages N] [--deliveries-per-receiver N]
                                            [--no-http] [--logs] [--queue-only]
                                            [--postgres-url URL]

N messages (2,000 by default) are queued as bench/dispatch.py queues them, on a private
PostgreSQL database, then one ``run_until_idle`` sends them to the same receiver, in a
process of its own. It prints the messages per second, the process's CPU per message
(user and system, every thread) and each phase's CPU and wall time per message: the
claims, the bodies read ahead (``prefetch``), the sends (body, signature, HTTP) and the
marks. ``--no-http``: every send answered at once without a request, to see the hub's
own work apart from the HTTP client's; ``--logs``: the JSON lines `hub serve` writes
(to a temporary file). The figures are this machine's: compare two trees in turns.
It asserts nothing about time.

Counting a delivery's instructions (callgrind of the whole process, at two sizes, the
difference over the messages between them) counts the queueing too: cases opened,
events appended, webhooks enqueued, about as much again as the delivery (issue 17).
``--queue-only`` stops once the messages are queued, for the same count to subtract.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
from hub.ports import DeliveryReceipt, OutboundMessage
from hub.sync import DELIVERIES_PER_RECEIVER
from hub.sync.delivery import Deliveries, Senders


class Phases:
    """CPU (of the calling thread) and wall seconds spent in each wrapped call."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def timed(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.cpu[name] += time.thread_time() - cpu
                self.wall[name] += time.perf_counter() - wall

        return wrapper


class Answered:
    """A webhook sender that answers 204 at once: the hub's work without HTTP."""

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        del message
        return DeliveryReceipt(status=204, body=b"", already_known=False)


def process_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000, help="webhooks to deliver")
    parser.add_argument("--deliveries-per-receiver", type=int, default=DELIVERIES_PER_RECEIVER)
    parser.add_argument("--no-http", action="store_true", help="answer every send at once")
    parser.add_argument("--logs", action="store_true", help="write hub serve's log lines")
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="queue the messages and stop: what this process spends before the dispatcher "
        "runs, to subtract from a whole-process count (callgrind)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_VARIABLE) or DEFAULT_POSTGRES_URL,
        help=f"server to create a temporary database on (default: ${POSTGRES_VARIABLE} "
        f"or {DEFAULT_POSTGRES_URL})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    phases = Phases()
    # The dispatcher is handed the bound method when the hub is built: time the class's.
    Deliveries.prefetch = phases.timed("prefetch", Deliveries.prefetch)  # type: ignore[method-assign]
    if args.no_http:
        Senders.for_webhook = lambda self, spec: Answered()  # type: ignore[method-assign]
    with (
        tempfile.TemporaryDirectory() as name,
        receiver_process() as receiver,
        scratch_postgres(args.postgres_url) as database,
    ):
        folder = Path(name)
        if args.logs:
            configure_logging((folder / "hub.log").open("w"), {}, default="info")
        os.environ["BENCH_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        network = write_network(folder, receiver.url)
        prepare(database, network)
        queued = queue_messages(database, network, args.messages)
        if args.queue_only:
            print(f"{queued} messages queued; not sent (--queue-only)")
            return 0
        with Hub(
            database,
            open_network(network),
            owner="bench",
            deliveries_per_receiver=args.deliveries_per_receiver,
        ) as hub:
            dispatcher = hub._dispatcher  # the one `hub serve` runs
            assert dispatcher is not None
            dispatcher.send = phases.timed("send", dispatcher.send)
            dispatcher._claim = phases.timed("claim", dispatcher._claim)  # type: ignore[method-assign]
            dispatcher._settle = phases.timed("mark", dispatcher._settle)  # type: ignore[method-assign]
            user, system = process_cpu()
            started = time.perf_counter()
            result = dispatcher.run_until_idle()
            seconds = time.perf_counter() - started
            user_after, system_after = process_cpu()
        seen = len(receiver.arrivals().first_arrival)
    per = 1e6 / queued
    print(
        f"{queued} messages, --deliveries-per-receiver {args.deliveries_per_receiver}"
        f"{', no HTTP' if args.no_http else ''}{', logs' if args.logs else ''}: "
        f"{result.delivered} delivered ({seen} seen by the receiver) in {seconds:.2f} s = "
        f"{queued / seconds:.0f} messages/s; CPU {(user_after - user) * per:.0f} us user + "
        f"{(system_after - system) * per:.0f} us system a message"
    )
    for phase in ("claim", "prefetch", "send", "mark"):
        print(
            f"  {phase}: {phases.cpu[phase] * per:.0f} us CPU, "
            f"{phases.wall[phase] * per:.0f} us wall a message"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
