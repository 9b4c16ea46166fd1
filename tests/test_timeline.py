"""Deriving state from events: the same set gives the same result, in any order."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.model import CaseStatus, Event, derive_case_state
from hub.model.timeline import event_order_key, order_key, status_after, status_as_of
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


def test_the_status_as_of_a_key_is_the_latest_at_or_before_it() -> None:
    """Over plain stored values: the keys of a case's status events, sorted, and what
    each set. At a status's own key that status counts; before the first, none."""
    keys = [
        order_key(T0, CaseStatus.RECEIVED.rank, "b"),
        order_key(T0 + timedelta(hours=2), CaseStatus.DIAGNOSING.rank, "a"),
    ]
    statuses = [CaseStatus.RECEIVED, CaseStatus.DIAGNOSING]
    assert status_as_of([], [], order_key(T0, 0, "x")) is None
    assert status_as_of([], []) is None
    assert status_as_of(keys, statuses, order_key(T0 - timedelta(days=1), 0, "z")) is None
    assert status_as_of(keys, statuses, keys[0]) is CaseStatus.RECEIVED
    assert status_as_of(keys, statuses, keys[1]) is CaseStatus.DIAGNOSING
    assert status_as_of(keys, statuses) is CaseStatus.DIAGNOSING, "no key: the current one"
    # An unmapped event (rank -1) at the instant of the first status comes before it.
    assert status_as_of(keys, statuses, order_key(T0, -1, "zzz")) is None
    # Between the two: the first; the same instant, a rank further: still the first.
    assert status_as_of(keys, statuses, order_key(T0 + timedelta(hours=1), 0, "")) is (
        CaseStatus.RECEIVED
    )
    assert status_as_of(keys, statuses, order_key(T0, CaseStatus.RECEIVED.rank, "c")) is (
        CaseStatus.RECEIVED
    )


def test_keys_of_one_instant_in_two_offsets_are_one_place_in_the_order() -> None:
    """A stored instant read back in another offset keys the same place: the UTC instant
    orders, then the rank."""
    reunion = timezone(timedelta(hours=4))
    at = T0 + timedelta(hours=2)
    keys = [order_key(at.astimezone(reunion), CaseStatus.DIAGNOSING.rank, "d")]
    before = order_key(at.astimezone(UTC), CaseStatus.DIAGNOSING.rank - 1, "z")
    after = order_key(at, CaseStatus.DIAGNOSING.rank + 1, "a")
    assert status_as_of(keys, [CaseStatus.DIAGNOSING], before) is None
    assert status_as_of(keys, [CaseStatus.DIAGNOSING], after) is CaseStatus.DIAGNOSING


@settings(max_examples=PROPERTY_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), originals=event_sets)
def test_the_status_after_an_event_is_the_state_of_the_events_up_to_it(
    data: st.DataObject, originals: list[Event]
) -> None:
    """One rule: the status after an event is the last case status among the events
    at or before it in the case's order, whatever order they arrived in; after the
    timeline's last event, the case's current status."""
    state = derive_case_state(data.draw(arrivals(originals)))
    for event in originals:
        key = event_order_key(event)
        upto = [e for e in originals if event_order_key(e) <= key]
        statuses = [e.status for e in sorted(upto, key=event_order_key)]
        case_statuses = [s for s in statuses if isinstance(s, CaseStatus)]
        expected = case_statuses[-1] if case_statuses else None
        assert status_after(state.timeline, event) == expected
        assert status_after(state.timeline, event) == derive_case_state(upto).status
    assert status_after(state.timeline, state.timeline[-1]) == state.status


def test_a_late_event_s_status_after_is_the_status_it_slots_under() -> None:
    received = case_event("received", T0)
    quote = case_event("quote_pending", T0 + timedelta(hours=5))
    late = case_event("in_transit_to_repairer", T0 - timedelta(days=1), code="PCH")
    unknown = case_event(None, T0 + timedelta(hours=1), code="XYZ")
    timeline = derive_case_state([received, quote, late, unknown]).timeline
    assert status_after(timeline, late) is CaseStatus.IN_TRANSIT_TO_REPAIRER
    assert status_after(timeline, unknown) is CaseStatus.RECEIVED
    assert status_after(timeline, quote) is CaseStatus.QUOTE_PENDING
