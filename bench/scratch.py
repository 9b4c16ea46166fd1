"""Throw-away databases for benchmarks: a SQLite file, or a PostgreSQL database beside a
given server URL, always dropped afterwards (even when the run fails)."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.store.db import Database, normalise_url


@contextmanager
def scratch_sqlite() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def scratch_postgres(url: str) -> Iterator[Database]:
    name = f"hub_bench_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(
        make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
