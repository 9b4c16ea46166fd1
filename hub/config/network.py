"""Settings from the environment and the network file (connectors.yaml).

Errors point at the file and line of the problem in plain words, because the people
who edit connectors.yaml are integrators, not the hub's developers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.config.alerting import AlertingSpec
from hub.config.connector_spec import CaseImportSpec, ConnectorSpec, WebhookSpec, parse_duration
from hub.config.retention import RetentionSpec
from hub.config.sync import SyncSpec
from hub.config.variables import DATABASE_URL_VARIABLE as DATABASE_URL_VARIABLE
from hub.config.variables import DEFAULT_DATABASE_URL as DEFAULT_DATABASE_URL
from hub.config.variables import DEFAULT_NETWORK_FILE as DEFAULT_NETWORK_FILE
from hub.config.variables import NETWORK_FILE_VARIABLE as NETWORK_FILE_VARIABLE
from hub.config.variables import database_url as database_url
from hub.config.variables import network_file as network_file
from hub.errors import ConfigurationError
from hub.model.case import ContractLevel
from hub.model.parties import Party, PartyId, PartyRole


class NetworkConfig(BaseModel):
    """The partner network: who the parties are (connectors come with the adapters)."""

    model_config = ConfigDict(extra="forbid", title="connectors.yaml", defer_build=True)

    version: Literal[1] = Field(description="Format version of this file.")
    parties: list[Party] = Field(description="Every company the hub talks to or for.")
    connectors: list[ConnectorSpec] = Field(
        default_factory=list, description="Every exchange with a partner."
    )
    case_imports: list[CaseImportSpec] = Field(
        default_factory=list, description="Retailers' drop folders of case files."
    )
    webhooks: list[WebhookSpec] = Field(
        default_factory=list, description="Retailers' signed webhook endpoints, one each."
    )
    sync: SyncSpec = Field(
        default_factory=SyncSpec, description="Routing and the rules that keep parties in sync."
    )
    alerting: AlertingSpec = Field(
        default_factory=AlertingSpec,
        description="When a connector is flagged, and when it is paused, for the operator.",
    )
    retention: RetentionSpec = Field(
        default_factory=RetentionSpec,
        description="How long raw messages, events of closed cases, delivered outbox "
        "messages, run records, rejects and acknowledgements are kept, and when closed "
        "cases are anonymised.",
    )
    service_levels: dict[PartyId, ContractLevel] = Field(
        default_factory=dict,
        description="Each retailer's contract level (bronze, silver, gold, platinum). A "
        "retailer not listed gets only the 30-day legal rule.",
    )

    @field_validator("parties")
    @classmethod
    def _unique_party_ids(cls, parties: list[Party]) -> list[Party]:
        first_index: dict[str, int] = {}
        for index, party in enumerate(parties):
            if party.id in first_index:
                raise ValueError(
                    f"party id {party.id!r} is listed twice (items {first_index[party.id]} "
                    f"and {index})"
                )
            first_index[party.id] = index
        return parties

    @field_validator("connectors")
    @classmethod
    def _unique_connector_names(cls, connectors: list[ConnectorSpec]) -> list[ConnectorSpec]:
        names = [connector.name for connector in connectors]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"connector names listed twice: {', '.join(twice)}")
        return connectors

    @field_validator("webhooks")
    @classmethod
    def _one_webhook_per_retailer(cls, webhooks: list[WebhookSpec]) -> list[WebhookSpec]:
        """Two URLs for one retailer would leave it unclear where its events go."""
        retailers = [webhook.retailer for webhook in webhooks]
        twice = sorted({retailer for retailer in retailers if retailers.count(retailer) > 1})
        if twice:
            raise ValueError(f"retailers with more than one webhook: {', '.join(twice)}")
        return webhooks

    @model_validator(mode="after")
    def _known_partners(self) -> NetworkConfig:
        known = {party.id for party in self.parties}
        for connector in self.connectors:
            if connector.partner not in known:
                raise ValueError(
                    f"connector {connector.name!r} names partner {connector.partner!r}, "
                    "which is not among the parties"
                )
        roles = {party.id: party.role for party in self.parties}
        expected = {
            "repairer": PartyRole.REPAIRER,
            "carrier": PartyRole.CARRIER,
            "supplier": PartyRole.PARTS_SUPPLIER,
            "retailer": PartyRole.RETAILER,
        }
        for number, route in enumerate(self.sync.routes):
            for field, role in expected.items():
                party = getattr(route, field)
                if party is not None and roles.get(party) is not role:
                    raise ValueError(
                        f"sync route {number} names {party!r} as {field}, but it is not a "
                        f"{role.value} among the parties"
                    )
        for party in self.sync.not_sent:
            if party not in roles:
                raise ValueError(f"sync.not_sent names {party!r}, which is not among the parties")
        for drop in self.case_imports:
            if roles.get(drop.retailer) is not PartyRole.RETAILER:
                raise ValueError(
                    f"case import {drop.name!r} names {drop.retailer!r}, which is not a retailer "
                    "among the parties"
                )
        for webhook in self.webhooks:
            if roles.get(webhook.retailer) is not PartyRole.RETAILER:
                raise ValueError(
                    f"a webhook names {webhook.retailer!r}, which is not a retailer among the "
                    "parties"
                )
        return self

    @model_validator(mode="after")
    def _service_levels_name_retailers(self) -> NetworkConfig:
        roles = {party.id: party.role for party in self.parties}
        for retailer in self.service_levels:
            if roles.get(retailer) is not PartyRole.RETAILER:
                raise ValueError(
                    f"service_levels names {retailer!r}, which is not a retailer among the parties"
                )
        return self

    def contract_level(self, retailer: str) -> ContractLevel | None:
        """The retailer's contract level, or None: then only the legal rule applies."""
        return self.service_levels.get(retailer)

    def webhook(self, retailer: str) -> WebhookSpec | None:
        """The retailer's webhook, or None when it reads the feed instead."""
        return next((spec for spec in self.webhooks if spec.retailer == retailer), None)

    def case_import(self, name: str) -> CaseImportSpec | None:
        return next((spec for spec in self.case_imports if spec.name == name), None)

    def connector(self, name: str) -> ConnectorSpec:
        for connector in self.connectors:
            if connector.name == name:
                return connector
        known = ", ".join(c.name for c in self.connectors) or "none"
        raise ConfigurationError(f"no connector named {name!r} (known: {known})")


