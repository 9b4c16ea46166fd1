"""The parties known to the hub (from connectors.yaml and the retailers' registry)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from hub.model.parties import Party, PartyRole
from hub.store.tables import parties
from hub.store.upsert import insert_ignoring_conflicts


def save_party(connection: Connection, party: Party) -> None:
    """Insert the party, or update its role and name if it exists."""
    values = {"id": party.id, "role": party.role.value, "name": party.name}
    connection.execute(insert_ignoring_conflicts(connection, parties, "id"), values)
    connection.execute(
        update(parties)
        .where(parties.c.id == party.id)
        .values(role=party.role.value, name=party.name)
    )


def get_party(connection: Connection, party_id: str) -> Party | None:
    row = connection.execute(select(parties).where(parties.c.id == party_id)).one_or_none()
    return None if row is None else Party(id=row.id, role=PartyRole(row.role), name=row.name)


def list_parties(connection: Connection) -> list[Party]:
    rows = connection.execute(select(parties).order_by(parties.c.id)).all()
    return [Party(id=row.id, role=PartyRole(row.role), name=row.name) for row in rows]
