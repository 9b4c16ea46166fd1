"""The ``retention:`` section of connectors.yaml: how long each kind of data the hub
accumulates is kept, and when closed cases lose their customer's personal data. Only
its shape; ``hub.operators.retention`` applies it (the scheduled job, `hub retention`).

Every period is a duration (``90d``, ``12h``) or ``null`` to keep that kind forever.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from hub.config.connector_spec import Duration, parse_duration

_NOT_PERIODS = frozenset({"every", "batch_size"})
"""The section's settings that are not a kind's period: the job's own."""


class RetentionSpec(BaseModel):
    """How long the hub keeps what it accumulates (connectors.yaml, ``retention:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    raw_archive: Duration | None = Field(
        default="180d",
        description="The bytes of archived messages, after which only their name, hash and "
        "size stay (so the same file sent again is still recognised). Kept longer while "
        "the hub still needs them: rejected lines, unmapped codes, events waiting for "
        "their case, an acknowledgement owed or a file not moved yet.",
    )
    closed_case_events: Duration | None = Field(
        default="730d",
        description="Events of cases closed (a final status) for this long, but the one "
        "that gives the case its status; never while the case has a message pending.",
    )
    delivered_outbox: Duration | None = Field(
        default="30d",
        description="Outbox messages delivered (or discarded by an operator) this long ago; "
        "pending and dead messages are never removed.",
    )
    run_records: Duration | None = Field(
        default="90d",
        description="Connector run records, but each connector's last run and last "
        "successful run (its status and lag are read from them).",
    )
    rejects: Duration | None = Field(default="180d", description="Rejected lines.")
    file_warnings: Duration | None = Field(
        default="180d",
        description="Warnings about files that still went in (a sequence gap) that an "
        "operator has acknowledged; one not yet acknowledged stays, as it flags its connector.",
    )
    acknowledgements: Duration | None = Field(
        default="90d",
        description="Acknowledgements put to partners this long ago (those still owed stay), "
        "but each connector's last one, which numbers the next.",
    )
    anonymise_closed_cases_after: Duration | None = Field(
        default="1095d",
        description="Erase the customer's personal data from cases closed this long ago "
        "(as the erasure API does); null: never.",
    )
    every: Duration = Field(default="1h", description="How often the retention job runs.")
    batch_size: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Rows removed per transaction: small enough never to hold SQLite's "
        "one writer long.",
    )

    def written_periods(self) -> tuple[tuple[str, str | None], ...]:
        """Each kind's period as connectors.yaml writes it (None: forever), for the
        network's outline, which the dry run reads without pydantic (issue 17)."""
        return tuple(
            (kind, getattr(self, kind))
            for kind in type(self).model_fields
            if kind not in _NOT_PERIODS
        )

    def period(self, kind: str) -> timedelta | None:
        """The period of a kind (a field name), None to keep it forever."""
        value = getattr(self, kind)
        return None if value is None else parse_duration(value)
