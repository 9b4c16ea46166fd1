"""Parts orders the hub placed: so a supplier's answer quoting only the order id finds
its case."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from hub.errors import NotFoundError
from hub.model.work import PartsOrder
from hub.store.tables import cases, parts_orders
from hub.store.upsert import insert_ignoring_conflicts


def record_parts_order(
    connection: Connection, order: PartsOrder, *, now: datetime | None = None
) -> None:
    """Keep the order (once: an order id is never reused, a retry records nothing new)."""
    case_id = connection.execute(
        select(cases.c.id).where(cases.c.reference == order.case_reference)
    ).scalar_one_or_none()
    if case_id is None:
        raise NotFoundError(f"no case {order.case_reference} for parts order {order.id}")
    connection.execute(
        insert_ignoring_conflicts(connection, parts_orders, "id"),
        {
            "id": order.id,
            "case_id": case_id,
            "supplier_id": order.supplier,
            "ship_to_id": order.ship_to,
            "document": order.model_dump(mode="json"),
            "created_at": now or datetime.now(UTC),
        },
    )


def cases_by_parts_order(connection: Connection, order_ids: set[str]) -> dict[str, str]:
    """The case reference of each known order id (the hub numbers parts orders itself,
    so an order id is the hub's word)."""
    if not order_ids:
        return {}
    rows = connection.execute(
        select(parts_orders.c.id, cases.c.reference)
        .join(cases, cases.c.id == parts_orders.c.case_id)
        .where(parts_orders.c.id.in_(sorted(order_ids)))
    )
    return {order_id: reference for order_id, reference in rows}
