"""From stored events to messages waiting in the outbox, in the events' own transaction.

The rules (hub.sync.rules) say what each event sets in motion; here the intents become
outbox items addressed to connectors, and status intents become the hub's own events
(which may in turn notify the retailer). Everything happens on the caller's connection,
so the events and the messages they cause commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.config.sync import SyncSpec
from hub.model.event import Event, EventType, stable_event_id
from hub.retailers.webhook_endpoints import endpoint_target
from hub.retailers.webhooks import EVENT_TYPE
from hub.store.case_links import GivenHow, record_given
from hub.store.cases import CaseRecord, get_cases, lock_cases
from hub.store.db import Connection
from hub.store.events import append_events
from hub.store.webhook_endpoints import StoredEndpoint, receiving_endpoints
from hub.sync import HUB_PARTY as HUB_PARTY
from hub.sync.addresses import Addresses
from hub.sync.outbox import OutboxItem, Ring, enqueue
from hub.sync.rules import (
    Intent,
    NotifyIntent,
    SendIntent,
    StatusIntent,
    TakenOutsideIntent,
    evaluate,
)

MAX_ROUNDS = 4
"""Hub events can cause more (on hold -> retailer notified); never an endless chain."""


@dataclass
class SyncOutcome:
    enqueued: list[int] = field(default_factory=list)
    hub_events: list[Event] = field(default_factory=list)


def _item(intent: SendIntent | NotifyIntent, addresses: Addresses) -> OutboxItem:
    if isinstance(intent, NotifyIntent):
        return OutboxItem(
            target=f"webhook:{intent.retailer}",
            kind="event",
            idempotency_key=intent.idempotency_key,
            payload={"event_id": intent.event_id, "rule": intent.rule},
            case_ref=intent.case_ref,
        )
    return OutboxItem(
        target=addresses.connector(intent.party, intent.message),
        kind=intent.message,
        idempotency_key=intent.idempotency_key,
        payload={"leg": intent.leg, "cause": intent.cause, "rule": intent.rule},
        case_ref=intent.case_ref,
        after=intent.after,
    )


def _read_endpoints(
    connection: Connection,
    intents: list[tuple[Event, list[Intent]]],
    endpoints: dict[str, list[StoredEndpoint]],
) -> None:
    """The endpoints of every retailer a round notifies, not read yet, in one statement
    (one a retailer cost a small file a read more; issue 17, fourteenth pass)."""
    unread = {
        intent.retailer
        for _, caused in intents
        for intent in caused
        if isinstance(intent, NotifyIntent) and intent.retailer not in endpoints
    }
    if not unread:
        return
    for retailer in unread:
        endpoints[retailer] = []
    for endpoint in receiving_endpoints(connection, sorted(unread)):
        endpoints[endpoint.retailer_id].append(endpoint)


def _notifications(
    intent: NotifyIntent, addresses: Addresses, endpoints: dict[str, list[StoredEndpoint]]
) -> list[OutboxItem]:
    """One message for the retailer's configured webhook, if it has one, and one for each
    of its own endpoints that asked for case events: each endpoint its own queue."""
    items = []
    if intent.retailer in addresses.webhook_retailers:
        items.append(_item(intent, addresses))
    for endpoint in endpoints[intent.retailer]:
        if EVENT_TYPE not in endpoint.event_types:
            continue
        items.append(
            OutboxItem(
                target=endpoint_target(intent.retailer, endpoint.id),
                kind="event",
                idempotency_key=f"{intent.idempotency_key}/{endpoint.id}",
                payload={"event_id": intent.event_id, "rule": intent.rule},
                case_ref=intent.case_ref,
            )
        )
    return items


def _hub_event(intent: StatusIntent, cause: Event) -> Event:
    return Event(
        id=stable_event_id(
            reported_by=HUB_PARTY,
            partner_event_id=f"{intent.rule}:{intent.cause}",
            type=EventType.CASE_STATUS,
            raw_code=None,
            occurred_at=cause.occurred_at,
        ),
        case_ref=intent.case_ref,
        type=EventType.CASE_STATUS,
        status=intent.status,
        occurred_at=cause.occurred_at,
        reported_by=HUB_PARTY,
        raw_code=intent.rule,
        raw_label=f"set by rule {intent.rule}",
    )


def apply_sync(
    connection: Connection,
    sync: SyncSpec,
    addresses: Addresses,
    stored: Sequence[Event],
    *,
    on_queued: Ring | None = None,
) -> SyncOutcome:
    """Enqueue what the newly stored events cause; call it right after appending them.
    ``on_queued``: rung once the transaction commits when it queued a message."""
    outcome = SyncOutcome()
    records: dict[str, CaseRecord | None] = {}  # a file holds many events of one case
    endpoints: dict[str, list[StoredEndpoint]] = {}  # by retailer, read once per call
    pending = [event for event in stored if event.case_ref is not None]
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        items: list[OutboxItem] = []
        caused: list[Event] = []
        given: set[tuple[str, str]] = set()
        # The cases not read yet, in one statement: one each cost a 10,000-row file
        # about a fifth of its ingestion (issue 17, thirteenth pass).
        unread = [
            e.case_ref for e in pending if e.case_ref is not None and e.case_ref not in records
        ]
        if unread:
            read = get_cases(connection, unread)
            records.update({reference: read.get(reference) for reference in unread})
        evaluated: list[tuple[Event, list[Intent]]] = []
        for event in pending:
            assert event.case_ref is not None
            record = records[event.case_ref]
            if record is None:
                continue  # an orphan: its rules run when the case opens
            evaluated.append((event, evaluate(sync, event, record.case)))
        _read_endpoints(connection, evaluated, endpoints)
        for event, intents in evaluated:
            for intent in intents:
                if isinstance(intent, StatusIntent):
                    caused.append(_hub_event(intent, event))
                elif isinstance(intent, TakenOutsideIntent):
                    given.add((intent.case_ref, intent.party))
                elif isinstance(intent, NotifyIntent):
                    # Configured and retailer-managed endpoints alike; none: it reads
                    # the feed, where every event already is.
                    items += _notifications(intent, addresses, endpoints)
                else:
                    items.append(_item(intent, addresses))
                    if isinstance(intent, SendIntent):
                        # Only a partner given the case may be linked to it by a serial
                        # or a retailer's reference (hub.partners.resolve).
                        given.add((intent.case_ref, intent.party))
        if given:
            # Their ids came with the cases read above: none to look up again.
            known = {ref: record.id for ref, record in records.items() if record is not None}
            record_given(connection, given, GivenHow.MESSAGE, ids=known)
        if items:
            # Lock the cases first: per case, messages commit in the order they are enqueued.
            lock_cases(connection, [item.case_ref for item in items if item.case_ref])
            outcome.enqueued.extend(enqueue(connection, items, on_queued=on_queued))
        stored_ids = set(append_events(connection, caused).stored_ids) if caused else set()
        pending = [event for event in caused if event.id in stored_ids]
        outcome.hub_events.extend(pending)
    return outcome
