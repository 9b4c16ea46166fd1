"""`hub backup FILE`: an online copy of the SQLite database, taken while the hub serves."""

from pathlib import Path
from typing import Annotated

import typer

from commands.common import DatabaseOption, open_database, out


def backup(
    target: Annotated[Path, typer.Argument(help="The backup file to write (a new file).")],
    database: DatabaseOption = None,
) -> None:
    """Copy the SQLite database to FILE, consistent as of one moment, without stopping the
    hub; restore by putting the file in place while no hub runs. PostgreSQL: pg_dump."""
    from hub.store.backup import backup_sqlite

    db = open_database(database)
    size = backup_sqlite(db, target)
    out.print(f"backup written to {target} ({size} bytes), integrity checked", markup=False)
