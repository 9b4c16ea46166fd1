"""The live demo: the hub's own scheduler (built by hub.bootstrap) does its work while the
partners act every few seconds, and the console stays up until Ctrl-C, when the summary is
printed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from rich.console import Console

from demo.run import observe, open_cases, summarise
from demo.session import Session
from demo.story import ROUND, START
from demo.summary import check
from hub.api.operator_auth import TOKEN_ENV


def run_live(session: Session, console: Console, *, every: float) -> None:
    """Serve until interrupted; each round the partners report what happened since."""
    scheduler = session.core.scheduler(dispatch_every=timedelta(seconds=1))
    scheduler.start()
    console.print(f"[bold]Hub demo[/bold]: the console is at {session.console_url}")
    console.print(f"Operator token for this session: {session.secrets.operator_token}")
    console.print(f"(also in ${TOKEN_ENV} of this process only; Ctrl-C stops the demo)")
    console.print(f"In another terminal: hub --home {session.folder} status")
    stop = threading.Event()
    rounds = 0
    started = time.monotonic()
    now = next_time = START
    try:
        while not stop.is_set():
            now, next_time = next_time, next_time + ROUND
            session.clock.set(now)  # the hub's clock: the console and API measure by it
            opened = open_cases(session, rounds) if rounds < 2 else 0
            reported = session.partners.act(now)
            session.core.jobs.publish_breaches()  # told when detected, not 15 min later
            read = session.feed.poll()
            if opened or reported or read:
                console.print(
                    f"{now:%a %d/%m %H:%M}: {_counted(opened, 'case')} opened, "
                    f"{_counted(reported, 'partner report')}, "
                    f"{_counted(read, 'feed item')} read by BricoMarket"
                )
            rounds += 1
            waiting = session.partners.waiting_until()
            if not (opened or reported or read) and waiting is not None and waiting > next_time:
                next_time = waiting  # days pass with nothing to report
            stop.wait(every)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        scheduler.shutdown(wait=True)
    observed = observe(session)
    summarise(
        session,
        console,
        observed,
        check(observed),
        rounds=rounds,
        seconds=time.monotonic() - started,
        now=now,
    )


def _counted(count: int, noun: str) -> str:
    """A count with its noun agreeing (1 case, 2 cases): the live log reads as prose."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