def load_network(path: Path) -> NetworkConfig:
    """Read and validate connectors.yaml; a problem names its file, line and field."""
    from hub.config.yamlfile import read_yaml, validate  # PyYAML: not for a kept network

    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigurationError(f"{path}: expected a mapping with 'version' and 'parties'")
    return validate(document, NetworkConfig)


TRUSTED_PROXIES_VARIABLE = "HUB_TRUSTED_PROXIES"
CONSOLE_SESSION_IDLE_VARIABLE = "HUB_CONSOLE_SESSION_IDLE"
CONSOLE_SESSION_MAX_VARIABLE = "HUB_CONSOLE_SESSION_MAX"
DEFAULT_CONSOLE_SESSION_IDLE = "30m"
DEFAULT_CONSOLE_SESSION_MAX = "12h"

ProxyNetwork = IPv4Network | IPv6Network


def trusted_proxies(environ: Mapping[str, str] | None = None) -> tuple[ProxyNetwork, ...]:
    """The reverse proxies whose ``X-Forwarded-For`` the hub believes (IPs or CIDRs, comma
    separated). None by default: a header any client can write decides nothing."""
    return _networks(TRUSTED_PROXIES_VARIABLE, environ)


WEBHOOK_NETWORKS_VARIABLE = "HUB_WEBHOOK_ALLOWED_NETWORKS"
WEBHOOK_KEYS_VARIABLE = "HUB_WEBHOOK_SECRETS_KEYS"


def webhook_allowed_networks(
    environ: Mapping[str, str] | None = None,
) -> tuple[ProxyNetwork, ...]:
    """Private, loopback or link-local networks that retailers' own webhook endpoints may
    point at all the same (IPs or CIDRs, comma separated). None by default: a retailer
    must not make the hub call into its own network (SSRF)."""
    return _networks(WEBHOOK_NETWORKS_VARIABLE, environ)


def webhook_secrets_keys(environ: Mapping[str, str] | None = None) -> list[str]:
    """The keys that encrypt retailers' webhook secrets at rest (Fernet keys, comma
    separated): the first encrypts, every one decrypts, so a key is rotated by putting
    the new one first. Empty when unset: the API then refuses to manage endpoints."""
    env = os.environ if environ is None else environ
    return [item.strip() for item in env.get(WEBHOOK_KEYS_VARIABLE, "").split(",") if item.strip()]


def _networks(variable: str, environ: Mapping[str, str] | None) -> tuple[ProxyNetwork, ...]:
    env = os.environ if environ is None else environ
    networks = []
    for item in env.get(variable, "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigurationError(
                f"{variable}: {item.strip()!r} is not an IP address or a network like 10.0.0.0/8"
            ) from None
    return tuple(networks)


def console_session_lifetimes(
    environ: Mapping[str, str] | None = None,
) -> tuple[timedelta, timedelta]:
    """How long a console session lives unused (idle), and at most since its login."""
    env = os.environ if environ is None else environ
    lifetimes = []
    for variable, default in (
        (CONSOLE_SESSION_IDLE_VARIABLE, DEFAULT_CONSOLE_SESSION_IDLE),
        (CONSOLE_SESSION_MAX_VARIABLE, DEFAULT_CONSOLE_SESSION_MAX),
    ):
        text = env.get(variable, "").strip() or default
        try:
            lifetime = parse_duration(text)
        except ValueError as wrong:
            raise ConfigurationError(f"{variable}: {wrong}") from None
        if lifetime <= timedelta(0):
            raise ConfigurationError(f"{variable}: a session must live longer than {text!r}")
        lifetimes.append(lifetime)
    return lifetimes[0], lifetimes[1]
