"""Delivering an outbox message to a partner: the canonical context built from the store,
rendered by the partner's mapping, handed to the connector's transport.

The context is what every outbound mapping may read: the case, its retailer, the routed
repairer (with its address), the pickup's sender and recipient for the message's leg,
the parcels whose numbers the hub knows, and the parts order a waiting-for-parts event
calls for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from hub.config.connector_spec import WebhookSpec
from hub.config.sync import Role
from hub.errors import ConfigurationError, FatalError, HubError, Location
from hub.mapping.loader import build_answer_codec
from hub.mapping.outbound import UnreadableAnswer, answer_values
from hub.mapping.spec import AnswerTarget, OutboundSpec
from hub.model.case import Case
from hub.model.event import STATUS_SETS, AnyStatus, Event, EventType
from hub.model.parties import Party
from hub.model.statuses import CaseStatus
from hub.model.timeline import OrderKey, order_key, status_after, status_as_of
from hub.model.work import PartsOrder, Shipment, ShipmentLeg
from hub.partners.connectors import Connector, Network
from hub.partners.outbound import deliver_records, render_record
from hub.partners.resolve import link_parcels
from hub.ports import DeliveryReceipt, Sender
from hub.retailers.cases import InvalidFieldError
from hub.retailers.webhook_endpoints import check_url, secret_box, signing_secrets
from hub.retailers.webhooks import (
    event_payload,
    read_webhook_secret,
    stored_event_payload,
    webhook_message,
    webhook_post_sender,
    webhook_sender,
)
from hub.store.case_links import learn_partner_references
from hub.store.case_lists import case_parcels
from hub.store.cases import case_state, get_case
from hub.store.db import Connection, Database
from hub.store.events import get_event
from hub.store.outbox import WEBHOOK_ENTRY_AT, WebhookEntry, webhook_timelines
from hub.store.parcels import KnownParcel
from hub.store.parties import get_party
from hub.store.parts_orders import record_parts_order
from hub.store.webhook_endpoints import get_endpoint
from hub.sync.addresses import contact_of
from hub.sync.failures import FAILED_KIND, WEBHOOK_PREFIX, failure_of, failure_payload
from hub.sync.outbox import OutboxRow
from hub.sync.rules import route_for

logger = logging.getLogger(__name__)


class UndeliverableMessage(FatalError):
    """The outbox message lacks what its partner needs (no case, no parts): dead-letter it."""


def _customer(case: Case) -> dict[str, Any]:
    customer = case.customer
    return {"name": customer.name, "address": customer.address, "phone": customer.phone}


def order_id(row: OutboxRow) -> str:
    """The hub's parts order ids: one per outbox message, so never reused."""
    return f"PO-{row.id:08d}"


HolderKind = Literal["case", "retailer", "partner"]


@dataclass(frozen=True)
class Holder:
    """Whose data a name of the context reads, and so who can fix it when it is missing:
    the case's (the retailer, through the API), the retailer's or a partner's profile
    (an operator, in connectors.yaml). ``prefix`` is the name's path in the holder's own
    terms: the sender of a pickup to the workshop is the case's ``customer``."""

    kind: HolderKind
    prefix: str = ""
    party: str | None = None

    def field(self, rest: str) -> str:
        return ".".join(part for part in (self.prefix, rest) if part)


@dataclass(frozen=True)
class CaseContext:
    """What every outbound mapping may read of a case, and whose data each name is."""

    values: dict[str, Any]
    holders: dict[str, Holder]


def _party(connection: Connection, network: Network, party_id: str) -> Party | None:
    """The party as connectors.yaml declares it, else as registered (a retailer created
    with ``hub retailers add`` only): its name is known either way."""
    declared = {party.id: party for party in network.config.parties}.get(party_id)
    return declared if declared is not None else get_party(connection, party_id)


