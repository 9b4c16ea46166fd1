"""Relais Direct simulator: the relay carrier's SOAP tracking service and its XML pushes.

It follows ``docs/partners/relais-direct.md``. The tracking service answers
``POST /ws/SuiviColis`` (SOAP 1.1, one parcel per call, our key in ``rd:Cle``), at most
``rate_limit`` calls a second: over that a SOAP Fault ``rd:QUOTA`` with HTTP 500 and no
Retry-After; an unknown parcel is the Fault ``rd:COLIS_INCONNU``, a wrong key ``rd:CLE``.

The pusher POSTs batches (``<Evenements lot="...">``, ISO-8859-1) to the hub with the
key in ``X-RD-Cle`` and reads the XML acknowledgement: ``statut="OK"`` for this ``lot``
ends the batch; ``statut="KO"`` too (the carrier stops and opens a ticket at its
support); anything else (another status, no answer, no acknowledgement) is retried
every ``retry_every`` seconds for ``retry_for`` seconds, then given up. A batch may be
*lost* (``lose_next`` / ``lose_rate``): never sent, as when their push fails silently;
only the tracking pull finds its events. Pushes go out only when asked
(:meth:`RelaisDirectSimulator.push_pending`), so tests and the demo decide when.

Manual run: ``python -m simulators.relais_direct --port 8086 --push-url URL --key K``.
"""

from __future__ import annotations

import hmac
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import httpx
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.server import (
    Clock,
    RateLimiter,
    Simulator,
    foreground_parser,
    listen_options,
)

PARIS = ZoneInfo("Europe/Paris")
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
RD_NS = "urn:relaisdirect:suivi:1"
SOAP_ACTION = '"urn:relaisdirect:suivi:1#SuiviColis"'
LABELS = {
    "PEC": "Colis pris en charge",
    "TRA": "Colis en transit",
    "DEP": "Colis disponible en relais",
    "REM": "Colis remis",
    "EXP": "Délai de retrait dépassé, retour expéditeur",
    "RET": "Colis retourné à l'expéditeur",
    "INC": "Incident",
}
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class Relay:
    """A relay point: its id, name, postcode and city."""

    id: str
    name: str
    postcode: str
    city: str


@dataclass(frozen=True)
class Evt:
    """One event of a parcel, as the carrier keeps it."""

    code: str
    at: datetime
    relay: Relay | None = None
    label: str | None = None
    signatory: str | None = None


@dataclass
class Parcel:
    number: str
    ref_client: str | None
    events: list[Evt] = field(default_factory=list)


@dataclass
class Batch:
    """A batch to push: its lot, its events (with their parcels) and its retry state."""

    lot: str
    events: list[tuple[Parcel, Evt]]
    first_at: float
    next_at: float
    attempts: int = 0


@dataclass(frozen=True)
class PushAttempt:
    """One POST of a batch: the answer's status and acknowledgement (None: no answer)."""

    lot: str
    attempt: int
    status: int | None
    acknowledgement: str | None
    error: str | None = None


