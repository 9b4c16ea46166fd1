"""Service levels of stored cases: one case's steps, and the breaches of open cases.

The store reads the cases and their measured events (hub.store.service_levels, two
queries for all open cases whatever their number); here the rules measure them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.errors import NotFoundError
from hub.model.terms import ContractLevel
from hub.partners.network_outline import NetworkOutline
from hub.sla.compute import CaseServiceLevels, StepLevel, compute_service_levels
from hub.sla.levels import Step

if TYPE_CHECKING:
    from hub.config.network import NetworkConfig
    from hub.partners.network import Network
    from hub.store.db import Connection, Database
    from hub.store.measured_rows import MeasuredCase
    from hub.store.plain import PlainStore

# `hub sla` reads the cases on a PlainStore, without SQLAlchemy, and the retailers'
# contract levels from the network's kept outline, without the network's models (issue
# 17); publishing, the console and the jobs on the Database with the whole network: the
# same statements, rows and computation either way. The rows are the store's own
# (hub.store.measured_rows), not the canonical model's classes: no pydantic either.


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


def _contract_levels(
    network: NetworkConfig | Network | NetworkOutline,
) -> Callable[[str], ContractLevel | None]:
    """Each retailer's contract level, from the validated network or its outline."""
    if isinstance(network, NetworkOutline):
        level_of = network.contract_level
        return lambda retailer: (
            None if (level := level_of(retailer)) is None else ContractLevel(level)
        )
    from hub.partners.network import Network

    config = network.config if isinstance(network, Network) else network
    return config.contract_level


@contextmanager
def _connection(source: Connection | Database) -> Iterator[Connection]:
    from hub.store.db import Database

    if isinstance(source, Database):
        with source.reading() as connection:
            yield connection
    else:
        yield source


def _levels(
    measured: MeasuredCase | None,
    network: NetworkConfig | Network | NetworkOutline,
    case_ref: str,
    now: datetime,
) -> CaseServiceLevels:
    if measured is None:
        raise NotFoundError(f"no case {case_ref}")
    case = measured.case
    level = _contract_levels(network)(case.retailer)
    return compute_service_levels(case, measured.events, level, now=now)


def case_service_levels(
    source: Connection | Database,
    network: NetworkConfig | Network | NetworkOutline,
    case_ref: str,
    *,
    now: datetime,
) -> CaseServiceLevels:
    """One case's steps with their deadlines, ends and states as of ``now``."""
    from hub.store.service_levels import measured_case

    with _connection(source) as connection:
        measured = measured_case(connection, case_ref)
    return _levels(measured, network, case_ref, now)


def plain_case_service_levels(
    store: PlainStore,
    network: NetworkConfig | Network | NetworkOutline,
    case_ref: str,
    *,
    now: datetime,
) -> CaseServiceLevels:
    """As `case_service_levels`, read without SQLAlchemy (`hub sla --case`)."""
    from hub.store.plain_reads import measured_case

    return _levels(measured_case(store, case_ref), network, case_ref, now)


def _open_levels(
    measured: Iterable[MeasuredCase],
    network: NetworkConfig | Network | NetworkOutline,
    now: datetime,
) -> list[CaseServiceLevels]:
    level_of = _contract_levels(network)
    return [
        compute_service_levels(one.case, one.events, level_of(one.case.retailer), now=now)
        for one in measured
    ]


def open_case_levels(
    connection: Connection,
    network: NetworkConfig | Network | NetworkOutline,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[CaseServiceLevels]:
    """Service levels of every case not in a final status (optionally one retailer's)."""
    from hub.store.service_levels import measured_open_cases

    return _open_levels(measured_open_cases(connection, retailer), network, now)


def _breaches(levels: Iterable[CaseServiceLevels]) -> list[Breach]:
    found = [Breach.of(one, step) for one in levels for step in one.breaches]
    return sorted(found, key=lambda b: (b.deadline, b.case_ref, list(Step).index(b.step)))


def breaches_of(
    connection: Connection,
    network: NetworkConfig | Network | NetworkOutline,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[Breach]:
    """Every breached step of the open cases, the earliest deadline first."""
    return _breaches(open_case_levels(connection, network, now=now, retailer=retailer))


def breaches(
    database: Database | Connection,
    network: NetworkConfig | Network | NetworkOutline,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[Breach]:
    """Open breaches across cases: still running past the deadline, or ended late in a
    case that is not settled yet."""
    with _connection(database) as connection:
        return breaches_of(connection, network, now=now, retailer=retailer)


def plain_breaches(
    store: PlainStore,
    network: NetworkConfig | Network | NetworkOutline,
    *,
    now: datetime,
    retailer: str | None = None,
) -> list[Breach]:
    """As `breaches`, read without SQLAlchemy (`hub sla`)."""
    from hub.store.plain_reads import measured_open_cases

    return _breaches(_open_levels(measured_open_cases(store, retailer), network, now))
