"""The generator of hub.store.plain_sql: the store's statements that the plain reads run
(hub.store.plain), compiled for SQLite and PostgreSQL in their drivers' parameter styles.

The statements stay defined where the store runs them through SQLAlchemy; this module only
names them. After changing one, regenerate (``tests/test_plain_store.py`` fails until then):

    python -m hub.store.plain_statements
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.sql.expression import Select

from hub.store.instants import sqlite_text
from hub.store.plain import Query
from hub.store.retention_rows import due_name, kept_name
from hub.store.types import UtcDateTime

GENERATED = Path(__file__).with_name("plain_sql.py")


def _statements() -> dict[str, Select[Any]]:
    """Each plain read's statement, by the name hub.store.plain_sql gives it."""
    from hub.store import (
        case_links,
        case_search,
        cases,
        connector_health,
        erasure,
        events,
        figures,
        file_warnings,
        migrate,
        outbox,
        rejects,
        retention,
        run_history,
        service_levels,
        unmapped,
    )

    return {
        "REVISION_READ": migrate.REVISION_READ,
        "DEAD_LETTERS": outbox.DEAD_LETTERS,
        "DEAD_LETTERS_TO": outbox.DEAD_LETTERS_TO,
        "HELD_BACK": outbox.HELD_BACK,
        "UNLINKED": case_links.UNLINKED,
        "UNLINKED_OF_PARTY": case_links.UNLINKED_OF_PARTY,
        "UNMAPPED_CODES": unmapped.UNMAPPED_CODES,
        "PARTIES_BY_ROLE": figures.PARTIES_BY_ROLE,
        "CASES_BY_STATUS": figures.CASES_BY_STATUS,
        "EVENT_COUNTS": figures.EVENT_COUNTS,
        "RAW_MESSAGE_COUNT": figures.RAW_MESSAGE_COUNT,
        "OUTBOX_BY_STATE": figures.OUTBOX_BY_STATE,
        "REFERENCE_EXACT": case_search.REFERENCE_EXACT,
        "REFERENCE_BY_LETTERS": case_search.REFERENCE_BY_LETTERS,
        "CASE_ID_OF": cases.CASE_ID_OF,
        "EVENTS_OF_CASE": events.EVENTS_OF_CASE,
        "REFERENCES_OF_CASE": case_links.REFERENCES_OF_CASE,
        "ERASURE_OF": erasure.ERASURE_OF,
        "LEASE_STATES": connector_health.LEASE_STATES,
        "LAST_RECEIVED": connector_health.LAST_RECEIVED,
        "UNMAPPED_BY_SOURCE": unmapped.UNMAPPED_BY_SOURCE,
        "OPEN_WARNING_COUNTS": file_warnings.OPEN_WARNING_COUNTS,
        "COUNTS_BY_TARGET": outbox.COUNTS_BY_TARGET,
        "OLDEST_PENDING_AT": outbox.OLDEST_PENDING_AT,
        "OWN_RUN_SUMMARIES": run_history.OWN_RUN_SUMMARIES,
        "RUNS_OF": run_history.RUNS_OF,
        "REPLAY_RUN_IDS": run_history.REPLAY_RUN_IDS,
        "RECENT_REJECTS": rejects.RECENT_REJECTS,
        "RECENT_WARNINGS": file_warnings.RECENT_WARNINGS,
        "CASE_DOCUMENT": service_levels.CASE_DOCUMENT,
        "MEASURED_EVENTS_OF_CASE": service_levels.MEASURED_EVENTS_OF_CASE,
        "OPEN_CASE_DOCUMENTS": service_levels.OPEN_CASE_DOCUMENTS,
        "OPEN_CASE_DOCUMENTS_OF": service_levels.OPEN_CASE_DOCUMENTS_OF,
        "OPEN_CASE_EVENTS": service_levels.OPEN_CASE_EVENTS,
        "OPEN_CASE_EVENTS_OF": service_levels.OPEN_CASE_EVENTS_OF,
        **{due_name(kind): statement for kind, statement in retention.DUE_COUNTS.items()},
        **{kept_name(kind): statement for kind, statement in retention.OLDEST_KEPT.items()},
        "CLOSED_CASES_TO_ANONYMISE": erasure.CLOSED_CASES_TO_ANONYMISE,
    }


def _kind(column: Any) -> str | None:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return "instant"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Boolean):
        return "bool"
    return None


def _literal(value: Any) -> str:
    """A value written as the formatter writes it (double quotes unless the text has some)."""
    if isinstance(value, str):
        if '"' in value and "'" not in value:
            return repr(value)
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return f"({_listed(list(value))})"
    raise TypeError(f"no literal for {value!r}")


