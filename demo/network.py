"""The demo's network file: the production `connectors.yaml`, pointed at the simulators.

The parties the demo simulates, and their connectors, are read from the repository's
`connectors.yaml` (with their mappings, the sync rules, webhooks and service levels), so
the demo shows the production configuration at work; only where each partner is (a
loopback port), the host keys to pin and the schedules (seconds instead of minutes) are
changed. Anything else in the file (a partner being connected, a new retailer) is left
out: the demo has no simulator for it, and adding a partner must not break the demo.
Secrets are generated for the session and set in this process's environment, under the
variable names the production file already gives: they are never written anywhere.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from hub.api.operator_auth import TOKEN_ENV
from hub.config.registry import find
from hub.errors import ConfigurationError
from hub.ports import AdapterKind
from simulators.sftp import ClientKey, generate_client_key

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_NETWORK = ROOT / "connectors.yaml"
LIVE_SCHEDULE = {"every": "3s"}
"""How often each connector runs in the live demo (the partners' sheets say minutes)."""

SIMULATED_CONNECTORS: dict[str, tuple[str, ...]] = {
    "atelier-dupont": ("atelier-dupont-status", "atelier-dupont-orders"),
    "pieces-plus": ("pieces-plus-answers", "pieces-plus-orders"),
    "techniservice": ("techniservice-changes", "techniservice-orders"),
    "colis-express": ("colis-express-push", "colis-express-parcels", "colis-express-pickups"),
    "elec-distrib": ("elec-distrib-events", "elec-distrib-orders"),
    "repar-ouest": ("repar-ouest-status", "repar-ouest-orders"),
    "relais-direct": ("relais-direct-push", "relais-direct-tracking"),
    "alpes-fret": ("alpes-fret-status", "alpes-fret-bookings"),
}
"""Each partner the demo simulates (demo.partners), and the connectors its simulator
answers: the demo's network holds these and no other."""
SIMULATED_RETAILERS = ("maison-electro", "bricomarket")
"""The retailers the story opens cases for (demo.story, demo.retailers)."""
SIMULATED_DROPS = ("bricomarket-nightly",)
"""The drop folders the story fills."""
EXAMPLE_PLUGIN = ROOT / "examples" / "hub-example-adapters"
"""A package that is not the hub's, registering a transport and a codec; its workshop is
a party of the demo wherever the package is installed (demo.partners.plugin_workshop)."""
SIMULATED_WEBHOOKS = ("maison-electro",)
"""The retailers whose webhook endpoint the demo runs (demo.retailers.WebhookReceiver)."""


@dataclass(frozen=True)
class SftpEndpoint:
    """Where a partner's SFTP server listens, and the host key the hub must pin."""

    port: int
    host_key_fingerprint: str


@dataclass(frozen=True)
class Endpoints:
    """Where each simulated party listens on loopback."""

    atelier_dupont: SftpEndpoint
    pieces_plus: SftpEndpoint
    techniservice_url: str
    colis_express_url: str
    maison_electro_webhook_url: str
    bricomarket_drop: Path
    plugin_spool: Path | None = None
    """The example plugin's spool folder, when its package is installed."""
    elec_distrib_url: str | None = None
    relais_direct_url: str = "http://127.0.0.1:9"
    """Relais Direct's SOAP tracking service."""
    alpes_fret: SftpEndpoint | None = None
    alpes_fret_bookings: Path | None = None
    """The folder the operator books Alpes Fret's collections from (by phone)."""
    repar_ouest: SftpEndpoint | None = None


@dataclass(frozen=True)
class DemoSecrets:
    """The session's secrets, held in memory and in the process environment only."""

    sftp_key: ClientKey
    techniservice_key: str
    colis_express_token: str
    colis_express_push_secret: str
    maison_electro_webhook_secret: str
    operator_token: str
    elec_distrib_client: tuple[str, str] = field(
        default_factory=lambda: ("hub-demo", secrets.token_urlsafe(24))
    )
    """Élec Distrib's OAuth 2.0 client id and secret."""
    relais_direct_push_key: str = ""
    relais_direct_soap_key: str = ""

    @classmethod
    def generate(cls) -> DemoSecrets:
        webhook_key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        return cls(
            sftp_key=generate_client_key(),
            techniservice_key=secrets.token_urlsafe(24),
            colis_express_token=secrets.token_urlsafe(24),
            colis_express_push_secret=secrets.token_urlsafe(32),
            maison_electro_webhook_secret=f"whsec_{webhook_key}",
            operator_token=secrets.token_urlsafe(24),
            relais_direct_push_key=secrets.token_urlsafe(24),
            relais_direct_soap_key=secrets.token_urlsafe(24),
        )

    def environment(self, network: dict[str, Any]) -> dict[str, str]:
        """Each variable the network file names, with this session's value."""
        values = {TOKEN_ENV: self.operator_token}
        for connector in network["connectors"]:
            # A receiver's secrets are under its auth (a transport's at its top level).
            transport = connector.get("transport") or connector["receiver"].get("auth", {})
            partner = connector["partner"]
            if "private_key_env" in transport:
                values[transport["private_key_env"]] = self.sftp_key.private_openssh
            for name in transport.get("header_env", {}).values():
                values[name] = self.techniservice_key
            if "bearer_token_env" in transport:
                values[transport["bearer_token_env"]] = self.colis_express_token
            if "secret_env" in transport and partner == "colis-express":
                values[transport["secret_env"]] = self.colis_express_push_secret
            auth = transport.get("auth", {})
            if auth.get("scheme") == "oauth2-client-credentials" and partner == "elec-distrib":
                values[auth["client_id_env"]], values[auth["client_secret_env"]] = (
                    self.elec_distrib_client
                )
            if "key_env" in transport and partner == "relais-direct":
                values[transport["key_env"]] = self.relais_direct_push_key
            for name in transport.get("item_request", {}).get("body_env", {}).values():
                values[name] = self.relais_direct_soap_key
        for hook in network.get("webhooks", []):
            values[hook["secret_env"]] = self.maison_electro_webhook_secret
        return values


def _point_at_simulators(connector: dict[str, Any], where: Endpoints) -> None:
    transport = connector.get("transport", {})
    partner = connector["partner"]
    kind = transport.get("type")
    if kind == "sftp":
        endpoint = {
            "atelier-dupont": where.atelier_dupont,
            "pieces-plus": where.pieces_plus,
            "alpes-fret": where.alpes_fret,
            "repar-ouest": where.repar_ouest,
        }
        server = endpoint[partner]
        if server is None:
            raise ConfigurationError(f"the demo has no SFTP server for {partner}")
        transport.update(host="127.0.0.1", port=server.port, host_key=server.host_key_fingerprint)
    elif kind == "local-dir" and partner == "alpes-fret" and where.alpes_fret_bookings:
        folder = str(where.alpes_fret_bookings)
        transport.update(path=folder, outbound_dir=folder)
    elif kind in ("http-pull", "http-post"):
        urls = {
            "techniservice": where.techniservice_url,
            "colis-express": where.colis_express_url,
            "elec-distrib": where.elec_distrib_url,
            "relais-direct": where.relais_direct_url,
        }
        transport["base_url"] = urls[partner]
        auth = transport.get("auth")
        if isinstance(auth, dict) and "token_url" in auth:
            # The token endpoint moves with the API (a copy: YAML anchors share the dict).
            path = urlsplit(auth["token_url"]).path
            transport["auth"] = {**auth, "token_url": f"{urls[partner]}{path}"}
    # A story round is two hours: every pull of the story may ask each parcel again.
    connector.pop("min_interval_per_item", None)
    if "schedule" in connector:
        connector["schedule"] = dict(LIVE_SCHEDULE)


_ROUTE_PARTIES = ("retailer", "repairer", "carrier", "supplier")
"""A route's keys naming parties (the others filter cases: service, category)."""


def simulated_only(document: dict[str, Any], production: Path) -> dict[str, Any]:
    """The network file's parts the demo simulates, in the file's order; the rest left out
    (sync routes naming a party left out go too, as the next route then applies).

    A simulated connector missing from the file is an error: the story would wait for
    messages that no connector carries."""
    names = {name for names in SIMULATED_CONNECTORS.values() for name in names}
    parties = {*SIMULATED_CONNECTORS, *SIMULATED_RETAILERS}
    connectors = [c for c in document.get("connectors", []) if c.get("name") in names]
    drops = [d for d in document.get("case_imports", []) if d.get("name") in SIMULATED_DROPS]
    missing = sorted(names - {c["name"] for c in connectors}) + sorted(
        set(SIMULATED_DROPS) - {d["name"] for d in drops}
    )
    if missing:
        raise ConfigurationError(
            f"{production}: the demo simulates {', '.join(missing)}, which the file lacks"
        )
    kept = dict(document)
    kept["parties"] = [
        p for p in document.get("parties", []) if p.get("role") == "hub" or p.get("id") in parties
    ]
    kept["connectors"] = [c for c in connectors if c.get("partner") in parties]
    kept["case_imports"] = drops
    kept["webhooks"] = [
        hook for hook in document.get("webhooks", []) if hook.get("retailer") in SIMULATED_WEBHOOKS
    ]
    if "service_levels" in document:
        kept["service_levels"] = {
            retailer: level
            for retailer, level in document["service_levels"].items()
            if retailer in SIMULATED_RETAILERS
        }
    if "sync" in document:
        sync = dict(document["sync"])
        sync["routes"] = [
            route
            for route in sync.get("routes", [])
            if all(party in parties for key, party in route.items() if key in _ROUTE_PARTIES)
        ]
        kept["sync"] = sync
    return kept


def demo_network(where: Endpoints, production: Path = PRODUCTION_NETWORK) -> dict[str, Any]:
    """The production network's simulated parties as a document, each partner's address
    replaced by its simulator's, each mapping path made absolute, each schedule a few
    seconds."""
    document = yaml.safe_load(production.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ConfigurationError(f"{production}: not a network file")
    document = simulated_only(document, production)
    for connector in document["connectors"]:
        connector["mapping"] = str((production.parent / connector["mapping"]).resolve())
        _point_at_simulators(connector, where)
    for drop in document.get("case_imports", []):
        drop["transport"]["path"] = str(where.bricomarket_drop)
        drop["transport"]["archive_dir"] = str(where.bricomarket_drop / "done")
        drop["schedule"] = dict(LIVE_SCHEDULE)
    for hook in document.get("webhooks", []):
        hook["url"] = where.maison_electro_webhook_url
    if where.plugin_spool is not None:
        _add_plugin_workshop(document, where.plugin_spool)
    return document


def plugin_installed() -> bool:
    """The example plugin's adapters are installed (a development install has them)."""
    return (
        find(AdapterKind.TRANSPORT, "jsonl-spool") is not None
        and find(AdapterKind.CODEC, "keyvalue") is not None
    )


def _add_plugin_workshop(document: dict[str, Any], spool: Path) -> None:
    """The example plugin's party and connector, as its own network file declares them,
    reading the demo's spool folder on the demo's schedule."""
    example = yaml.safe_load((EXAMPLE_PLUGIN / "connectors.yaml").read_text(encoding="utf-8"))
    document["parties"] = [*document.get("parties", []), *example["parties"]]
    for connector in example["connectors"]:
        connector["mapping"] = str((EXAMPLE_PLUGIN / connector["mapping"]).resolve())
        connector["transport"]["folder"] = str(spool)
        connector["schedule"] = dict(LIVE_SCHEDULE)
        document["connectors"].append(connector)


def write_network(folder: Path, document: dict[str, Any]) -> Path:
    """The demo's network file, in the demo's working folder (no secret in it)."""
    path = folder / "connectors.yaml"
    header = "# Written by `hub demo` for this session: the simulators' loopback addresses.\n"
    path.write_text(header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return path


def export_secrets(values: dict[str, str]) -> None:
    """Into this process's environment, where connectors read their secrets."""
    os.environ.update(values)
