"""The login throttle on its own, with a clock the test moves."""

from __future__ import annotations

from hub.console.throttle import ADDRESSES_KEPT, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_ends_when_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(limit=3, window=600, clock=clock)
    for step in range(3):
        assert throttle.retry_after("10.0.0.9") is None
        throttle.failed("10.0.0.9")
        clock.now += 10 * (step + 1)
    # failures at 1000, 1010 and 1030; it is now 1060: the first leaves at 1600
    assert throttle.retry_after("10.0.0.9") == 541
    assert throttle.retry_after("10.0.0.10") is None, "other addresses are not held"
    clock.now = 1600.5
    assert throttle.retry_after("10.0.0.9") is None
    throttle.failed("10.0.0.9")
    assert throttle.retry_after("10.0.0.9") is not None, "three failures in the window again"


def test_a_success_clears_the_address() -> None:
    throttle = LoginThrottle(limit=2, window=600, clock=Clock())
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") is None


def test_a_spray_from_many_addresses_keeps_memory_bounded() -> None:
    throttle = LoginThrottle(limit=1, window=600, clock=Clock())
    for number in range(ADDRESSES_KEPT + 50):
        throttle.failed(f"addr-{number}")
    assert len(throttle._failures) == ADDRESSES_KEPT
    assert throttle.retry_after("addr-0") is None, "the stalest address was forgotten"
    assert throttle.retry_after(f"addr-{ADDRESSES_KEPT + 49}") is not None