def case_context(
    connection: Connection, network: Network, case: Case, leg: str | None
) -> CaseContext:
    """The names an outbound mapping reads for a case and a pickup leg (none: not a
    pickup): the case, its retailer, the routed repairer, a pickup's sender and recipient."""
    config = network.config
    values: dict[str, Any] = {"case": case, "retailer": _party(connection, network, case.retailer)}
    holders = {"case": Holder("case"), "retailer": Holder("retailer", party=case.retailer)}
    repairer_id = route_for(config.sync.routes, case, Role.REPAIRER)
    repairer = _party(connection, network, repairer_id) if repairer_id else None
    if repairer is not None:
        values["repairer"] = values["ship_to"] = repairer
        holders["repairer"] = holders["ship_to"] = Holder("partner", party=repairer.id)
    if leg is not None:
        if repairer is None:
            raise UndeliverableMessage(f"case {case.reference} has no routed repairer")
        to_repairer = leg == "to_repairer"
        customer, workshop = Holder("case", "customer"), Holder("partner", party=repairer.id)
        values["sender"] = _customer(case) if to_repairer else contact_of(repairer)
        values["recipient"] = contact_of(repairer) if to_repairer else _customer(case)
        holders["sender"] = customer if to_repairer else workshop
        holders["recipient"] = workshop if to_repairer else customer
        values["pickup"] = {
            "delivery": "workshop" if to_repairer else "home",
            "weight_kg": config.sync.parcel_weight_kg,
            # A carrier treats one reference as one parcel: the way back needs its own.
            "reference": case.reference if to_repairer else f"{case.reference}-R",
        }
    return CaseContext(values, holders)


def context_for(connection: Connection, network: Network, row: OutboxRow) -> dict[str, Any]:
    """Everything an outbound mapping may read for this message."""
    if row.case_ref is None:
        raise UndeliverableMessage(f"outbox message {row.id} names no case")
    record = get_case(connection, row.case_ref)
    if record is None:
        raise UndeliverableMessage(f"outbox message {row.id}: no case {row.case_ref}")
    case = record.case
    leg = row.payload.get("leg") if isinstance(row.payload, dict) else None
    context = case_context(connection, network, case, leg).values
    repairer = context.get("repairer")
    cause_id = row.payload.get("cause") if isinstance(row.payload, dict) else None
    cause = get_event(connection, cause_id) if cause_id else None
    if cause is not None and cause.details.parts and isinstance(repairer, Party):
        supplier = route_for(network.config.sync.routes, case, Role.SUPPLIER)
        context["parts_order"] = PartsOrder(
            id=order_id(row),
            case_reference=case.reference,
            supplier=supplier or "unrouted",
            ship_to=repairer.id,
            lines=cause.details.parts,
            created_at=row.created_at,
        )
    context.update(_shipments(connection, record.id))
    context["now"] = datetime.now(UTC)
    return context


_SHIPMENT_NAMES = {ShipmentLeg.TO_REPAIRER: "shipment", ShipmentLeg.TO_CUSTOMER: "return_shipment"}


def _shipments(connection: Connection, case_id: int) -> dict[str, Shipment]:
    """The case's parcels the hub knows the number of, by leg: ``shipment`` carries the
    product to the repairer, ``return_shipment`` back to the customer (the latest learned
    of each; a parcel whose leg nobody said is neither)."""
    found: dict[str, Shipment] = {}
    for parcel in case_parcels(connection, case_id):
        for leg, name in _SHIPMENT_NAMES.items():
            if parcel.leg == leg.value:
                found[name] = Shipment(
                    carrier=parcel.carrier, tracking_number=parcel.tracking_number, leg=leg
                )
    return found


def _status_after(connection: Connection, case_ref: str, event: Event) -> CaseStatus | None:
    """The case's status once this event is in its timeline (a late one changes nothing)."""
    return status_after(case_state(connection, case_ref).timeline, event)


def _close(sender: object) -> None:
    close = getattr(sender, "close", None)
    if callable(close):
        close()


