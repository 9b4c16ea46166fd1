"""Deriving state from events: the same set gives the same result, in any order."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.model import CaseStatus, Event, derive_case_state
from tests.factories import T0, case_event
from tests.strategies import arrivals, event_sets

PROPERTY_EXAMPLES = 500


@settings(max_examples=PROPERTY_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), originals=event_sets)
def test_any_permutation_and_duplication_gives_the_same_state(
    data: st.DataObject, originals: list[Event]
) -> None:
    expected = derive_case_state(originals)
    delivered = data.draw(arrivals(originals))
    actual = derive_case_state(delivered)
    assert actual.status == expected.status
    assert actual.status_at == expected.status_at
    assert [e.id for e in actual.timeline] == [e.id for e in expected.timeline]
    assert actual.timeline == expected.timeline
    assert actual.shipments == expected.shipments
    assert actual.unmapped == expected.unmapped


@settings(max_examples=PROPERTY_EXAMPLES)
@given(originals=event_sets)
def test_timeline_is_sorted_by_instant_and_has_no_duplicates(originals: list[Event]) -> None:
    state = derive_case_state(originals + originals)
    instants = [e.occurred_at_utc for e in state.timeline]
    assert instants == sorted(instants)
    assert len({e.id for e in state.timeline}) == len(state.timeline) == len(originals)
    case_events = [e for e in state.timeline if isinstance(e.status, CaseStatus)]
    assert state.status == (case_events[-1].status if case_events else None)


def test_a_late_event_does_not_drag_the_status_backwards() -> None:
    received = case_event("received", T0)
    quote = case_event("quote_pending", T0 + timedelta(hours=5))
    # The carrier's pickup, from the day before, arrives last.
    late_pickup = case_event(
        "in_transit_to_repairer", T0 - timedelta(days=1), by="colis-express", code="PCH"
    )
    state = derive_case_state([received, quote, late_pickup])
    assert state.status is CaseStatus.QUOTE_PENDING
    assert [e.status for e in state.timeline] == [
        CaseStatus.IN_TRANSIT_TO_REPAIRER,
        CaseStatus.RECEIVED,
        CaseStatus.QUOTE_PENDING,
    ]


def test_same_instant_ties_follow_the_usual_path() -> None:
    diagnosing = case_event("diagnosing", T0, code="DIA")
    received = case_event("received", T0, code="REC")
    assert derive_case_state([diagnosing, received]).status is CaseStatus.DIAGNOSING
    assert derive_case_state([received, diagnosing]).status is CaseStatus.DIAGNOSING


def test_unmapped_events_stay_in_the_timeline_without_changing_the_status() -> None:
    received = case_event("received", T0)
    unknown = case_event(None, T0 + timedelta(hours=1), code="XYZ")
    state = derive_case_state([received, unknown])
    assert state.status is CaseStatus.RECEIVED
    assert state.unmapped == 1
    assert state.timeline[-1].raw_code == "XYZ"


def test_two_copies_of_one_id_keep_the_earliest_recorded() -> None:
    first = case_event("received", T0, recorded_at=T0 + timedelta(hours=1))
    again = first.model_copy(update={"recorded_at": T0 + timedelta(hours=3), "raw_label": "x"})
    for order in ([first, again], [again, first]):
        assert derive_case_state(order).timeline == (first,)
