"""Throw-away databases for benchmarks: a SQLite file, or a PostgreSQL database beside a
given server URL, always dropped afterwards (even when the run fails)."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
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
def prepared_sqlite_file(prepare: Callable[[Database], None]) -> Iterator[Path]:
    """A SQLite file with what ``prepare`` writes (the hub's schema, the cases), closed:
    a floor then writes to it with the bare driver."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "floor.db"
        database = Database(f"sqlite:///{path}")
        try:
            prepare(database)
        finally:
            database.dispose()
        yield path


@contextmanager
def private_postgres(base_url: str) -> Iterator[tuple[str, str]]:
    """Create ``hub_bench_<random>`` beside ``base_url``; yield its URL and the server's
    version; drop it whatever happens."""
    name = f"hub_bench_{secrets.token_hex(6)}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            version = str(connection.execute(text("show server_version")).scalar_one()).split()[0]
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(normalise_url(base_url)).set(database=name)
            yield url.render_as_string(hide_password=False), version
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def scratch_postgres(url: str) -> Iterator[Database]:
    with private_postgres(url) as (private_url, _version):
        database = Database(private_url)
        try:
            yield database
        finally:
            database.dispose()
