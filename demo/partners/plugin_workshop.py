"""A workshop connected only through a plugin that is not the hub's: the example package
``hub-example-adapters`` (its ``jsonl-spool`` transport and ``keyvalue`` codec).

It shows in the demo that a third-party adapter runs like a built-in: its middleware
spools one key=value message acknowledging the first case of the story, which the hub
reads on the connector's schedule, maps and stores. The demo includes it only where the
package is installed (the development install does it); elsewhere the demo goes on
without it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from demo.story import DemoCase

SPOOL_FILE = "middleware-demo.jsonl"


def spool_acknowledgement(folder: Path, case: DemoCase) -> Path:
    """The middleware's spool with one message: the case received, a minute after it
    was opened (so the story's own later statuses decide where the case stands)."""
    folder.mkdir(parents=True, exist_ok=True)
    moment = case.opened_at + timedelta(minutes=1)
    body = (
        "dossier=EX-DEMO-1\n"
        f"reference={case.reference}\n"
        f"date={moment:%Y-%m-%d %H:%M}\n"
        "code=RECU\n"
        "texte=Accusé de réception (atelier relié par un greffon)\n"
    )
    path = folder / SPOOL_FILE
    path.write_text(json.dumps({"id": "demo-1", "body": body}, ensure_ascii=False) + "\n")
    return path
