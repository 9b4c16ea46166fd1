"""The canonical model's validation: what a retailer would expect to be refused."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.model import (
    CaseStatus,
    Event,
    EventType,
    Money,
    PartsOrderStatus,
    ShipmentStatus,
    stable_event_id,
)
from hub.model.statuses import (
    CASE_STATUS_LABELS,
    PARTS_ORDER_STATUS_LABELS,
    SHIPMENT_STATUS_LABELS,
)
from tests.factories import T0, make_case


def test_every_status_has_a_french_and_english_label() -> None:
    for enum, labels in (
        (CaseStatus, CASE_STATUS_LABELS),
        (ShipmentStatus, SHIPMENT_STATUS_LABELS),
        (PartsOrderStatus, PARTS_ORDER_STATUS_LABELS),
    ):
        assert set(labels) == set(enum)
        for status in enum:
            assert status.label.fr.strip()
            assert status.label.en.strip()
            assert status.label.fr != status.label.en or status.label.fr == "Livré"
    assert CaseStatus.RECEIVED.label.fr == "Reçu à l'atelier"


def test_case_statuses_follow_the_usual_path() -> None:
    path = [CaseStatus.CREATED, CaseStatus.RECEIVED, CaseStatus.DIAGNOSING, CaseStatus.REPAIRED]
    assert [s.rank for s in path] == sorted(s.rank for s in path)
    assert CaseStatus.CLOSED.rank < CaseStatus.ON_HOLD.rank  # off-path after the path
    assert CaseStatus.CANCELLED.is_final
    assert not CaseStatus.IN_REPAIR.is_final


def test_case_needs_retailer_and_reference() -> None:
    with pytest.raises(ValidationError) as missing:
        make_case(retailer=None)
    assert missing.value.errors()[0]["loc"] == ("retailer",)
    with pytest.raises(ValidationError) as blank:
        make_case(reference="   ")
    assert blank.value.errors()[0]["loc"] == ("reference",)


def test_serial_number_is_trimmed() -> None:
    assert make_case().product.serial_number == "SN8841XK2"


def test_case_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError) as naive:
        make_case(opened_at=datetime(2026, 11, 3, 9, 0))
    assert naive.value.errors()[0]["type"] == "timezone_aware"


def test_delivery_before_purchase_is_refused() -> None:
    with pytest.raises(ValidationError, match="delivery_date is before purchase_date"):
        make_case(
            product={
                "brand": "Bosch",
                "model": "WAN28209FF",
                "purchase_date": "2025-06-14",
                "delivery_date": "2025-06-01",
            }
        )


def test_one_reference_per_party() -> None:
    refs = [
        {"party": "atelier-dupont", "reference": "AD-2026-004512"},
        {"party": "atelier-dupont", "reference": "AD-2026-004513"},
    ]
    with pytest.raises(ValidationError, match="more than one reference"):
        make_case(references=refs)
    case = make_case(references=refs[:1])
    assert case.reference_of("atelier-dupont") == "AD-2026-004512"
    assert case.reference_of("techniservice") is None


def test_legal_deadline_is_thirty_days_from_opening() -> None:
    case = make_case()
    assert case.legal_repair_deadline() == case.opened_at + timedelta(days=30)
    assert make_case(coverage="none").legal_repair_deadline() is None


def test_money_needs_a_currency_and_exact_cents() -> None:
    assert Money(amount=Decimal("149.90"), currency="EUR").amount == Decimal("149.90")
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": "149.90"})
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1.999"), currency="EUR")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1.99"), currency="euro")


def _event(**fields: object) -> Event:
    base: dict[str, object] = {
        "id": "x:1",
        "case_ref": "ME-000123",
        "type": "case_status",
        "status": "received",
        "occurred_at": T0,
        "reported_by": "atelier-dupont",
        "raw_code": "REC",
    }
    base.update(fields)
    return Event.model_validate(base)


def test_status_is_read_in_the_set_its_type_names() -> None:
    assert _event(type="shipment_status", status="delivered").status is ShipmentStatus.DELIVERED
    assert _event(type="parts_order_status", status="delivered").status is (
        PartsOrderStatus.DELIVERED
    )
    assert _event(status="delivered").status is CaseStatus.DELIVERED
    with pytest.raises(ValidationError, match="is not a case_status status"):
        _event(status="in_transit")


def test_unknown_code_is_kept_as_unmapped_but_needs_the_raw_code() -> None:
    event = _event(status=None, raw_code="XYZ")
    assert event.unmapped
    assert event.label is None
    assert event.raw_code == "XYZ"
    with pytest.raises(ValidationError, match="raw code"):
        _event(status=None, raw_code=None)


def test_event_times_are_aware_and_keep_their_offset() -> None:
    with pytest.raises(ValidationError):
        _event(occurred_at=datetime(2026, 11, 3, 9, 0))
    event = _event()
    assert event.occurred_at.utcoffset() == timedelta(hours=1)
    assert event.occurred_at_utc == datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    assert '"occurred_at":"2026-11-03T09:00:00+01:00"' in event.model_dump_json()


def _workshop_id(at: datetime, code: str = "REC") -> str:
    return stable_event_id(
        reported_by="atelier-dupont",
        case_ref="ME-1",
        type=EventType.CASE_STATUS,
        raw_code=code,
        occurred_at=at,
    )


def test_stable_id_is_the_same_fact_whatever_the_offset() -> None:
    paris = _workshop_id(T0)
    assert paris == _workshop_id(T0.astimezone(UTC))
    assert len({paris, _workshop_id(T0 + timedelta(minutes=1)), _workshop_id(T0, "DIA")}) == 3
    carrier_id = stable_event_id(
        reported_by="colis-express",
        partner_event_id="ev_01HF2",
        type=EventType.SHIPMENT_STATUS,
        raw_code="PCH",
        occurred_at=T0,
    )
    assert carrier_id == "colis-express:ev_01HF2"


def test_offsets_beyond_fourteen_hours_are_refused() -> None:
    with pytest.raises(ValidationError, match="offset"):
        _event(occurred_at=datetime(2026, 11, 3, tzinfo=timezone(timedelta(hours=15))))


def test_text_with_a_nul_character_is_refused() -> None:
    """PostgreSQL cannot store NUL; the model refuses it before any store sees it."""
    with pytest.raises(ValidationError) as caught:
        make_case(fault="Ne chauffe plus\x00")
    assert caught.value.errors()[0]["loc"] == ("fault",)
    with pytest.raises(ValidationError):
        _event(raw_label="Reçu\x00atelier")


def test_the_deferred_models_build_once_when_threads_first_use_them_together() -> None:
    """The canonical models are built on first use (issue 17: a command that imports an
    enum builds no class). `hub serve`'s threads may meet a model's first use together:
    in a fresh interpreter, eight threads validate a case and an event at once, and each
    gets the model, not a half-built class's error."""
    root = Path(__file__).resolve().parent.parent
    probe = (
        "import json\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from pathlib import Path\n"
        "from hub.model.case import Case\n"
        "from hub.model.event import Event\n"
        "assert not Case.__pydantic_complete__ and not Event.__pydantic_complete__\n"
        "case = Path('fixtures/cases/BM-000045.json').read_text()\n"
        "event = {'id': 'e1', 'case_ref': 'BM-000045', 'type': 'case_status',\n"
        "         'status': 'received', 'occurred_at': '2026-01-05T10:00:00+01:00',\n"
        "         'reported_by': 'atelier-dupont', 'raw_code': 'REC'}\n"
        "def use(_: int) -> str:\n"
        "    return Case.model_validate_json(case).reference + Event(**event).id\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    print(sorted(set(pool.map(use, range(64)))))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "['BM-000045e1']", found.stderr