class Senders:
    """The webhook clients of one dispatcher, kept open: building an HTTP client (its TLS
    context) for every message cost more than sending it. One sender per receiver,
    shared by the dispatcher's worker threads (its connection pool is thread-safe
    and keeps their connections alive)."""

    def __init__(self) -> None:
        self._by_spec: dict[WebhookSpec | str, Sender] = {}
        self._lock = threading.Lock()

    def for_webhook(self, spec: WebhookSpec) -> Sender:
        """The receiver's sender, found by one lookup: a spec's hash is worked out over
        all its fields (pydantic), and a lookup and then a read hashed it twice for every
        message (issue 17)."""
        with self._lock:
            sender = self._by_spec.get(spec)
            if sender is None:
                sender = self._by_spec[spec] = webhook_sender(spec)
            return sender

    def for_url(self, url: str) -> Sender:
        """A retailer-managed endpoint's client, with a configured webhook's defaults."""
        with self._lock:
            if url not in self._by_spec:
                self._by_spec[url] = webhook_post_sender(url)
            return self._by_spec[url]

    def close(self) -> None:
        with self._lock:
            for sender in self._by_spec.values():
                _close(sender)
            self._by_spec.clear()


def _event_and_status(
    connection: Connection, row: OutboxRow
) -> tuple[Event, str, CaseStatus | None]:
    event_id = row.payload.get("event_id") if isinstance(row.payload, dict) else None
    event = get_event(connection, event_id) if event_id else None
    if event is None or row.case_ref is None:
        raise UndeliverableMessage(f"outbox message {row.id}: its event is not stored")
    return event, row.case_ref, _status_after(connection, row.case_ref, event)


def deliver_webhook(
    database: Database,
    network: Network,
    row: OutboxRow,
    senders: Senders | None = None,
    *,
    payload: dict[str, Any] | None = None,
) -> DeliveryReceipt:
    """Publish an event to its retailer, signed per Standard Webhooks at send time: to
    the webhook of connectors.yaml (``webhook:<retailer>``) or to one the retailer
    registered (``webhook:<retailer>/<endpoint id>``). ``payload``: the message's body
    when already read (``webhook_payloads``), else read now."""
    retailer, _, endpoint_id = row.target.removeprefix("webhook:").partition("/")
    if endpoint_id:
        return _deliver_to_endpoint(database, network, row, retailer, endpoint_id, senders, payload)
    spec = network.config.webhook(retailer)
    if spec is None:
        raise ConfigurationError(f"retailer {retailer} has no webhook in connectors.yaml")
    message = webhook_message(
        payload if payload is not None else _webhook_payload(database, network, row),
        message_id=row.idempotency_key,
        secret=read_webhook_secret(spec),
        now=datetime.now(UTC),
    )
    if senders is not None:
        return senders.for_webhook(spec).send(message)
    sender = webhook_sender(spec)
    try:
        return sender.send(message)
    finally:
        _close(sender)


def _webhook_payload(database: Database, network: Network, row: OutboxRow) -> dict[str, Any]:
    """What a webhook message says, read when it is sent: a case's event, or one of its
    messages that failed (``case.message_failed``)."""
    if row.kind == FAILED_KIND:
        return _failure_payload(database, network, row)
    with database.reading() as connection:
        event, case_ref, after = _event_and_status(connection, row)
    return event_payload(event, case_ref, after)


def _failure_payload(database: Database, network: Network, row: OutboxRow) -> dict[str, Any]:
    """``case.message_failed``: read from the failure when sent, like an event's."""
    failure_id = row.payload.get("failure_id") if isinstance(row.payload, dict) else None
    with database.reading() as connection:
        found = failure_of(connection, int(failure_id), network.config) if failure_id else None
    if found is None:
        raise UndeliverableMessage(f"outbox message {row.id}: its failure is not stored")
    case_ref, failure = found
    return failure_payload(failure, case_ref)


