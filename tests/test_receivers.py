"""Receivers over real HTTP: each authentication scheme accepted and refused, answers and
refusals from templates (an XML acknowledgement echoing the batch, a SOAP Ack), and the
archive-before-answer guarantee. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from adapters.receivers.http_push import HttpPushReceiver, HttpPushSettings
from adapters.receivers.templates import parse_template
from hub.api.app import create_app
from hub.config.network import load_network
from hub.errors import ConfigurationError
from hub.partners.connectors import open_network
from hub.partners.push import push_request
from hub.ports import AcceptedPush, PushRefusal, RefusalKind
from hub.store.db import Database
from hub.store.tables import raw_messages
from tests.api_support import serving
from tests.factories import register_network
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "mappings" / "colis-express.yaml"
SECRETS = {
    "T_HMAC": "hmac-secret",
    "T_USER": "lot-sender",
    "T_PASSWORD": "pa:ss wörd",
    "T_KEY": "key-123",
    "T_TOKEN": "tok-456",
}
ACK = '<Acquittement lot="{xml:/Lot/@numero}" statut="OK" id="{message_id}"/>'
SOAP = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    "<Ack><BatchId>{xml://*[local-name()='BatchId']}</BatchId><Id>{message_id}</Id></Ack>"
    "</soap:Body></soap:Envelope>"
)


def connector(name: str, receiver: dict[str, object]) -> str:
    """A connector entry; the receiver written as JSON, which YAML reads as it is."""
    return (
        f"  - name: {name}\n    partner: colis-express\n    mapping: {MAPPING}\n"
        f"    message: push\n    receiver: {json.dumps(receiver)}\n"
    )


RECEIVERS: dict[str, dict[str, object]] = {
    "signed": {
        "type": "http-push",
        "auth": {
            "scheme": "hmac",
            "secret_env": "T_HMAC",
            "signature_header": "X-Sig",
            "encoding": "base64",
            "prefix": "",
            "timestamp_header": None,
            "signed_content": "body",
        },
    },
    "basic": {
        "type": "http-push",
        "auth": {"scheme": "basic", "username_env": "T_USER", "password_env": "T_PASSWORD"},
        "answer": {"content_type": "application/xml", "body": ACK},
    },
    "keyed": {
        "type": "http-push",
        "auth": {"scheme": "api-key", "header": "X-Partner-Key", "key_env": "T_KEY"},
        "answer": {"content_type": "text/xml", "body": SOAP},
    },
    "bearer": {
        "type": "http-push",
        "auth": {"scheme": "bearer", "token_env": "T_TOKEN"},
        "refusal": {
            "status": 403,
            "content_type": "application/xml",
            "body": '<Refus statut="KO" motif="{reason}" demande="{header:X-Request-Id}"/>',
        },
        "max_bytes": 64,
    },
    "unset": {"type": "http-push", "auth": {"scheme": "bearer", "token_env": "T_NEVER_SET"}},
}
HEAD = "version: 1\nparties:\n  - {id: colis-express, role: carrier, name: CE}\nconnectors:\n"


def network(tmp_path: Path) -> Path:
    path = tmp_path / "connectors.yaml"
    text = HEAD + "".join(connector(name, spec) for name, spec in RECEIVERS.items())
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def hub_url(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("T_NEVER_SET", raising=False)
    register_network(database)
    with serving(create_app(database, open_network(network(tmp_path)))) as url:
        yield url


def stored(database: Database) -> list[int]:
    with database.transaction() as connection:
        return list(connection.execute(select(raw_messages.c.id)).scalars())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_hmac_base64_over_the_body_accepted_and_refused(database: Database, hub_url: str) -> None:
    body = b'{"id":"ev_1"}'
    mac = base64.b64encode(hmac.new(b"hmac-secret", body, hashlib.sha256).digest()).decode()
    url = f"{hub_url}/partners/signed/events"
    wrong = httpx.post(url, content=body, headers={"X-Sig": mac[:-4] + "AAA="})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == "the signature does not match the body"
    assert stored(database) == []
    answer = httpx.post(url, content=body, headers={"X-Sig": mac})
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted", "message_id": stored(database)[0]}


def test_basic_auth_and_an_xml_acknowledgement_echoing_the_batch(
    database: Database, hub_url: str
) -> None:
    url = f"{hub_url}/partners/basic/events"
    body = b'<Lot numero="L-42&quot;&lt;"><Colis/></Lot>'
    for credentials in [basic("lot-sender", "wrong"), basic("other", "pa:ss wörd"), "Basic %%%"]:
        refused = httpx.post(url, content=body, headers={"Authorization": credentials})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="hub"'
    assert httpx.post(url, content=body).status_code == 401
    assert stored(database) == []
    answer = httpx.post(url, content=body, headers={"Authorization": basic(*SECRETS_BASIC)})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    (message_id,) = stored(database)
    assert answer.text == (f'<Acquittement lot="L-42&quot;&lt;" statut="OK" id="{message_id}"/>'), (
        "the partner's value is escaped, not interpreted"
    )


SECRETS_BASIC = ("lot-sender", "pa:ss wörd")


def test_an_answer_reading_xml_refuses_a_body_that_is_not_xml(
    database: Database, hub_url: str
) -> None:
    auth = {"Authorization": basic(*SECRETS_BASIC)}
    url = f"{hub_url}/partners/basic/events"
    for body in [b"not xml", b'<!DOCTYPE x [<!ENTITY a "b">]><Lot numero="&a;"/>']:
        answer = httpx.post(url, content=body, headers=auth)
        assert answer.status_code == 400
        assert "XML" in answer.json()["detail"]
    assert stored(database) == [], "a push that could never be answered is not kept"


def test_api_key_and_a_soap_answer(database: Database, hub_url: str) -> None:
    url = f"{hub_url}/partners/keyed/events"
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<Batch xmlns="urn:partner"><BatchId>B-7</BatchId></Batch></s:Body></s:Envelope>'
    )
    assert httpx.post(url, content=body, headers={"X-Partner-Key": "key-12"}).status_code == 401
    assert httpx.post(url, content=body, headers={"X-Api-Key": "key-123"}).status_code == 401
    assert stored(database) == []
    answer = httpx.post(url, content=body, headers={"x-partner-key": "key-123"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    (message_id,) = stored(database)
    assert f"<Ack><BatchId>B-7</BatchId><Id>{message_id}</Id></Ack>" in answer.text


def test_bearer_with_a_refusal_template_and_a_size_limit(database: Database, hub_url: str) -> None:
    url = f"{hub_url}/partners/bearer/events"
    refused = httpx.post(
        url,
        content=b"{}",
        headers={"Authorization": "Bearer tok-45", "X-Request-Id": 'r<1>"'},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/xml")
    assert refused.text == (
        '<Refus statut="KO" motif="wrong bearer token" demande="r&lt;1&gt;&quot;"/>'
    )
    too_large = httpx.post(url, content=b"x" * 65, headers={"Authorization": "Bearer tok-456"})
    assert too_large.status_code == 413
    assert stored(database) == []
    assert (
        httpx.post(url, content=b"{}", headers={"Authorization": "Bearer tok-456"}).status_code
        == 200
    )
    assert len(stored(database)) == 1


def test_a_receiver_whose_secret_is_not_set_answers_503(database: Database, hub_url: str) -> None:
    answer = httpx.post(
        f"{hub_url}/partners/unset/events", content=b"{}", headers={"Authorization": "Bearer x"}
    )
    assert answer.status_code == 503
    assert httpx.post(f"{hub_url}/partners/nobody/events", content=b"{}").status_code == 404
    assert stored(database) == []


def test_the_push_is_archived_when_its_answer_is_sent(database: Database, hub_url: str) -> None:
    """No waiting: the 200 is only sent once the raw bytes are in the archive."""
    url = f"{hub_url}/partners/bearer/events"
    for number in range(5):
        answer = httpx.post(
            url, content=f'{{"n":{number}}}'.encode(), headers={"Authorization": "Bearer tok-456"}
        )
        assert answer.status_code == 200
        assert answer.json()["message_id"] in stored(database)
    assert len(stored(database)) == 5


# -- without HTTP: templates and settings -----------------------------------------------


def receiver(**settings: object) -> HttpPushReceiver:
    return HttpPushReceiver(
        HttpPushSettings.model_validate(settings), {"token": "t", "secret": "s"}
    )


def test_templates_escape_for_their_content_type_and_name_bad_placeholders() -> None:
    json_answer = receiver(
        auth={"scheme": "bearer", "token_env": "T"},
        answer={"body": '{{"batch":"{json:lot.0.id}","id":{message_id}}}'},
    )
    request = push_request({"Authorization": "Bearer t"}, b'{"lot":[{"id":"a\\"b"}]}', {}, None)
    accepted = json_answer.authenticate(request)
    assert isinstance(accepted, AcceptedPush)
    assert json_answer.answer(accepted, 9).body == b'{"batch":"a\\"b","id":9}'
    with pytest.raises(ValueError, match="unknown placeholder"):
        parse_template("{body}")
    with pytest.raises(ValueError, match="unmatched"):
        parse_template("a } b")
    with pytest.raises(ValidationError, match="refusal may not read the body"):
        receiver(auth={"scheme": "bearer", "token_env": "T"}, refusal={"body": "{xml:/a}"})
    with pytest.raises(ValidationError, match="not an XPath"):
        receiver(auth={"scheme": "bearer", "token_env": "T"}, answer={"body": "{xml:/a[}"})


def test_hmac_with_a_timestamp_refuses_a_stale_signature() -> None:
    signed = receiver(
        auth={"scheme": "hmac", "secret_env": "S", "signature_header": "X-Sig"},
    )
    stamp = "1700000000"
    mac = hmac.new(b"s", stamp.encode() + b".{}", hashlib.sha256).hexdigest()
    headers = {"X-Sig": "sha256=" + mac.upper(), "X-Timestamp": stamp}
    at = datetime.fromtimestamp(1700000100, UTC)
    assert isinstance(signed.authenticate(push_request(headers, b"{}", {}, None, at)), AcceptedPush)
    late = signed.authenticate(
        push_request(headers, b"{}", {}, None, datetime.fromtimestamp(1700000400, UTC))
    )
    assert isinstance(late, PushRefusal)
    assert late.kind is RefusalKind.UNAUTHENTICATED
    assert "tolerance" in late.reason
    bare = {"X-Sig": mac, "X-Timestamp": stamp}
    assert isinstance(signed.authenticate(push_request(bare, b"{}", {}, None, at)), PushRefusal)


def test_the_old_transport_shape_and_a_bad_option_are_located(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    old = connector("old", RECEIVERS["unset"]).replace("receiver:", "transport:")
    path.write_text(HEAD + old, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="http-push is a receiver"):
        load_network(path)
    path.write_text(
        HEAD + "  - name: bad\n    partner: colis-express\n    mapping: m.yaml\n    message: push\n"
        "    receiver:\n      type: http-push\n      auth:\n        scheme: basic\n"
        "        username_env: U\n        password: hunter2\n",
        encoding="utf-8",
    )
    result = run("connectors", "check", "--network", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{path}:14: connectors.0.receiver.auth.basic.password: Extra inputs" in result.stderr
    assert f"{path}:12: connectors.0.receiver.auth.basic.password_env: Field required" in (
        result.stderr
    )
