"""Operator commands: the network's health, runs, rejects, pause and resume, replay,
dead letters, one module per group; ``register`` adds them all to ``hub``."""

from __future__ import annotations

import typer

from commands.operator.dead_letters import dead_letters_app
from commands.operator.listings import rejects, runs, status, unlinked, unmapped, warnings
from commands.operator.pausing import pause, resume
from commands.operator.replay import replay_command


def register(app: typer.Typer) -> None:
    """Add the operator commands to the `hub` application."""
    app.command("status")(status)
    app.command("runs")(runs)
    app.command("rejects")(rejects)
    app.command("warnings")(warnings)
    app.command("unmapped")(unmapped)
    app.command("unlinked")(unlinked)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("replay")(replay_command)
    app.add_typer(dead_letters_app, name="dead-letters")
