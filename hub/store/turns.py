"""Whose turn it is to store a message on PostgreSQL: every unit at once, or one alone.

A message's storing unit locks what it writes as it goes, chunk by chunk (its cases, the
unique keys of its events and links), in no order over the whole message: its later
chunks are not known before they are parsed. Two units can then each hold what the other
waits for, and PostgreSQL fails one of them (a deadlock). That unit is run again
(hub.partners.ingest.message): alone, so that it cannot meet another unit half-way
again. Every unit takes the storing turn shared, first thing; the unit run again takes
it exclusive, which waits for every unit storing at that moment to end, holding nothing
meanwhile, and keeps new ones waiting (holding nothing either) until it commits.

A transaction-level advisory lock: released by the commit or the rollback, whatever
ends the unit. SQLite has one writer at a time already: nothing to take.
"""

from __future__ import annotations

from sqlalchemy import Connection

from hub.store.compiled import driver_rows

STORING = 0x6875622D73746F72
"""The advisory lock's key (the bytes of "hub-stor"): no other lock of the hub's is an
advisory one; a key of its own, should another application share the database."""

_SHARED = f"SELECT pg_advisory_xact_lock_shared({STORING})"
_ALONE = f"SELECT pg_advisory_xact_lock({STORING})"
"""The key written in the statements (every file's unit runs the first: as a bound
parameter it counted the same, 5.80 M instructions a small file, issue 17)."""


def take_storing_turn(connection: Connection, *, alone: bool = False) -> None:
    """Take the storing turn until the unit ends: the unit's first statement, before it
    locks anything else. ``alone``: only once every other storing unit has ended, and no
    new one until this one has (a unit PostgreSQL failed to break a deadlock)."""
    if connection.dialect.name != "postgresql":
        return
    driver_rows(connection, _ALONE if alone else _SHARED)