def webhook_payloads(database: Database, rows: Sequence[OutboxRow]) -> dict[int, dict[str, Any]]:
    """The bodies of the event webhooks among ``rows``, by message id, read in one
    transaction with the cases' timelines (a query a chunk of cases) instead of three
    queries a message. A timeline is read as stored rows (``webhook_timelines``), not
    rebuilt event by event as models: that rebuilding (every event of a case validated
    again for each of its messages) was half the hub's own work per delivery (issue 17).
    The body is the one a send reads alone (``stored_event_payload``). A message whose
    event is not in its case's timeline (or whose case is not found, or whose stored
    values the model would not take) is left out: its send reads it again and says what
    is wrong."""
    wanted: dict[int, tuple[str, str]] = {}
    for row in rows:
        event_id = row.payload.get("event_id") if isinstance(row.payload, dict) else None
        if (
            row.target.startswith(WEBHOOK_PREFIX)
            and row.kind != FAILED_KIND
            and row.case_ref is not None
            and isinstance(event_id, str)
        ):
            wanted[row.id] = (event_id, row.case_ref)
    if not wanted:
        return {}
    with database.reading() as connection:
        lines = webhook_timelines(connection, [case_ref for _, case_ref in wanted.values()])
    timelines: dict[str, _Timeline | None] = {}
    payloads: dict[int, dict[str, Any]] = {}
    for message_id, (event_id, case_ref) in wanted.items():
        if case_ref not in timelines:
            timelines[case_ref] = _Timeline.of(lines.get(case_ref, ()))
        timeline = timelines[case_ref]
        body = None if timeline is None else timeline.payload(event_id, case_ref)
        if body is not None:
            payloads[message_id] = body
    return payloads


_MEANINGS: dict[tuple[str, str | None], tuple[EventType, AnyStatus | None, int]] = {
    (kind.value, None if status is None else status.value): (
        kind,
        status,
        -1 if status is None else status.rank,
    )
    for kind, statuses in STATUS_SETS.items()
    for status in (None, *statuses)
}
_MEANINGS.update(
    ((kind.value, None), (kind, None, -1)) for kind in EventType if kind not in STATUS_SETS
)
"""What a stored event type and status mean to the model, and the status's rank in the
case's order, by the stored values: one dictionary's lookup a timeline's row, where the
type's enumeration, then its statuses' and the rank's property cost a call each (issue
17). A pair neither knows leaves the timeline to the send, as before."""

_ID, _CASE_REF, _TYPE, _STATUS, _OCCURRED_AT, _REPORTED_BY, _RAW_CODE, _RAW_LABEL = (
    WEBHOOK_ENTRY_AT[name] for name in WebhookEntry._fields
)


class _Timeline:
    """One case's stored events as its webhooks' bodies read them: each with its status
    in the set its type names and its place in the case's order (hub.model.timeline).

    Built in one pass over the rows as the driver gives them: the order key of a
    case-status event (what a status-after is found among) there, every other event's
    only when its own body is written. A timeline is read for each message of its case
    (one message of a case a claim), and its other events were keyed for nothing
    (issue 17, seventeenth pass)."""

    def __init__(
        self,
        entries: dict[str, tuple[tuple[Any, ...], tuple[EventType, AnyStatus | None, int]]],
        marks: list[tuple[OrderKey, CaseStatus]],
    ) -> None:
        self._entries = entries
        marks.sort()
        self._status_keys: list[OrderKey] = [key for key, _ in marks]
        self._statuses: list[CaseStatus] = [status for _, status in marks]

    @classmethod
    def of(cls, rows: Iterable[tuple[Any, ...]]) -> _Timeline | None:
        """None when a stored value is not one the model takes (left to the send)."""
        entries: dict[str, tuple[tuple[Any, ...], tuple[EventType, AnyStatus | None, int]]] = {}
        marks: list[tuple[OrderKey, CaseStatus]] = []
        meanings = _MEANINGS
        for row in rows:
            meaning = meanings.get((row[_TYPE], row[_STATUS]))
            if meaning is None:
                return None
            event_id = row[_ID]
            entries[event_id] = (row, meaning)
            status = meaning[1]
            if isinstance(status, CaseStatus):
                marks.append((order_key(row[_OCCURRED_AT], meaning[2], event_id), status))
        return cls(entries, marks)

    def payload(self, event_id: str, case_ref: str) -> dict[str, Any] | None:
        found = self._entries.get(event_id)
        if found is None or found[0][_CASE_REF] != case_ref:
            return None
        row, (kind, status, rank) = found
        # The case's status once the event is in its timeline, by the model's rule
        # (``status_as_of``) over the stored keys and statuses.
        after = status_as_of(
            self._status_keys, self._statuses, order_key(row[_OCCURRED_AT], rank, event_id)
        )
        return stored_event_payload(
            event_id=event_id,
            case_ref=case_ref,
            event_type=kind,
            status=status,
            occurred_at=row[_OCCURRED_AT],
            reported_by=row[_REPORTED_BY],
            raw_code=row[_RAW_CODE],
            raw_label=row[_RAW_LABEL],
            case_status_after=after,
        )