@dataclass
class PushRun:
    """What one :meth:`RelaisDirectSimulator.push_pending` call did, by lot."""

    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Answered KO: retries stop, a ticket is opened at their support."""
    retrying: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    attempts: list[PushAttempt] = field(default_factory=list)


def batch_body(lot: str, events: Sequence[tuple[Parcel, Evt]], emitted: datetime) -> bytes:
    """The ``<Evenements>`` document of a batch, ISO-8859-1 as its prolog says."""
    lines = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        f"<Evenements lot={quoteattr(lot)} emis={quoteattr(emitted.isoformat())}>",
    ]
    for parcel, event in events:
        local = event.at.astimezone(PARIS)
        lines.append("  <Evenement>")
        lines.append(f"    <NumColis>{escape(parcel.number)}</NumColis>")
        if parcel.ref_client:
            lines.append(f"    <RefClient>{escape(parcel.ref_client)}</RefClient>")
        lines.append(f"    <Code>{escape(event.code)}</Code>")
        if event.signatory:
            lines.append(f"    <Signataire>{escape(event.signatory)}</Signataire>")
        label = event.label or LABELS.get(event.code, event.code)
        lines.append(f"    <Libelle>{escape(label)}</Libelle>")
        lines.append(f"    <Date>{local:%d/%m/%Y}</Date><Heure>{local:%H:%M}</Heure>")
        if event.relay is not None:
            relay = event.relay
            lines.append(
                f"    <Relais id={quoteattr(relay.id)}><Nom>{escape(relay.name)}</Nom>"
                f"<CP>{escape(relay.postcode)}</CP><Ville>{escape(relay.city)}</Ville></Relais>"
            )
        lines.append("  </Evenement>")
    lines.append("</Evenements>")
    return ("\n".join(lines) + "\n").encode("iso-8859-1", errors="xmlcharrefreplace")


def soap_fault(code: str, text: str) -> Response:
    """A SOAP 1.1 Fault, HTTP 500 as SOAP 1.1 wants, and no Retry-After."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP_NS}" '
        f'xmlns:rd="{RD_NS}"><soap:Body><soap:Fault><faultcode>{escape(code)}</faultcode>'
        f"<faultstring>{escape(text)}</faultstring></soap:Fault></soap:Body></soap:Envelope>\n"
    )
    return Response(body.encode("utf-8"), 500, media_type="text/xml; charset=utf-8")


def tracking_answer(parcel: Parcel) -> bytes:
    """The ``SuiviColisReponse`` of one parcel, every event in the order they happened."""
    ref = f" refClient={quoteattr(parcel.ref_client)}" if parcel.ref_client else ""
    events = []
    for event in sorted(parcel.events, key=lambda e: e.at):
        relay = f" relais={quoteattr(event.relay.id)}" if event.relay is not None else ""
        at = event.at.astimezone(PARIS).isoformat(timespec="seconds")
        events.append(f'      <rd:Evt code={quoteattr(event.code)} horodatage="{at}"{relay}/>')
    body = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:rd="{RD_NS}">',
            "  <soap:Body><rd:SuiviColisReponse>",
            f"    <rd:Colis num={quoteattr(parcel.number)}{ref}>",
            *events,
            "    </rd:Colis>",
            "  </rd:SuiviColisReponse></soap:Body>",
            "</soap:Envelope>",
            "",
        ]
    )
    return body.encode("utf-8")


