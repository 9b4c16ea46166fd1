"""Hypothesis strategies for sets of events of one case, with ties and mixed offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from hub.model import CaseStatus, Event, EventType, ShipmentStatus, stable_event_id

CASE_REF = "ME-000123"
OFFSETS = [
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
]
REPORTERS = ["atelier-dupont", "techniservice", "colis-express"]
BASE = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """One event: a case or shipment status, or an unmapped code, at a few possible instants.

    Instants are drawn from a small grid so that ties (same instant, other status)
    are common: ties are where an order-dependent implementation would show.
    """
    minutes = draw(st.integers(min_value=0, max_value=40)) * 15
    offset = draw(st.sampled_from(OFFSETS))
    at = (BASE + timedelta(minutes=minutes)).astimezone(offset)
    reporter = draw(st.sampled_from(REPORTERS))
    kind = draw(st.sampled_from(["case", "case", "case", "shipment", "unmapped"]))
    if kind == "shipment":
        status: str | None = draw(st.sampled_from(list(ShipmentStatus))).value
        event_type, code = EventType.SHIPMENT_STATUS, f"S-{status}"
        subject: str | None = draw(st.sampled_from(["CE123456789FR", "CE998877665FR"]))
    elif kind == "unmapped":
        status, event_type, subject = None, EventType.CASE_STATUS, None
        code = draw(st.sampled_from(["XYZ", "Q42", "NEW"]))
    else:
        status = draw(st.sampled_from(list(CaseStatus))).value
        event_type, code, subject = EventType.CASE_STATUS, f"C-{status}", None
    return Event(
        id=stable_event_id(
            reported_by=reporter,
            case_ref=CASE_REF,
            type=event_type,
            raw_code=code,
            occurred_at=at,
            subject=subject,
        ),
        case_ref=CASE_REF,
        type=event_type,
        status=status,
        occurred_at=at,
        recorded_at=BASE + timedelta(days=30),
        reported_by=reporter,
        raw_code=code,
        subject=subject,
    )


event_sets = st.lists(events(), min_size=1, max_size=30, unique_by=lambda e: e.id)


@st.composite
def arrivals(draw: st.DrawFn, originals: list[Event]) -> list[Event]:
    """The same events as a partner network delivers them: shuffled, some twice or more."""
    repeats = draw(st.lists(st.sampled_from(originals), max_size=len(originals) * 2))
    return draw(st.permutations(originals + repeats))
