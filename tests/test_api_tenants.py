"""Tenants and keys: stored hashed, shown once, listed by id, revocable; prefixes apart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import typer
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from hub.api.commands import register
from hub.errors import ConfigurationError, ConflictError, NotFoundError
from hub.model import PartyRole
from hub.retailers.tenants import (
    InvalidApiKey,
    add_retailer,
    authenticate,
    find_retailer,
    issue_key,
    revoke_key,
    slug,
)
from hub.retailers.webhook_endpoints import register_endpoint, secret_box
from hub.store.db import Database
from hub.store.parties import get_party
from hub.store.tables import api_keys
from hub.store.tenants import list_keys
from tests.factories import register_network


def test_adding_a_retailer_creates_its_party_and_one_key_stored_as_a_hash(
    database: Database,
) -> None:
    with database.transaction() as connection:
        retailer, key = add_retailer(connection, name="Maison Électro", case_prefix="ME-")
        party = get_party(connection, "maison-electro")
        stored = connection.execute(select(api_keys)).one()
    assert retailer.id == "maison-electro"
    assert retailer.case_prefix == "ME-"
    assert party is not None
    assert party.role is PartyRole.RETAILER
    assert key.token.startswith(f"hub_{key.id}_")
    assert stored.token_hash == hashlib.sha256(key.token.encode()).hexdigest()
    assert key.token not in {str(value) for value in stored}
    assert len(key.token) > 60  # 256 random bits after the id


def test_a_registered_retailer_party_becomes_a_tenant_but_another_role_cannot(
    database: Database,
) -> None:
    register_network(database)
    with database.transaction() as connection:
        retailer, _ = add_retailer(
            connection, name="BricoMarket", case_prefix="BM-", party_id="bricomarket"
        )
    assert retailer.name == "BricoMarket"
    with pytest.raises(ConflictError, match="repairer"), database.transaction() as connection:
        add_retailer(connection, name="Dupont", case_prefix="AD-", party_id="atelier-dupont")
    with pytest.raises(ConflictError, match="already"), database.transaction() as connection:
        add_retailer(connection, name="BricoMarket", case_prefix="BX-", party_id="bricomarket")


@pytest.mark.parametrize("prefix", ["ME-", "ME", "ME-X", "M"])
def test_overlapping_prefixes_are_refused(database: Database, prefix: str) -> None:
    with database.transaction() as connection:
        add_retailer(connection, name="Maison Électro", case_prefix="ME-")
    with pytest.raises(ConflictError, match="overlaps"), database.transaction() as connection:
        add_retailer(connection, name="Other", case_prefix=prefix)


@pytest.mark.parametrize("prefix", ["", "ME /", "-ME", "x" * 17])
def test_malformed_prefixes_are_refused(database: Database, prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"), database.transaction() as connection:
        add_retailer(connection, name="Other", case_prefix=prefix)


def test_keys_authenticate_until_revoked_and_record_their_last_use(database: Database) -> None:
    t0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with database.transaction() as connection:
        retailer, first = add_retailer(connection, name="Maison Électro", case_prefix="ME-", now=t0)
        second = issue_key(connection, retailer.id, now=t0)
        assert authenticate(connection, first.token, now=t0).id == retailer.id
        assert authenticate(connection, second.token, now=t0 + timedelta(seconds=5)) == retailer
        revoke_key(connection, first.id, now=t0 + timedelta(minutes=5))
        with pytest.raises(InvalidApiKey):
            authenticate(connection, first.token, now=t0 + timedelta(minutes=6))
        assert authenticate(connection, second.token, now=t0 + timedelta(minutes=7)) == retailer
        keys = {key.id: key for key in list_keys(connection, retailer.id)}
    assert set(keys) == {first.id, second.id}
    assert keys[first.id].revoked_at == t0 + timedelta(minutes=5)
    assert not keys[first.id].active
    assert keys[second.id].active
    assert keys[first.id].last_used_at == t0
    # Written at most once a minute: the 5-second use did not move it, the 7-minute one did.
    assert keys[second.id].last_used_at == t0 + timedelta(minutes=7)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token.replace("hub_", "hub-"),
        lambda token: "hub_0000000000000000_" + token.split("_", 2)[2],
        lambda token: "",
        lambda token: token + "x" * 200,
    ],
    ids=["wrong-secret", "malformed", "unknown-id", "empty", "too-long"],
)
def test_anything_but_a_live_key_is_the_same_invalid_key(
    database: Database, mangle: Callable[[str], str]
) -> None:
    with database.transaction() as connection:
        _, key = add_retailer(connection, name="Maison Électro", case_prefix="ME-")
        with pytest.raises(InvalidApiKey) as caught:
            authenticate(connection, mangle(key.token))
    assert caught.value.message == "a valid API key is required"


def test_revoking_an_unknown_key_and_finding_an_unknown_retailer_are_not_found(
    database: Database,
) -> None:
    with pytest.raises(NotFoundError), database.transaction() as connection:
        revoke_key(connection, "0123456789abcdef")
    with pytest.raises(NotFoundError), database.transaction() as connection:
        find_retailer(connection, "nobody")


def test_slug_makes_party_ids_from_names() -> None:
    assert slug("Maison Électro") == "maison-electro"
    assert slug("  Brico / Market  ") == "brico-market"


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps sub-command names
    register(app)
    return app


def test_the_command_line_prints_a_key_once_then_lists_and_revokes_by_id(
    database: Database,
) -> None:
    url = database.url
    app, runner = _cli(), CliRunner()

    added = runner.invoke(
        app, ["retailers", "add", "Maison Électro", "--prefix", "ME-", "--database", url]
    )
    assert added.exit_code == 0, added.output
    token = next(line for line in added.output.splitlines() if line.startswith("hub_"))
    key_id = token.split("_")[1]

    created = runner.invoke(
        app, ["retailers", "keys", "create", "Maison Électro", "--database", url]
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["retailers", "keys", "list", "maison-electro", "--database", url])
    assert listed.exit_code == 0
    assert key_id in listed.output
    assert token not in listed.output
    assert "hub_" not in listed.output
    with database.transaction() as connection:
        assert len(list_keys(connection, "maison-electro")) == 2

    revoked = runner.invoke(app, ["retailers", "keys", "revoke", key_id, "--database", url])
    assert revoked.exit_code == 0
    assert "revoked" in revoked.output
    with database.transaction() as connection, pytest.raises(InvalidApiKey):
        authenticate(connection, token)


def test_the_command_line_lists_a_retailers_own_webhook_endpoints_without_secrets(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    url = database.url
    app, runner = _cli(), CliRunner()
    runner.invoke(app, ["retailers", "add", "Maison Électro", "--prefix", "ME-", "--database", url])
    none = runner.invoke(app, ["retailers", "endpoints", "maison-electro", "--database", url])
    assert none.exit_code == 0
    assert "no webhook endpoint" in none.output
    with database.transaction() as connection:
        retailer = find_retailer(connection, "maison-electro")
        endpoint, secret = register_endpoint(
            connection, retailer, url="https://93.184.216.34/hooks", box=secret_box()
        )
    listed = runner.invoke(app, ["retailers", "endpoints", "maison-electro", "--database", url])
    assert listed.exit_code == 0, listed.output
    assert endpoint.id in listed.output
    assert "93.184.216.34" in listed.output
    assert secret not in listed.output
    assert "whsec_" not in listed.output


def test_serve_api_refuses_a_schema_that_is_behind(blank_database: Database) -> None:
    result = CliRunner().invoke(_cli(), ["serve-api", "--database", blank_database.url])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert "run `hub up`" in result.exception.message
