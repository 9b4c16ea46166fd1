"""Dead letters as the case's retailer sees them: what failed, when, after how many
attempts, and whether a later re-send fixed it; and the webhook that tells the retailer
at the moment a message of its case gives up.

The outbox keeps one failure row each time a message becomes a dead letter
(hub.store.outbox); the message itself says what became of it since (queued again,
delivered, discarded). A retailer can fix a failure caused by its case's data by
correcting the case (hub.retailers.corrections), which sends the failed messages again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.config.network import NetworkConfig
from hub.errors import ConfigurationError
from hub.retailers.webhook_endpoints import endpoint_target
from hub.retailers.webhooks import FAILED_EVENT_TYPE, rfc3339
from hub.store.cases import get_case
from hub.store.db import Connection
from hub.store.outbox import (
    FailureRow,
    OutboxItem,
    OutboxRow,
    OutboxState,
    ResentBy,
    failures_of_case,
    get_failure,
)
from hub.store.webhook_endpoints import receiving_endpoints
from hub.sync.outbox import DeadHook, Ring, enqueue

FAILED_KIND = "message_failed"
"""The outbox kind of that webhook, beside ``event``."""

WEBHOOK_PREFIX = "webhook:"


class FailureState(StrEnum):
    DEAD = "dead"
    """Nothing sent it again yet: correct the case (or an operator replays it)."""
    RESENT = "resent"
    """Queued again, not delivered yet."""
    FIXED = "fixed"
    """Delivered after being sent again."""
    FAILED_AGAIN = "failed_again"
    """Sent again and failed again: a later failure of the same message says why."""
    DISCARDED = "discarded"
    """An operator gave up on the message."""


@dataclass(frozen=True)
class CaseFailure:
    id: int
    message_id: int
    partner: str
    message: str
    error: str
    attempts: int
    failed_at: datetime
    state: FailureState
    resent_at: datetime | None
    resent_by: ResentBy | None
    fixed_at: datetime | None


def partner_of(target: str, config: NetworkConfig | None) -> str:
    """The party a message goes to: a connector's partner, a webhook's retailer."""
    if target.startswith(WEBHOOK_PREFIX):
        return target.removeprefix(WEBHOOK_PREFIX)
    if config is None:
        return target
    try:
        return config.connector(target).partner
    except ConfigurationError:  # a connector removed since: its name says enough
        return target


def _state(failure: FailureRow, later: bool) -> FailureState:
    if failure.resent_at is None:
        return (
            FailureState.DISCARDED
            if failure.message_state is OutboxState.DISCARDED
            else FailureState.DEAD
        )
    if later:
        return FailureState.FAILED_AGAIN
    return {
        OutboxState.DELIVERED: FailureState.FIXED,
        OutboxState.PENDING: FailureState.RESENT,
        OutboxState.DISCARDED: FailureState.DISCARDED,
        OutboxState.DEAD: FailureState.FAILED_AGAIN,
    }[failure.message_state]


def case_failures(
    connection: Connection, case_ref: str, config: NetworkConfig | None
) -> list[CaseFailure]:
    """Every time a message of the case gave up, oldest first, with what came of it."""
    rows = failures_of_case(connection, case_ref)
    last = {row.message_id: row.id for row in rows}
    failures: list[CaseFailure] = []
    for row in rows:
        state = _state(row, later=last[row.message_id] != row.id)
        failures.append(
            CaseFailure(
                id=row.id,
                message_id=row.message_id,
                partner=partner_of(row.target, config),
                message=row.kind,
                error=row.error,
                attempts=row.attempts,
                failed_at=row.failed_at,
                state=state,
                resent_at=row.resent_at,
                resent_by=row.resent_by,
                fixed_at=row.delivered_at if state is FailureState.FIXED else None,
            )
        )
    return failures


def failure_payload(failure: CaseFailure, case_ref: str) -> dict[str, Any]:
    """What the retailer's webhook receives when a message of its case gives up."""
    return {
        "type": FAILED_EVENT_TYPE,
        "failure_id": failure.id,
        "case_reference": case_ref,
        "partner": failure.partner,
        "message": failure.message,
        "error": failure.error,
        "attempts": failure.attempts,
        "failed_at": rfc3339(failure.failed_at),
    }


def failure_of(
    connection: Connection, failure_id: int, config: NetworkConfig | None
) -> tuple[str, CaseFailure] | None:
    """One failure with its case's reference, as the case lists it."""
    row = get_failure(connection, failure_id)
    if row is None or row.case_ref is None:
        return None
    found = [f for f in case_failures(connection, row.case_ref, config) if f.id == failure_id]
    return (row.case_ref, found[0]) if found else None


def tell_retailer_of_failures(config: NetworkConfig, on_queued: Ring | None = None) -> DeadHook:
    """The dispatcher's ``on_dead``: a message of a case gave up, so the case's retailer
    gets ``case.message_failed`` at its configured webhook and at each endpoint of its own
    that asked for it, queued in the same transaction (``on_queued`` rung once it
    commits). A failed webhook is not told by webhook: the operator sees it."""
    webhooks = frozenset(spec.retailer for spec in config.webhooks)

    def on_dead(connection: Connection, message: OutboxRow, failure_id: int) -> None:
        if message.case_ref is None or message.target.startswith(WEBHOOK_PREFIX):
            return
        record = get_case(connection, message.case_ref)
        if record is None:
            return
        retailer = record.case.retailer
        targets = [f"{WEBHOOK_PREFIX}{retailer}"] if retailer in webhooks else []
        targets += [
            endpoint_target(retailer, endpoint.id)
            for endpoint in receiving_endpoints(connection, [retailer])
            if FAILED_EVENT_TYPE in endpoint.event_types
        ]
        items = [
            OutboxItem(
                target=target,
                kind=FAILED_KIND,
                idempotency_key=f"{target}:failure:{failure_id}",
                payload={"failure_id": failure_id},
                case_ref=message.case_ref,
            )
            for target in targets
        ]
        if items:
            enqueue(connection, items, on_queued=on_queued)

    return on_dead
