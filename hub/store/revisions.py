"""The schema's revisions without Alembic or SQLAlchemy: where the migrations are, the
table Alembic records its revision in, and the head read from the migration files (every
store command asks; the plain reads of hub.store.plain too, issue 17)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")

VERSION_TABLE = "alembic_version"


_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def single_head(versions: Path) -> str | None:
    """The head of the migrations in ``versions`` when each names its revision and the one
    before it as plain strings and they chain into one line; None otherwise."""
    before: dict[str, str | None] = {}
    for file in sorted(versions.glob("*.py")):
        if file.name.startswith(("_", ".")):
            continue
        assigned: dict[str, object] = {}
        for name, value in _ASSIGNED.findall(file.read_text(encoding="utf-8")):
            try:
                assigned[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        revision, down = assigned.get("revision"), assigned.get("down_revision", ...)
        if not isinstance(revision, str) or revision in before:
            return None
        if down is not None and not isinstance(down, str):
            return None
        before[revision] = down
    roots = [revision for revision, down in before.items() if down is None]
    heads = set(before) - {down for down in before.values() if down is not None}
    pointed = [down for down in before.values() if down is not None]
    if len(roots) != 1 or len(heads) != 1 or len(set(pointed)) != len(pointed):
        return None
    if any(down not in before for down in pointed):
        return None
    return heads.pop()
