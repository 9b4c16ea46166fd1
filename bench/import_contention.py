"""A 10,000-row CSV import against a real `hub serve-api`, and what others see meanwhile.

Starts `hub serve-api` as its own process on a scratch SQLite file (and PostgreSQL when a
URL is given), posts a generated 10,000-row case import, and while it runs times a signed
partner push and another retailer's `GET /v1/cases/{ref}` every half second. Prints the
import's rows per second and the slowest push and read, so a lock held by the import
shows up as seconds (or 503s) here.

    .venv/bin/python bench/import_contention.py [--rows 10000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import private_postgres
from hub.model import Case
from hub.model.parties import Party, PartyRole
from hub.retailers.tenants import add_retailer
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from simulators.colis_express import push_network, sign_push
from simulators.server import free_port

SECRET = "bench-push-secret"
READ_CASE = {
    "reference": "ME-000001",
    "product": {"brand": "Seb", "model": "Actifry"},
    "coverage": "none",
    "service": "workshop_repair",
    "fault": "Panne",
    "customer": {"name": "Julie Martin"},
    "opened_at": "2026-10-28T09:40:00+01:00",
}
"""The case the other retailer reads; its key is first used during the import."""
HEADER = "reference,opened_at,brand,model,serial_number,coverage,service,fault,customer_name\n"


def csv_file(rows: int) -> bytes:
    lines = [HEADER]
    for number in range(1, rows + 1):
        lines.append(
            f"BM-{number:06d},2026-10-28T09:40:00+01:00,Liebherr,CNd 5203,SN{number:08d},"
            f'none,workshop_repair,"Ne refroidit plus, ligne {number}",Client {number}\n'
        )
    return "".join(lines).encode()


def network_file(folder: Path) -> Path:
    return push_network(folder, ROOT / "mappings" / "colis-express.yaml", "BENCH_CE_PUSH_SECRET")


@dataclass
class Probe:
    """What a request made while the import ran got: (seconds, status) each."""

    pushes: list[tuple[float, int]] = field(default_factory=list)
    reads: list[tuple[float, int]] = field(default_factory=list)


def timed(call: httpx.Client, method: str, url: str, **kwargs: object) -> tuple[float, int]:
    started = time.monotonic()
    try:
        status = call.request(method, url, timeout=60, **kwargs).status_code  # type: ignore[arg-type]
    except httpx.TimeoutException:
        status = 0
    return time.monotonic() - started, status


def pushes(base: str, done: threading.Event, found: Probe) -> None:
    """A signed push every half second until the import has answered."""
    with httpx.Client() as client:
        number = 0
        while not done.is_set():
            number += 1
            body = json.dumps(
                {
                    "id": f"ev_{number}",
                    "code": "PCH",
                    "at": "2026-11-02T17:31:00+01:00",
                    "tracking_number": f"CE{number:09d}FR",
                    "reference": "ME-000001",
                }
            ).encode()
            stamp = str(int(time.time()))
            headers = {"X-CE-Timestamp": stamp, "X-CE-Signature": sign_push(SECRET, stamp, body)}
            url = f"{base}/partners/ce-push/events"
            found.pushes.append(timed(client, "POST", url, content=body, headers=headers))
            done.wait(0.5)


def reads(base: str, token: str, done: threading.Event, found: Probe) -> None:
    """The other retailer reads its case every half second until the import has answered.

    Its key is first used a second into the import, so the read records the key's use
    (a write) as any key unused for a minute does."""
    done.wait(1.0)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        while not done.is_set():
            found.reads.append(timed(client, "GET", f"{base}/v1/cases/ME-000001"))
            done.wait(0.5)


def run(url: str, rows: int, folder: Path) -> None:
    database = Database(url)
    upgrade(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="colis-express", role=PartyRole.CARRIER, name="CE"))
        _, bm_key = add_retailer(connection, name="BricoMarket", case_prefix="BM-")
        me, me_key = add_retailer(connection, name="Maison Electro", case_prefix="ME-")
        open_case(connection, Case.model_validate(READ_CASE | {"retailer": me.id}))
    database.dispose()
    port = free_port()
    env = dict(os.environ, BENCH_CE_PUSH_SECRET=SECRET)
    command = [sys.executable, str(ROOT / "cli.py"), "serve-api", "--database", url]
    command += ["--port", str(port), "--network", str(network_file(folder))]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("serve-api did not start") from None
                time.sleep(0.1)
        content = csv_file(rows)
        done, found = threading.Event(), Probe()
        watchers = [
            threading.Thread(target=pushes, args=(base, done, found)),
            threading.Thread(target=reads, args=(base, me_key.token, done, found)),
        ]
        started = time.monotonic()
        for watcher in watchers:
            watcher.start()
        answer = httpx.post(
            f"{base}/v1/cases/import",
            files={"file": ("bench.csv", content, "text/csv")},
            headers={"Authorization": f"Bearer {bm_key.token}"},
            timeout=600,
        )
        elapsed = time.monotonic() - started
        done.set()
        for watcher in watchers:
            watcher.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    report = answer.json()
    print(f"  import: HTTP {answer.status_code}, {rows} rows in {elapsed:.1f} s")
    print(f"          {rows / elapsed:.0f} rows/s, created {report.get('created')}")
    for name, samples in (("push", found.pushes), ("read", found.reads)):
        slowest = max(seconds for seconds, _ in samples)
        statuses = sorted({status for _, status in samples})
        print(f"  {name}: {len(samples)} during the import, slowest {slowest:.2f} s, {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if not args.skip_sqlite:
            print("SQLite")
            run(f"sqlite:///{folder / 'bench.db'}", args.rows, folder)
        if args.postgres_url:
            url, version = stack.enter_context(private_postgres(args.postgres_url))
            print(f"PostgreSQL {version}")
            run(url, args.rows, folder)


if __name__ == "__main__":
    main()
