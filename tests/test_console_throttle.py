"""The login throttle on its own, with a clock the test moves; then over real HTTP, whose
address it counts when a client writes X-Forwarded-For."""

from __future__ import annotations

import httpx
import pytest

from hub.api import create_app
from hub.api.operator_auth import TOKEN_ENV
from hub.api.proxies import forwarded_client
from hub.api.throttle import ADDRESSES_KEPT, FAILURES_ALLOWED, LoginThrottle
from hub.config.network import TRUSTED_PROXIES_VARIABLE, trusted_proxies
from hub.errors import ConfigurationError
from hub.store.db import Database
from tests.api_support import serving


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


# --- over real HTTP: whose address is counted ------------------------------------------

OPERATOR_TOKEN = "op-" + "c0ffee" * 6


@pytest.fixture
def operator_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN)
    return OPERATOR_TOKEN


def _login(base: str, token: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    return httpx.post(
        f"{base}/console/login", data={"token": token}, headers=headers, follow_redirects=False
    )


def test_a_forwarded_for_header_from_an_untrusted_peer_changes_nothing(
    database: Database, operator_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guesser cannot dodge the throttle by writing a new address in every request."""
    monkeypatch.delenv(TRUSTED_PROXIES_VARIABLE, raising=False)
    with serving(create_app(database)) as base:
        for number in range(FAILURES_ALLOWED):
            assert _login(base, "guess", f"198.51.100.{number}").status_code == 401
        held = _login(base, operator_token, "198.51.100.200")
    assert held.status_code == 429
    assert int(held.headers["retry-after"]) > 0


def test_behind_a_trusted_proxy_each_client_address_is_held_apart(
    database: Database, operator_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUSTED_PROXIES_VARIABLE, "10.9.0.0/16, 127.0.0.1")
    with serving(create_app(database)) as base:
        for _ in range(FAILURES_ALLOWED):
            # what the client wrote (left) is ignored; the proxy appended what it saw
            assert _login(base, "guess", "192.0.2.77, 203.0.113.7").status_code == 401
        held = _login(base, operator_token, "203.0.113.7")
        through_two_proxies = _login(base, operator_token, "203.0.113.7, 10.9.0.4")
        victim = _login(base, operator_token, "192.0.2.77")
    assert held.status_code == 429
    assert through_two_proxies.status_code == 429
    assert victim.status_code == 303, "a forged entry never holds someone else's address"


def test_forwarded_client_reads_only_what_trusted_proxies_wrote() -> None:
    proxies = trusted_proxies({TRUSTED_PROXIES_VARIABLE: "10.0.0.0/8,::1"})
    assert forwarded_client("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert forwarded_client("10.0.0.2", "1.2.3.4, 5.6.7.8", proxies) == "5.6.7.8"
    assert forwarded_client("::1", "5.6.7.8, 10.1.1.1", proxies) == "5.6.7.8"
    assert forwarded_client("10.0.0.2", "", proxies) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", "not-an-ip", proxies) == "not-an-ip"


def test_a_wrong_trusted_proxy_setting_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=TRUSTED_PROXIES_VARIABLE):
        trusted_proxies({TRUSTED_PROXIES_VARIABLE: "10.0.0.0/8, proxy.example"})
