"""What ``enqueue`` promises, whichever way a database writes a batch (one
``executemany`` and a read of the new ids on SQLite, a lone message's insert returning
its id; one insert of arrays and one update on PostgreSQL): ids that rise in the items'
order, since queues are claimed by id; a key written once; a wait on a message queued
before, in the batch or earlier, and on no other; payloads stored as the column's own
type writes them; statements that do not grow in number with the batch."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, insert, select

from hub.store.db import Database
from hub.store.tables import outbox
from hub.sync.outbox import OutboxItem, enqueue, get_message
from tests.statements import recorded

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def message(
    key: str, *, case: str = "C1", after: str | None = None, payload: Any = None
) -> OutboxItem:
    return OutboxItem(
        target="repairer",
        kind="repair_order",
        idempotency_key=key,
        payload={"key": key} if payload is None else payload,
        case_ref=case,
        after=after,
    )


def put(database: Database, *items: OutboxItem) -> list[int]:
    with database.transaction() as connection:
        return enqueue(connection, items, now=T0)


def waits_on(database: Database, message_id: int) -> int | None:
    return get_message(database, message_id).after_id


def key_of(database: Database, message_id: int) -> str:
    return get_message(database, message_id).idempotency_key


def test_ids_rise_in_the_order_the_messages_were_given(database: Database) -> None:
    """Keys shuffled, so that no order of the keys or the cases gives the same ids."""
    keys = [f"m-{number:04d}" for number in range(600)]
    random.Random(6).shuffle(keys)
    items = [message(key, case=f"C{number % 7}") for number, key in enumerate(keys)]
    ids = put(database, *items)
    assert len(ids) == len(keys)
    assert ids == sorted(ids)
    assert [get_message(database, found).idempotency_key for found in ids[:5]] == keys[:5]
    assert get_message(database, ids[-1]).idempotency_key == keys[-1]


def test_a_key_already_stored_or_given_twice_is_written_once(database: Database) -> None:
    [stored] = put(database, message("a", payload={"n": 1}))
    ids = put(
        database,
        message("b", payload={"n": 2}),
        message("a", payload={"n": 3}),
        message("b", payload={"n": 4}),
        message("c", payload={"n": 5}),
    )
    assert len(ids) == 2
    assert [get_message(database, found).payload for found in [stored, *ids]] == [
        {"n": 1},
        {"n": 2},
        {"n": 5},
    ]
    assert put(database, message("a"), message("b"), message("c")) == []


def test_a_message_waits_only_on_one_queued_before_it(database: Database) -> None:
    """Earlier in the batch: its new id. Stored before (a cause processed again), given
    again in the batch or not: the stored one's id. Later in the batch, or unknown: it
    waits for nothing, as when each was queued alone."""
    [stored] = put(database, message("pickup-old", case="C9"))
    ids = put(
        database,
        message("pickup", case="C1"),
        message("order", case="C1", after="pickup"),
        message("note", case="C9", after="pickup-old"),
        message("pickup-old", case="C9"),
        message("order-old", case="C9", after="pickup-old"),
        message("early", case="C2", after="late"),
        message("late", case="C2"),
        message("lost", case="C3", after="never-queued"),
        message("second", case="C1", after="order"),
    )
    pickup, order, note, order_old, early, late, lost, second = ids
    assert waits_on(database, pickup) is None
    assert waits_on(database, order) == pickup
    assert waits_on(database, note) == stored
    assert waits_on(database, order_old) == stored
    assert waits_on(database, early) is None
    assert waits_on(database, late) is None
    assert waits_on(database, lost) is None
    assert waits_on(database, second) == order


def test_a_later_message_waits_on_one_stored_even_when_the_batch_gives_it_after(
    database: Database,
) -> None:
    [stored] = put(database, message("late"))
    [early] = put(database, message("early", after="late"), message("late"))
    assert waits_on(database, early) == stored


def test_payloads_are_stored_as_the_column_type_writes_them(database: Database) -> None:
    """Byte for byte, the text a single insert through the table's column type stores:
    nested values, non-ASCII text, numbers, nulls."""
    payload = {
        "client": "Mme Hélène Dupré",
        "lines": [{"part": "MOT-220", "qty": 2, "price": 41.5}, {"part": None}],
        "urgent": True,
        "note": 'a "quoted" word\nand a line',
    }
    [queued] = put(database, message("q", payload=payload))
    in_batch = put(database, message("b1", payload=payload), message("b2", payload=payload))
    with database.transaction() as connection:
        connection.execute(
            insert(outbox).values(
                target="repairer",
                kind="repair_order",
                case_ref="C1",
                ordering_key="C1",
                idempotency_key="reference",
                payload=payload,
                created_at=T0,
                state="pending",
                attempts=0,
                next_attempt_at=T0,
            )
        )
        texts = dict(
            connection.execute(
                select(outbox.c.idempotency_key, cast(outbox.c.payload, String))
            ).all()
        )
    assert texts["q"] == texts["b1"] == texts["b2"] == texts["reference"]
    assert [get_message(database, found).payload for found in [queued, *in_batch]] == [payload] * 3


def test_a_lone_message_is_written_waits_and_is_skipped_as_in_a_batch(
    database: Database,
) -> None:
    """A batch of one (a small file's round often is) takes its own statement."""
    [stored] = put(database, message("pickup"))
    [order] = put(database, message("order", after="pickup"))
    [lost] = put(database, message("lost", after="never-queued"))
    [itself] = put(database, message("itself", after="itself"))
    assert put(database, message("order", after="lost")) == []
    assert [stored, order, lost, itself] == sorted([stored, order, lost, itself])
    assert [key_of(database, found) for found in (stored, order, lost, itself)] == [
        "pickup",
        "order",
        "lost",
        "itself",
    ]
    assert waits_on(database, stored) is None
    assert waits_on(database, order) == stored
    assert waits_on(database, lost) is None
    assert waits_on(database, itself) is None


def test_a_wait_on_a_key_given_twice_is_on_the_message_written(database: Database) -> None:
    """The second item of a key is skipped; one waiting on that key waits on the first,
    the one written, wherever it stands after the skipped one. One waiting on itself
    waits for nothing."""
    ids = put(
        database,
        message("pickup", payload={"n": 1}),
        message("order", after="pickup"),
        message("pickup", payload={"n": 2}),
        message("note", after="pickup"),
        message("self", after="self"),
    )
    pickup, order, note, itself = ids
    assert [key_of(database, found) for found in ids] == ["pickup", "order", "note", "self"]
    assert get_message(database, pickup).payload == {"n": 1}
    assert waits_on(database, order) == pickup
    assert waits_on(database, note) == pickup
    assert waits_on(database, itself) is None


def test_the_new_ids_are_the_written_messages_when_the_last_ones_are_skipped(
    database: Database,
) -> None:
    """Skipped items at the batch's end and start, stored ones of lower ids between: the
    ids returned are the new messages', each its key's."""
    first = put(database, message("a"), message("b"))
    ids = put(
        database,
        message("a"),
        message("c"),
        message("d", after="a"),
        message("b"),
        message("c"),
    )
    assert [key_of(database, found) for found in ids] == ["c", "d"]
    assert min(ids) > max(first)
    assert waits_on(database, ids[1]) == first[0]


def test_a_round_is_written_by_as_many_statements_whatever_its_size(
    database: Database,
) -> None:
    """Not one statement a message: a batch of 60 takes no more than a batch of 3
    (SQLite: the inserts in one call, then the new ids' read; PostgreSQL: one insert,
    and one update for the waits within the batch)."""

    def batch(prefix: str, size: int) -> list[OutboxItem]:
        return [
            message(f"{prefix}-{n}", after=f"{prefix}-{n - 1}" if n % 2 else None)
            for n in range(size)
        ]

    with recorded(database) as small:
        assert len(put(database, *batch("s", 3))) == 3
    with recorded(database) as large:
        assert len(put(database, *batch("l", 60))) == 60
    writes = [ran for ran in large if "outbox" in ran.sql]
    assert len(writes) == len([ran for ran in small if "outbox" in ran.sql]) == 2