def _compiled(
    statement: Select[Any], dialect: Any
) -> tuple[str, dict[str, Any], list[str], list[tuple[str, str]]]:
    compiled = statement.compile(dialect=dialect)
    expanding: list[str] = []  # by the names the statement's text gives them
    binds: list[tuple[str, str]] = []
    for bind in compiled.binds.values():
        name = compiled.bind_names[bind]
        if bind.expanding and name not in expanding:
            expanding.append(name)
        kind = _bind_kind(bind.type)
        if kind is not None and (name, kind) not in binds:
            binds.append((name, kind))
    params = {  # a list the statement carries itself (``not_in`` of constants) is kept
        name: value
        for name, value in compiled.params.items()
        if name not in expanding or value is not None
    }
    text = " ".join(line.rstrip() for line in str(compiled).split("\n"))
    return text, params, expanding, sorted(binds)


def _bind_kind(kind: Any) -> str | None:
    """What the plain reads do to a parameter before the driver gets it, as its column type
    does (hub.store.plain's ``_BIND``); None: nothing."""
    if isinstance(kind, UtcDateTime):
        _check_sqlite_text(kind)
        return "instant"
    return None


def _check_sqlite_text(kind: UtcDateTime) -> None:
    """Refuse to generate if SQLAlchemy no longer writes an instant on SQLite as
    hub.store.instants does (a changed storage format would make the plain reads compare
    other texts than the store's)."""
    sample = datetime(2026, 3, 29, 1, 30, 5, 70, tzinfo=timezone(timedelta(hours=2)))
    dialect = SQLiteDialect_pysqlite()
    engine_text = kind.dialect_impl(dialect).bind_processor(dialect)
    if engine_text is None or engine_text(sample) != sqlite_text(sample):
        raise ValueError("SQLite's instants are no longer written as hub.store.instants does")


def _listed(values: list[Any]) -> str:
    """A tuple's items as written between its parentheses."""
    return ", ".join(_literal(value) for value in values) + ("," if len(values) == 1 else "")


def _params(params: Mapping[str, Any]) -> str:
    """The parameters on one line, or one a line (as the formatter writes) when too long."""
    items = [f"{_literal(key)}: {_literal(value)}" for key, value in params.items()]
    line = "    params={" + ", ".join(items) + "},"
    if len(line) <= 100:
        return line
    return "\n".join(["    params={", *(f"        {item}," for item in items), "    },"])


def query_of(statement: Select[Any], name: str = "the statement") -> Query:
    """The statement as the plain reads run it on each database (what hub.store.plain_sql
    holds of it)."""
    sqlite, params, expanding, binds = _compiled(
        statement, SQLiteDialect_pysqlite(paramstyle="named")
    )
    postgresql, pg_params, pg_expanding, pg_binds = _compiled(
        statement,
        PGDialect_psycopg(),  # type: ignore[no-untyped-call]
    )
    shared = params.keys() & pg_params.keys()
    if expanding != pg_expanding or any(params[key] != pg_params[key] for key in shared):
        raise ValueError(f"{name}: the two databases' parameters differ")
    if binds != pg_binds:
        raise ValueError(f"{name}: the two databases' parameters' types differ")
    kinds = [_kind(column) for column in statement.selected_columns]
    return Query(
        sqlite=sqlite,
        postgresql=postgresql,
        params={**params, **pg_params},  # a driver leaves out what its statement does not name
        kinds=" ".join(kind or "-" for kind in kinds),
        expanding=tuple(expanding),
        binds=tuple(binds),
    )


def _query(name: str, statement: Select[Any]) -> str:
    query = query_of(statement, name)
    lines = [
        f"{name} = Query(",
        f"    sqlite={_literal(query.sqlite)},",
        f"    postgresql={_literal(query.postgresql)},",
        _params(query.params),
        f"    kinds={_literal(query.kinds)},",
    ]
    if query.expanding:
        lines.append(f"    expanding=({_listed(list(query.expanding))}),")
    if query.binds:
        lines.append(f"    binds=({_listed(list(query.binds))}),")
    lines.append(")")
    physical = "\n".join(lines).split("\n")
    return "\n".join(line if len(line) <= 100 else f"{line}  # noqa: E501" for line in physical)


def generated_module() -> str:
    """The text of hub.store.plain_sql for the statements as they are now."""
    head = (
        '"""The store\'s statements that the plain reads run (hub.store.plain), compiled for\n'
        "each database. Generated by `python -m hub.store.plain_statements` from the\n"
        'statements hub.store.plain_statements names: do not edit."""\n\n'
        "from hub.store.plain import Query\n"
    )
    queries = [_query(name, statement) for name, statement in _statements().items()]
    return head + "".join(f"\n{query}\n" for query in queries)


def write(target: Path = GENERATED) -> bool:
    """Write the module; whether it changed."""
    text = generated_module()
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":
    print("written" if write() else "unchanged")