def _parsed(content: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(content, parser)


class RelaisDirectSimulator(Simulator):
    """Relais Direct on loopback: the SOAP tracking service, and a pusher of batches.

    Switches: ``key`` (what ``rd:Cle`` must be), ``push_key`` (what the pusher sends in
    ``X-RD-Cle``), ``rate_limit`` (5 calls a second; None for none), ``lose_next`` (the
    next N batches are lost), ``lose_rate`` (a seeded share of batches lost).
    """

    def __init__(
        self,
        *,
        key: str = "rd-test-key",
        push_url: str | None = None,
        push_key: str | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        rate_limit: int | None = 5,
        retry_every: float = 15 * 60,
        retry_for: float = 6 * 3600,
        push_timeout: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.key = key
        self.push_url = push_url
        self.push_key = push_key if push_key is not None else key
        self.rate_limiter = RateLimiter(rate_limit)
        self.retry_every = retry_every
        self.retry_for = retry_for
        self.push_timeout = push_timeout
        self.lose_next = 0
        self.lose_rate = 0.0
        self.garble_next = 0
        """The next N batches go out cut short (a bug at the carrier): never storable."""
        # Not for secrets: seeded generators make numbers and losses reproducible.
        self._random = random.Random(seed)  # noqa: S311
        self._lose_random = random.Random(f"{seed}:lose")  # noqa: S311
        self._parcels: dict[str, Parcel] = {}
        self._pending: list[tuple[Parcel, Evt]] = []
        self._batches: list[Batch] = []
        self._lots = 0
        self._delivery_lock = threading.Lock()
        self.tickets: list[tuple[str, str]] = []
        """(lot, motif) of every batch answered KO: a ticket at the carrier's support."""
        self.attempts: list[PushAttempt] = []
        self.lost: list[str] = []

    # -- driving state -----------------------------------------------------------------

    def add_parcel(self, ref_client: str | None = None, number: str | None = None) -> str:
        """A parcel taken at a counter (no RefClient) or booked with the case's reference."""
        with self._lock:
            if number is None:
                number = f"RD{self._random.randrange(10**8):08d}"
                while number in self._parcels:
                    number = f"RD{self._random.randrange(10**8):08d}"
            elif number in self._parcels:
                raise ValueError(f"parcel {number} exists already")
            self._parcels[number] = Parcel(number, ref_client)
            return number

    def add_event(
        self,
        number: str,
        code: str,
        at: datetime,
        *,
        relay: Relay | None = None,
        label: str | None = None,
        signatory: str | None = None,
    ) -> Evt:
        """An event of the parcel, queued for the next push (times to the minute)."""
        event = Evt(code, at.replace(second=0, microsecond=0), relay, label, signatory)
        with self._lock:
            parcel = self._parcels[number]
            parcel.events.append(event)
            self._pending.append((parcel, event))
        return event

    def forget_parcel(self, number: str) -> None:
        """The carrier purges a parcel: its tracking now answers rd:COLIS_INCONNU."""
        with self._lock:
            del self._parcels[number]

    def parcel(self, number: str) -> Parcel:
        with self._lock:
            return self._parcels[number]

    def parcels(self) -> list[Parcel]:
        with self._lock:
            return list(self._parcels.values())

    # -- pushing -----------------------------------------------------------------------

    def _new_lot(self, now: float) -> str:
        self._lots += 1
        return f"RD-{datetime.fromtimestamp(now, PARIS):%Y%m%d}-{self._lots:06d}"

    def push_pending(self, client: httpx.Client | None = None) -> PushRun:
        """Push what is queued as one batch, and retry the batches that are due; a batch
        may be lost (then never sent). Synchronous: returns what happened."""
        url = self.push_url
        if url is None:
            raise RuntimeError("no push_url configured")
        run = PushRun()
        now = self.clock()
        with self._delivery_lock:
            with self._lock:
                events, self._pending = self._pending, []
                if events:
                    batch = Batch(self._new_lot(now), events, now, now)
                    lose = self.lose_next > 0 or (
                        self.lose_rate > 0 and self._lose_random.random() < self.lose_rate
                    )
                    if lose:
                        self.lose_next = max(0, self.lose_next - 1)
                        self.lost.append(batch.lot)
                        run.lost.append(batch.lot)
                    else:
                        self._batches.append(batch)
                due = [batch for batch in self._batches if batch.next_at <= now]
            owned = client is None
            client = client or httpx.Client(timeout=self.push_timeout)
            try:
                for batch in due:
                    self._deliver(client, url, batch, now, run)
            finally:
                if owned:
                    client.close()
        return run

    def _deliver(
        self, client: httpx.Client, url: str, batch: Batch, now: float, run: PushRun
    ) -> None:
        batch.attempts += 1
        body = batch_body(batch.lot, batch.events, datetime.fromtimestamp(now, PARIS))
        with self._lock:
            if self.garble_next > 0:
                self.garble_next -= 1
                body = body[: len(body) // 2]
        headers = {"Content-Type": "text/xml; charset=ISO-8859-1", "X-RD-Cle": self.push_key}
        status: int | None = None
        statut: str | None = None
        motif = ""
        error: str | None = None
        try:
            answer = client.post(url, content=body, headers=headers)
            status = answer.status_code
            if status == 200:
                statut, motif = self._acknowledgement(answer.content, batch.lot)
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        attempt = PushAttempt(batch.lot, batch.attempts, status, statut, error)
        run.attempts.append(attempt)
        with self._lock:
            self.attempts.append(attempt)
            if statut in ("OK", "KO"):
                self._batches.remove(batch)
                if statut == "OK":
                    run.acknowledged.append(batch.lot)
                else:
                    run.refused.append(batch.lot)
                    self.tickets.append((batch.lot, motif))
            elif now + self.retry_every - batch.first_at > self.retry_for:
                self._batches.remove(batch)
                run.given_up.append(batch.lot)
            else:
                batch.next_at = now + self.retry_every
                run.retrying.append(batch.lot)

    @staticmethod
    def _acknowledgement(content: bytes, lot: str) -> tuple[str | None, str]:
        """The acknowledgement's statut and motif, when it is one for this lot."""
        try:
            root = _parsed(content)
        except etree.XMLSyntaxError:
            return None, ""
        if root.tag != "Acquittement":
            return None, ""
        statut = root.get("statut")
        # A KO for a batch whose lot could not be read says so with an empty lot.
        if root.get("lot") != lot and not (statut == "KO" and not root.get("lot")):
            return None, ""
        return statut, root.get("motif", "")

    def retrying(self) -> list[str]:
        """Lots still waiting for an acknowledgement."""
        with self._lock:
            return [batch.lot for batch in self._batches]

    # -- HTTP --------------------------------------------------------------------------

    async def _suivi(self, request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_REQUEST_BYTES:
            return soap_fault("soap:Client", "Requête trop grande")
        if request.headers.get("soapaction") != SOAP_ACTION:
            return soap_fault("soap:Client", "SOAPAction attendue : " + SOAP_ACTION)
        if not request.headers.get("content-type", "").startswith("text/xml"):
            return soap_fault("soap:Client", "Content-Type text/xml attendu")
        try:
            root = _parsed(raw)
        except etree.XMLSyntaxError:
            return soap_fault("soap:Client", "XML illisible")
        ns = {"soap": SOAP_NS, "rd": RD_NS}
        key = "".join(
            root.xpath("string(/soap:Envelope/soap:Body/rd:SuiviColis/rd:Cle)", namespaces=ns)
        )
        number = "".join(
            root.xpath("string(/soap:Envelope/soap:Body/rd:SuiviColis/rd:NumColis)", namespaces=ns)
        )
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            return soap_fault("rd:CLE", "Clé client invalide")
        if self.rate_limiter.check(self.clock()) is not None:
            return soap_fault("rd:QUOTA", "Quota dépassé : 5 appels par seconde au plus")
        with self._lock:
            parcel = self._parcels.get(number)
            content = None if parcel is None else tracking_answer(parcel)
        if content is None:
            return soap_fault("rd:COLIS_INCONNU", f"Colis {number} inconnu")
        return Response(content, 200, media_type="text/xml; charset=utf-8")

    def build_app(self) -> ASGIApp:
        return Starlette(routes=[Route("/ws/SuiviColis", self._suivi, methods=["POST"])])


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.relais_direct``: serve the tracking service in the foreground."""
    parser = foreground_parser("Relais Direct", port=8086, rate_limit=5)
    parser.add_argument("--key", default="rd-demo-key")
    arguments = parser.parse_args(argv)
    simulator = RelaisDirectSimulator(key=arguments.key, **listen_options(arguments))
    if not arguments.empty:
        number = simulator.add_parcel("ME-000123", "RD00458712")
        relay = Relay("R0452", "Tabac de la Gare", "69003", "LYON")
        at = datetime(2026, 11, 3, 10, 12, tzinfo=PARIS)
        simulator.add_event(number, "PEC", at, relay=relay)
        simulator.add_event(number, "TRA", datetime(2026, 11, 3, 21, 30, tzinfo=PARIS))
        simulator.add_event(number, "DEP", datetime(2026, 11, 4, 18, 2, tzinfo=PARIS), relay=relay)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