def _deliver_to_endpoint(
    database: Database,
    network: Network,
    row: OutboxRow,
    retailer: str,
    endpoint_id: str,
    senders: Senders | None,
    payload: dict[str, Any] | None,
) -> DeliveryReceipt:
    """A retailer-managed endpoint: its URL checked again (a name may now resolve to a
    private address), signed with its current secret and, during a rotation's grace,
    the previous one too."""
    with database.reading() as connection:
        endpoint = get_endpoint(connection, retailer, endpoint_id)
        if endpoint is None or not endpoint.enabled:
            state = "deleted" if endpoint is None else "disabled"
            raise UndeliverableMessage(f"webhook endpoint {endpoint_id} of {retailer} is {state}")
    try:
        check_url(endpoint.url)
    except InvalidFieldError as refused:
        raise UndeliverableMessage(f"webhook endpoint {endpoint_id}: {refused}") from None
    now = datetime.now(UTC)
    message = webhook_message(
        payload if payload is not None else _webhook_payload(database, network, row),
        message_id=row.idempotency_key,
        secret=signing_secrets(endpoint, secret_box(), now),
        now=now,
    )
    if senders is not None:
        return senders.for_url(endpoint.url).send(message)
    sender = webhook_post_sender(endpoint.url)
    try:
        return sender.send(message)
    finally:
        _close(sender)


def deliver_any(
    database: Database, network: Network, row: OutboxRow, senders: Senders | None = None
) -> DeliveryReceipt:
    """The dispatcher's send: a retailer's webhook or a partner's connector."""
    if row.target.startswith("webhook:"):
        return deliver_webhook(database, network, row, senders)
    return deliver_row(database, network, row)


class Deliveries:
    """The dispatcher's send and its ``prefetch``: the webhooks of a claimed batch have
    their bodies read at once when claimed (``webhook_payloads``), and each send takes
    its own; anything else is read at send time, as is a body not found then.

    A body is read moments before it is sent, never stale by more than a round: the
    event is immutable and its status-after is fixed by the events before it."""

    MAX_KEPT = 10_000
    """Bodies kept at most: those of messages claimed and never sent (handed back, their
    lease lost) are dropped with the rest past this, and read again if claimed again."""

    def __init__(self, database: Database, network: Network, senders: Senders) -> None:
        self.database = database
        self.network = network
        self.senders = senders
        self._payloads: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def overlaps(target: str) -> bool:
        """Whether deliveries to ``target`` may be in flight together: a retailer's
        webhook (one POST each, the idempotency key in it). A partner's connector gets
        one at a time, as before: two files named from the same second must not race
        for the name at its SFTP server or folder."""
        return target.startswith(WEBHOOK_PREFIX)

    def warm(self) -> None:
        """Build the configured webhooks' clients now (their adapter loaded, their
        settings checked), so that the first push's webhook does not wait for it."""
        for spec in self.network.config.webhooks:
            self.senders.for_webhook(spec)

    def prefetch(self, rows: Sequence[OutboxRow]) -> None:
        payloads = webhook_payloads(self.database, rows)
        with self._lock:
            if len(self._payloads) + len(payloads) > self.MAX_KEPT:
                self._payloads.clear()
            self._payloads.update(payloads)

    def __call__(self, row: OutboxRow) -> DeliveryReceipt:
        with self._lock:
            payload = self._payloads.pop(row.id, None)
        if row.target.startswith(WEBHOOK_PREFIX):
            return deliver_webhook(self.database, self.network, row, self.senders, payload=payload)
        return deliver_row(self.database, self.network, row)


def deliver_row(database: Database, network: Network, row: OutboxRow) -> DeliveryReceipt:
    """Render and send one message to the partner connector it is addressed to."""
    record = prepare_row(database, network, row)
    connector = network.connector(row.target)
    receipt = deliver_records(connector, [record], identifier=f"{row.id:08d}")
    keep_answer(database, connector, row, receipt)
    return receipt


