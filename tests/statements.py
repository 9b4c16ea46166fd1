"""The statements a block of a test runs on a database, as SQLAlchemy's
``before_cursor_execute`` event sees them (the store's driver statements announce
themselves to it too), and optionally each commit: what a test reads to check how the
store talks to the database (how many statements, which text, what is bound)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import event

from hub.store.db import Database

COMMIT = "COMMIT"
"""The text recorded for a commit, when commits are recorded."""


class Ran(NamedTuple):
    """One statement as the driver got it: its SQL text and its parameters."""

    sql: str
    parameters: Any


@contextmanager
def recorded(database: Database, *, commits: bool = False) -> Iterator[list[Ran]]:
    """Every statement run on ``database`` while the block runs, in order; with
    ``commits``, a ``Ran(COMMIT, None)`` where each transaction committed."""
    seen: list[Ran] = []

    def ran(_connection: Any, _cursor: Any, sql: str, parameters: Any, *_rest: Any) -> None:
        seen.append(Ran(sql, parameters))

    def committed(_connection: Any) -> None:
        seen.append(Ran(COMMIT, None))

    event.listen(database.engine, "before_cursor_execute", ran)
    if commits:
        event.listen(database.engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", ran)
        if commits:
            event.remove(database.engine, "commit", committed)
