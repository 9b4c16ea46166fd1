"""Service levels read from the store: one case's steps, and the breaches of open cases.

Open cases are read with two queries whatever their number (their documents, then all
their events), so listing breaches over thousands of cases stays one round trip each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, or_, select

from hub.config.network import NetworkConfig
from hub.errors import NotFoundError
from hub.model.case import Case
from hub.model.event import STATUS_SETS, Event, EventDetails, EventType
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.partners.connectors import Network
from hub.sla.compute import CaseServiceLevels, StepLevel, compute_service_levels
from hub.sla.levels import Step
from hub.store.db import Database
from hub.store.tables import cases, events


@dataclass(frozen=True)
class Breach:
    """A step of an open case past its deadline: what the operator must see."""

    case_ref: str
    retailer: str
    step: Step
    basis: str
    """The contract level ("gold"...) or "legal" (C. conso. L217-10)."""
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None
    """None while the step still runs past its deadline."""
    late_by: timedelta

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None

    @classmethod
    def of(cls, levels: CaseServiceLevels, step: StepLevel) -> Breach:
        assert step.late_by is not None
        return cls(
            case_ref=levels.case_ref,
            retailer=levels.retailer,
            step=step.step,
            basis=step.basis,
            started_at=step.started_at,
            deadline=step.deadline,
            ended_at=step.ended_at,
            late_by=step.late_by,
        )


def _config(network: NetworkConfig | Network) -> NetworkConfig:
    return network.config if isinstance(network, Network) else network


@contextmanager
def _connection(source: Connection | Database) -> Iterator[Connection]:
    if isinstance(source, Database):
        with source.transaction() as connection:
            yield connection
    else:
        yield source


_NO_DETAILS = EventDetails()

_EVENT_COLUMNS = (
    events.c.case_id,
    events.c.event_id,
    events.c.case_ref,
    events.c.type,
    events.c.status,
    events.c.occurred_at,
    events.c.occurred_offset_minutes,
    events.c.recorded_at,
    events.c.reported_by,
    events.c.raw_code,
    events.c.subject,
    events.c.details,
)


def _event(row: Row[*tuple[Any, ...]]) -> Event:
    """The stored event, rebuilt without validating again what was validated on the way
    in (open cases hold tens of thousands of events); with the partner's offset."""
    event_type = EventType(row.type)
    zone = timezone(timedelta(minutes=row.occurred_offset_minutes))
    return Event.model_construct(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=None,
        type=event_type,
        status=STATUS_SETS[event_type](row.status),
        occurred_at=row.occurred_at.astimezone(zone),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=None,
        subject=row.subject,
        details=EventDetails.model_validate(row.details) if row.details else _NO_DETAILS,
    )


def _measured_events() -> ColumnElement[bool]:
    """Mapped events only, and not the hub's own service-level verdicts."""
    return events.c.status.is_not(None) & (events.c.type != EventType.SERVICE_LEVEL.value)


def case_service_levels(
    source: Connection | Database,
    network: NetworkConfig | Network,
    case_ref: str,
    *,
    now: datetime,
) -> CaseServiceLevels:
    """One case's steps with their deadlines, ends and states as of ``now``."""
    config = _config(network)
    with _connection(source) as connection:
        row = connection.execute(
            select(cases.c.id, cases.c.document).where(cases.c.reference == case_ref)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no case {case_ref}")
        rows = connection.execute(
            select(*_EVENT_COLUMNS).where(events.c.case_id == row.id, _measured_events())
        ).all()
    case = Case.model_validate(row.document)
    return compute_service_levels(
        case, [_event(r) for r in rows], config.contract_level(case.retailer), now=now
    )


def open_case_levels(
    connection: Connection,
    network: NetworkConfig | Network,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[CaseServiceLevels]:
    """Service levels of every case not in a final status (optionally one retailer's)."""
    config = _config(network)
    final = [status.value for status in FINAL_CASE_STATUSES]
    is_open = or_(cases.c.status.is_(None), cases.c.status.not_in(final))
    if retailer is not None:
        is_open = is_open & (cases.c.retailer_id == retailer)
    documents = connection.execute(
        select(cases.c.id, cases.c.document).where(is_open).order_by(cases.c.id)
    ).all()
    by_case: dict[int, list[Event]] = defaultdict(list)
    rows = connection.execute(
        select(*_EVENT_COLUMNS)
        .join(cases, cases.c.id == events.c.case_id)
        .where(is_open, _measured_events())
    )
    for row in rows:
        by_case[int(row.case_id)].append(_event(row))
    result = []
    for document in documents:
        case = Case.model_validate(document.document)
        level = config.contract_level(case.retailer)
        found = by_case.get(int(document.id), [])
        result.append(compute_service_levels(case, found, level, now=now))
    return result


def breaches_of(
    connection: Connection,
    network: NetworkConfig | Network,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[Breach]:
    """Every breached step of the open cases, the earliest deadline first."""
    found = [
        Breach.of(levels, step)
        for levels in open_case_levels(connection, network, now=now, retailer=retailer)
        for step in levels.breaches
    ]
    return sorted(found, key=lambda b: (b.deadline, b.case_ref, list(Step).index(b.step)))


def breaches(
    database: Database | Connection,
    network: NetworkConfig | Network,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[Breach]:
    """Open breaches across cases: still running past the deadline, or ended late in a
    case that is not settled yet."""
    with _connection(database) as connection:
        return breaches_of(connection, network, now=now, retailer=retailer)
