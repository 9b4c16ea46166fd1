"""The generator of hub.store.plain_sql: the store's statements that the plain reads run
(hub.store.plain), compiled for SQLite and PostgreSQL in their drivers' parameter styles.

The statements stay defined where the store runs them through SQLAlchemy; this module only
names them. After changing one, regenerate (``tests/test_plain_store.py`` fails until then):

    python -m hub.store.plain_statements
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.sql.expression import Select

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
        run_history,
        runs,
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
        "LAST_RECEIVED_AT": connector_health.LAST_RECEIVED_AT,
        "UNMAPPED_BY_SOURCE": unmapped.UNMAPPED_BY_SOURCE,
        "OPEN_WARNING_COUNTS": file_warnings.OPEN_WARNING_COUNTS,
        "COUNTS_BY_TARGET": outbox.COUNTS_BY_TARGET,
        "OLDEST_PENDING_AT": outbox.OLDEST_PENDING_AT,
        "LAST_OWN_RUN": run_history.LAST_OWN_RUN,
        "LAST_OWN_RUN_ENDED": run_history.LAST_OWN_RUN_ENDED,
        "CONSECUTIVE_FAILURES": runs.CONSECUTIVE_FAILURES,
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


def _compiled(statement: Select[Any], dialect: Any) -> tuple[str, dict[str, Any], list[str]]:
    compiled = statement.compile(dialect=dialect)
    expanding: list[str] = []  # by the names the statement's text gives them
    for bind in compiled.binds.values():
        if bind.expanding and compiled.bind_names[bind] not in expanding:
            expanding.append(compiled.bind_names[bind])
    params = {  # a list the statement carries itself (``not_in`` of constants) is kept
        name: value
        for name, value in compiled.params.items()
        if name not in expanding or value is not None
    }
    return " ".join(line.rstrip() for line in str(compiled).split("\n")), params, expanding


def _listed(values: list[Any]) -> str:
    """A tuple's items as written between its parentheses."""
    return ", ".join(_literal(value) for value in values) + ("," if len(values) == 1 else "")


def _params(params: dict[str, Any]) -> str:
    """The parameters on one line, or one a line (as the formatter writes) when too long."""
    items = [f"{_literal(key)}: {_literal(value)}" for key, value in params.items()]
    line = "    params={" + ", ".join(items) + "},"
    if len(line) <= 100:
        return line
    return "\n".join(["    params={", *(f"        {item}," for item in items), "    },"])


def _query(name: str, statement: Select[Any]) -> str:
    sqlite, params, expanding = _compiled(statement, SQLiteDialect_pysqlite(paramstyle="named"))
    postgresql, pg_params, pg_expanding = _compiled(
        statement,
        PGDialect_psycopg(),  # type: ignore[no-untyped-call]
    )
    shared = params.keys() & pg_params.keys()
    if expanding != pg_expanding or any(params[key] != pg_params[key] for key in shared):
        raise ValueError(f"{name}: the two databases' parameters differ")
    params = {**params, **pg_params}  # a driver leaves out what its statement does not name
    kinds = [_kind(column) for column in statement.selected_columns]
    lines = [
        f"{name} = Query(",
        f"    sqlite={_literal(sqlite)},",
        f"    postgresql={_literal(postgresql)},",
        _params(params),
        f"    kinds={_literal(' '.join(kind or '-' for kind in kinds))},",
    ]
    if expanding:
        lines.append(f"    expanding=({_listed(expanding)}),")
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
