"""What operators list: connector names, a connector's runs and rejected records, and the
partner codes no mapping knows yet. Each call reads in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from hub.config.network import NetworkConfig
from hub.errors import NotFoundError
from hub.partners.runs import RunRecord, run_record
from hub.store import file_warnings, rejects, run_history, unmapped
from hub.store.db import Database
from hub.store.file_warnings import FileWarning
from hub.store.rejects import Reject
from hub.store.unmapped import REMAPPED_SUFFIX, UnmappedCode, remapped_id

__all__ = [
    "REMAPPED_SUFFIX",
    "FileWarning",
    "Reject",
    "UnmappedCode",
    "acknowledge_file_warnings",
    "known_names",
    "recent_file_warnings",
    "recent_rejects",
    "recent_runs",
    "remapped_id",
    "replay_run_ids",
    "require_known",
    "unmapped_codes",
]


# --- names ----------------------------------------------------------------------------


def known_names(config: NetworkConfig) -> list[str]:
    """Every connector and drop folder name, in the order of connectors.yaml."""
    return [spec.name for spec in config.connectors] + [d.name for d in config.case_imports]


def require_known(config: NetworkConfig, name: str) -> None:
    """A clear error for a name connectors.yaml does not have, listing those it does."""
    names = known_names(config)
    if name not in names:
        raise NotFoundError(f"no connector named {name!r} (known: {', '.join(names) or 'none'})")


# --- reading runs, rejects and codes ----------------------------------------------------


def recent_runs(database: Database, connector: str, limit: int = 50) -> list[RunRecord]:
    """The connector's runs, newest first, replays included."""
    with database.transaction() as connection:
        rows = run_history.runs_of(connection, connector, limit=limit)
    return [run_record(row) for row in rows]


def replay_run_ids(database: Database, run_ids: list[int]) -> set[int]:
    """Which of these runs were replays."""
    if not run_ids:
        return set()
    with database.transaction() as connection:
        return run_history.replay_run_ids(connection, run_ids)


def recent_rejects(database: Database, connector: str, *, limit: int = 100) -> list[Reject]:
    """The connector's rejected records, newest first."""
    with database.transaction() as connection:
        return rejects.recent_rejects(connection, connector, limit=limit)


def recent_file_warnings(
    database: Database, connector: str, *, limit: int = 100
) -> list[FileWarning]:
    """The connector's file warnings (a sequence gap between files), newest first."""
    with database.transaction() as connection:
        return file_warnings.recent_warnings(connection, connector, limit=limit)


def acknowledge_file_warnings(database: Database, connector: str, *, now: datetime) -> int:
    """An operator saw the connector's warnings (and asked the partner): no longer flagged."""
    with database.transaction() as connection:
        return file_warnings.acknowledge_warnings(connection, connector, now=now)


def unmapped_codes(database: Database) -> list[UnmappedCode]:
    """Codes to add to a mapping, by reporting party and raw code, most frequent first."""
    with database.transaction() as connection:
        return unmapped.unmapped_codes(connection)