def keep_answer(
    database: Database, connector: Connector, row: OutboxRow, receipt: DeliveryReceipt
) -> None:
    """Keep what the outbound mapping's ``answer`` names of the partner's answer: its
    reference for the case, recorded as the partner's own (a replay's 200 carries the
    same first answer, and the first reference kept stays), and the tracking number of
    the parcel a booking made, recorded as the case's parcel on the message's leg.

    The partner has the message by now, so an answer that lacks the value does not make
    the delivery fail (a retry would change nothing): it is logged for the operator, and
    the partner's events still link to the case by our order id.
    """
    spec = connector.message
    if not isinstance(spec, OutboundSpec) or spec.answer is None or row.case_ref is None:
        return
    source = f"{connector.name}: answer to outbox message {row.id}"
    try:
        values = answer_values(
            build_answer_codec(spec.answer), spec.answer.keep, receipt.body, source=source
        )
        parcel = _parcel_booked(connector, row, values.get(AnswerTarget.TRACKING_NUMBER), source)
    except UnreadableAnswer as problem:
        logger.warning("%s; nothing kept of it", problem)
        return
    reference = values.get(AnswerTarget.PARTNER_REF)
    if reference is None and parcel is None:
        return
    partner = connector.spec.partner
    with database.transaction() as connection:
        if reference is not None:
            learn_partner_references(connection, [(row.case_ref, partner, reference)])
        if parcel is not None:
            link_parcels(connection, [parcel], connector.on_stored)


def _parcel_booked(
    connector: Connector, row: OutboxRow, number: str | None, source: str
) -> KnownParcel | None:
    """The parcel a carrier's answer names, as the model writes tracking numbers."""
    if number is None or row.case_ref is None:
        return None
    try:
        written = Shipment(tracking_number=number).tracking_number
    except ValidationError as invalid:
        raise UnreadableAnswer(
            f"the answer's tracking number {number!r} is not one: {invalid.errors()[0]['msg']}",
            location=Location(source),
        ) from invalid
    leg = row.payload.get("leg") if isinstance(row.payload, dict) else None
    return KnownParcel(
        written,
        row.case_ref,
        connector.spec.partner,
        leg if isinstance(leg, str) else None,
        f"answer to outbox message {row.id}",
    )


def prepare_row(database: Database, network: Network, row: OutboxRow) -> dict[str, str | None]:
    """The partner record of one message, rendered from the store. A parts order is
    recorded now, before sending: the supplier may answer before our next transaction."""
    if row.target.startswith("webhook:"):
        raise ConfigurationError(f"{row.target} is a retailer webhook, not a partner connector")
    connector = network.connector(row.target)
    with database.reading() as connection:
        context = context_for(connection, network, row)
    if row.kind == "purchase_order" and "parts_order" not in context:
        raise UndeliverableMessage(
            f"outbox message {row.id}: the event that asked for parts names none"
        )
    record = render_record(connector, context)  # refuses before anything is recorded
    order = context.get("parts_order") if row.kind == "purchase_order" else None
    if isinstance(order, PartsOrder):
        with database.transaction() as connection:
            record_parts_order(connection, order)
    return record


class ConnectorBatches:
    """The dispatcher's ``together``: messages due to a connector whose outbound mapping
    has a ``batch`` go out as one file, one record each (``SendTogether``)."""

    def __init__(self, database: Database, network: Network) -> None:
        self.database = database
        self.network = network

    def limit(self, message: OutboxRow) -> int:
        if message.target.startswith("webhook:"):
            return 1
        try:
            spec = self.network.connector(message.target).message
        except HubError:  # an unknown connector: sent alone, and refused there
            return 1
        if isinstance(spec, OutboundSpec) and spec.batch is not None:
            return spec.batch.max_records
        return 1

    def prepare(self, message: OutboxRow) -> dict[str, str | None]:
        return prepare_row(self.database, self.network, message)

    def send(
        self, messages: Sequence[OutboxRow], prepared: Sequence[dict[str, str | None]]
    ) -> DeliveryReceipt:
        """One file for all; named, where the name has {id}, by the first message."""
        connector = self.network.connector(messages[0].target)
        return deliver_records(connector, prepared, identifier=f"{messages[0].id:08d}")
