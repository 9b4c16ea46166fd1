"""Authentication of the HTTP transports against a loopback partner: OAuth 2.0 client
credentials (token reused until it expires, one renewal and one retry on a 401), HTTP
Basic and an API key in a header, all built from connectors.yaml settings."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from adapters.transports.http.errors import PartnerRefusedCredentials
from adapters.transports.http.from_spec import transport_from_spec
from adapters.transports.http.oauth import ClientCredentials
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import HttpPostSettings, HttpPullSettings
from adapters.transports.http.spec import HttpPostTransportSpec, HttpPullTransportSpec
from hub.config.registry import secret_names
from hub.ports import OutboundMessage

CLIENT_ID, CLIENT_SECRET = "hub-sav", "s3cr3t-client-9d1f"


@dataclass
class Partner:
    """What the loopback partner saw, and how it should answer."""

    token_requests: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    expires_in: int = 900
    refuse_client: bool = False
    accept_tokens: bool = True
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def revoke_all(self) -> None:
        self.valid_tokens.clear()


def handler_for(partner: Partner) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/oauth2/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                partner.token_requests.append(
                    {"authorization": self.headers.get("Authorization"), **form}
                )
                if partner.refuse_client:
                    self._answer(401, {"error": "invalid_client"})
                    return
                token = f"tok-{len(partner.token_requests)}"
                partner.valid_tokens.add(token)
                self._answer(
                    200,
                    {
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_in": partner.expires_in,
                    },
                )
                return
            self._call(201)

        def do_GET(self) -> None:
            self._call(200)

        def _call(self, ok: int) -> None:
            auth = self.headers.get("Authorization") or ""
            partner.calls.append(
                {
                    "path": self.path,
                    "authorization": auth,
                    "api_key": self.headers.get("X-Api-Key") or "",
                    "idempotency_key": self.headers.get("Idempotency-Key") or "",
                }
            )
            token = auth.removeprefix("Bearer ")
            accepted = partner.accept_tokens and token in partner.valid_tokens
            if auth.startswith("Bearer ") and not accepted:
                self._answer(401, {"error": "invalid_token"})
                return
            self._answer(ok, {"events": []} if ok == 200 else {"order_id": "ED-1"})

    return Handler


@pytest.fixture
def partner() -> Iterator[Partner]:
    state = Partner()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def oauth(partner: Partner) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{partner.url}/oauth2/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="orders",
        client_id_env="ELEC_CLIENT_ID",
        client_secret_env="ELEC_CLIENT_SECRET",
    )


def puller(partner: Partner, clock: WallClock) -> HttpPullTransport:
    settings = HttpPullSettings(
        partner.url, oauth=oauth(partner), page_path="/api/v2/order-events", max_attempts=1
    )
    return HttpPullTransport(settings, wall_clock=clock, sleep=lambda _: None)


def order(key: str = "PO-00000308") -> OutboundMessage:
    return OutboundMessage(f"{key}.json", b'{"customer_order_ref": "x"}', "application/json", key)


def test_a_token_is_asked_once_and_reused_until_it_expires(partner: Partner) -> None:
    clock = WallClock()
    with puller(partner, clock) as pull:
        for _ in range(3):
            pull.fetch_page(None)
        assert len(partner.token_requests) == 1
        clock.now += 900  # expired (renewed a little before its announced end)
        pull.fetch_page(None)
    assert len(partner.token_requests) == 2
    assert [call["authorization"] for call in partner.calls] == ["Bearer tok-1"] * 3 + [
        "Bearer tok-2"
    ]
    first = partner.token_requests[0]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert first["authorization"] == f"Basic {basic}"
    assert first["grant_type"] == "client_credentials"
    assert first["scope"] == "orders"


def test_a_token_outlives_the_run_that_asked_for_it(partner: Partner) -> None:
    """Each run builds its transport anew; the token is asked once per lifetime, not per
    run, and a token asked with another secret is not reused."""
    clock = WallClock()
    for _ in range(3):  # three runs, a minute apart
        with puller(partner, clock) as pull:
            pull.fetch_page(None)
        clock.now += 60
    assert len(partner.token_requests) == 1
    clock.now += 900
    with puller(partner, clock) as pull:
        pull.fetch_page(None)
    assert len(partner.token_requests) == 2
    rotated = HttpPullSettings(
        partner.url,
        oauth=replace(oauth(partner), client_secret="rotated-secret"),
        page_path="/api/v2/order-events",
        max_attempts=1,
    )
    with HttpPullTransport(rotated, wall_clock=clock, sleep=lambda _: None) as pull:
        pull.fetch_page(None)
    assert len(partner.token_requests) == 3


def test_a_token_revoked_mid_run_is_renewed_once_and_the_call_retried(partner: Partner) -> None:
    clock = WallClock()
    with puller(partner, clock) as pull:
        pull.fetch_page(None)
        partner.revoke_all()
        pull.fetch_page("2026-11-04T10:00:00Z")
        pull.fetch_page("2026-11-04T11:00:00Z")
    assert len(partner.token_requests) == 2
    assert [call["authorization"] for call in partner.calls] == [
        "Bearer tok-1",
        "Bearer tok-1",  # refused with 401
        "Bearer tok-2",  # the same call again, once
        "Bearer tok-2",
    ]


def test_a_new_token_refused_too_is_the_partners_refusal(partner: Partner) -> None:
    partner.accept_tokens = False
    with puller(partner, WallClock()) as pull, pytest.raises(PartnerRefusedCredentials) as refused:
        pull.fetch_page(None)
    assert len(partner.token_requests) == 2  # the first, and one renewal: no loop
    assert len(partner.calls) == 2
    assert "ELEC_CLIENT_SECRET" in str(refused.value)
    assert CLIENT_SECRET not in str(refused.value)


def test_a_refused_client_names_its_variables_not_its_secret(partner: Partner) -> None:
    partner.refuse_client = True
    with puller(partner, WallClock()) as pull, pytest.raises(PartnerRefusedCredentials) as err:
        pull.fetch_page(None)
    assert "invalid_client" in str(err.value)
    assert err.value.variables == ("ELEC_CLIENT_ID", "ELEC_CLIENT_SECRET")
    assert CLIENT_SECRET not in repr(err.value)
    assert partner.calls == []


def test_post_sends_the_token_and_the_message_id_as_idempotency_key(partner: Partner) -> None:
    settings = HttpPostSettings(
        partner.url,
        oauth=oauth(partner),
        post_path="/api/v2/orders",
        content_type="application/json",
        idempotent_ok_status=200,
    )
    with HttpPostTransport(settings, sleep=lambda _: None) as post:
        post.send(order("PO-00000308"))
        partner.revoke_all()
        post.send(order("PO-00000309"))
    assert [(c["authorization"], c["idempotency_key"]) for c in partner.calls] == [
        ("Bearer tok-1", "PO-00000308"),
        ("Bearer tok-1", "PO-00000309"),
        ("Bearer tok-2", "PO-00000309"),  # the retry keeps its key
    ]


def test_from_connectors_yaml_with_each_scheme(partner: Partner) -> None:
    oauth_spec = HttpPullTransportSpec.model_validate(
        {
            "base_url": partner.url,
            "page_path": "/api/v2/order-events",
            "auth": {
                "scheme": "oauth2-client-credentials",
                "token_url": f"{partner.url}/oauth2/token",
                "client_id_env": "ELEC_CLIENT_ID",
                "client_secret_env": "ELEC_CLIENT_SECRET",
                "scope": "orders",
            },
        }
    )
    assert secret_names(oauth_spec) == {
        "client_id": "ELEC_CLIENT_ID",
        "client_secret": "ELEC_CLIENT_SECRET",
    }
    with transport_from_spec(
        oauth_spec, {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, None
    ) as pull:
        pull.fetch_page(None)
    basic_spec = HttpPostTransportSpec.model_validate(
        {
            "base_url": partner.url,
            "post_path": "/orders",
            "content_type": "application/json",
            "auth": {"scheme": "basic", "username_env": "P_USER", "password_env": "P_PASS"},
        }
    )
    assert secret_names(basic_spec) == {"username": "P_USER", "password": "P_PASS"}
    with transport_from_spec(basic_spec, {"username": "hub", "password": "pw"}, None) as post:
        post.send(order())
    key_spec = HttpPullTransportSpec.model_validate(
        {
            "base_url": partner.url,
            "page_path": "/feed",
            "auth": {"scheme": "api-key", "api_key_env": "P_KEY"},
        }
    )
    with transport_from_spec(key_spec, {"api_key": "k-123"}, None) as pull:
        pull.fetch_page(None)
    assert [(c["authorization"], c["api_key"]) for c in partner.calls] == [
        ("Bearer tok-1", ""),
        ("Basic " + base64.b64encode(b"hub:pw").decode(), ""),
        ("", "k-123"),
    ]
