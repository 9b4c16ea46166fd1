"""`hub retention [--dry-run]`: what of each kind of data is past its period
(``retention:`` in connectors.yaml) and removing it now; `hub cases erase REF`: erase a
case's personal data as the retailer API does, for a request that came another way."""

from pathlib import Path
from typing import Annotated

import typer

from commands.common import (
    DatabaseOption,
    JsonOption,
    NetworkOption,
    at,
    case_reference,
    network_to_read,
    open_database,
    open_plain,
    out,
    outline_to_read,
    write_json,
)

# What a command uses is imported in its body, so that `hub --help` starts fast.


def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go, per kind; remove nothing.")
    ] = False,
    database: DatabaseOption = None,
    network: NetworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the retention periods now (the scheduled job does it every hour), or say
    with --dry-run what would go: counts per kind and the oldest row kept."""
    if not dry_run:
        _apply(database, network, as_json)
        return
    from datetime import UTC, datetime

    from rich.table import Table

    from hub.operators.retention_plan import plan_of
    from hub.store.plain_reads import retention_reads

    with open_plain(database) as store:  # reads only: no SQLAlchemy (issue 17)
        periods = outline_to_read(network)  # the kept outline's periods: no pydantic
        with retention_reads(store) as reads:
            plans = plan_of(reads, periods, datetime.now(UTC))
    if as_json:
        for plan in plans:
            write_json(
                {
                    "kind": plan.kind,
                    "period_days": None if plan.period is None else plan.period.days,
                    "would_go": plan.due,
                    "oldest_kept": None
                    if plan.oldest_kept is None
                    else plan.oldest_kept.isoformat(),
                }
            )
        return
    table = Table("kind", "kept for", "would go", "oldest kept")
    for plan in plans:
        period = "forever" if plan.period is None else f"{plan.period.days} days"
        table.add_row(plan.kind, period, str(plan.due), at(plan.oldest_kept))
    out.print(table)


def _apply(database: str | None, network: Path | None, as_json: bool) -> None:
    """Remove what is due now, on the `Database` (it writes)."""
    from hub.operators.retention import apply_retention

    db = open_database(database)
    spec = network_to_read(network).config.retention
    result = apply_retention(db, spec)
    if as_json:
        write_json(
            {
                "removed": result.removed,
                "anonymised": result.anonymised,
                "finished_erasures": result.finished_erasures,
                "complete": result.complete,
            }
        )
        return
    for kind, count in result.removed.items():
        out.print(f"{kind}: {count} removed")
    out.print(f"closed cases anonymised: {len(result.anonymised)}")
    if result.finished_erasures:
        out.print(f"unfinished erasures finished: {', '.join(result.finished_erasures)}")


def erase(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    by: Annotated[
        str, typer.Option("--by", help="Who asks (recorded with the erasure), e.g. a ticket.")
    ],
    database: DatabaseOption = None,
) -> None:
    """Erase the customer's personal data from a case (idempotent), as
    POST /v1/cases/{ref}/erasure does for a retailer."""
    from hub.retailers.erasure import erase_case

    db = open_database(database)
    reference = case_reference(db, reference)
    result = erase_case(db, reference, by=f"operator:{by}")
    if result.already:
        out.print(
            f"case {reference}: personal data already erased on {at(result.completed_at)} "
            f"(asked by {result.requested_by})",
            markup=False,
        )
        return
    out.print(
        f"case {reference}: personal data erased ({result.rows_masked} rows masked)",
        markup=False,
    )
