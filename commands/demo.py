"""`hub demo`: the hub and every simulated partner on this machine, with SQLite only.

Live (the default), the story unfolds every few seconds under the hub's own scheduler
and the console stays up until Ctrl-C; `--once` runs the same story to its end at full
speed, prints the summary and exits 0 only if every party ended consistent.
"""

from pathlib import Path
from typing import Annotated

import typer

from commands.common import err, out
from hub.api.listen import require_free_port
from hub.logs import detach_logging

DEFAULT_FOLDER = Path("var/demo")


def demo(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Run the story to its end at full speed, check, summarise, exit."
        ),
    ] = False,
    folder: Annotated[
        Path, typer.Option("--dir", help="Working folder, emptied at each start.")
    ] = DEFAULT_FOLDER,
    port: Annotated[
        int, typer.Option(help="The hub's port on 127.0.0.1 (0: any free one).")
    ] = 8000,
    every: Annotated[
        float, typer.Option(help="Live: seconds between two rounds of partner activity.")
    ] = 3.0,
    network: Annotated[
        Path | None,
        typer.Option(
            "--network",
            help="The production network file whose simulated partners the demo plays "
            "(default: the repository's connectors.yaml).",
        ),
    ] = None,
) -> None:
    """Start the hub and its simulated partners, open fifty cases and follow them."""
    detach_logging()  # the terminal shows the story; the session logs to its folder
    # Imported here: the simulators and their servers cost every other command a second.
    try:
        from demo.live import run_live
        from demo.run import run_once
        from demo.session import demo_session
    except ModuleNotFoundError as missing:
        if missing.name != "asyncssh":
            raise
        err.print(
            "hub demo needs the 'demo' extra (asyncssh, for the simulated SFTP servers): "
            "pip install 'aftersales-hub[demo]', or from a clone: pip install -e '.[demo]'",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None

    if not once:
        require_free_port("127.0.0.1", port)
    console = out  # wide enough away from a terminal (commands.common)
    with demo_session(folder, port=0 if once else port, production=network) as session:
        if once:
            outcome = run_once(session, console)
            raise typer.Exit(0 if not outcome.problems else 1)
        run_live(session, console, every=every)
