"""The flags an operator sees beside a connector, worked out from its figures whenever
someone looks (hub.partners.alerts): kept apart from the pausing, which writes, so that
`hub status` reads them without loading the store's writing side (issue 17)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Thresholds", "flags_for"]


class Thresholds(Protocol):
    """The ``alerting:`` thresholds: the validated spec (hub.config.alerting) and the
    network's outline (hub.partners.network_outline.AlertingPolicy) both are."""

    @property
    def flag_after_failures(self) -> int: ...
    @property
    def unmapped_codes_over(self) -> int: ...
    @property
    def rejects_over(self) -> int: ...
    @property
    def file_warnings_over(self) -> int: ...


def flags_for(
    policy: Thresholds,
    *,
    consecutive_failures: int,
    unmapped_codes: int,
    last_run_rejected: int,
    file_warnings: int = 0,
) -> tuple[str, ...]:
    """The plain sentences an operator sees beside the connector.

    ``file_warnings`` (a sequence gap between two files: one lost at the partner's end)
    stay flagged until an operator acknowledges them (``hub warnings --ack``), since
    only a person can ask the partner for the lost file.
    """
    flags: list[str] = []
    if consecutive_failures >= policy.flag_after_failures:
        flags.append(f"{consecutive_failures} failed runs in a row")
    if unmapped_codes > policy.unmapped_codes_over:
        flags.append(f"{unmapped_codes} unmapped code{'s' if unmapped_codes != 1 else ''}")
    if last_run_rejected > policy.rejects_over:
        plural = "s" if last_run_rejected != 1 else ""
        flags.append(f"{last_run_rejected} rejected row{plural} in the last run")
    if file_warnings > policy.file_warnings_over:
        plural = "s" if file_warnings != 1 else ""
        flags.append(f"{file_warnings} file warning{plural} (sequence) to acknowledge")
    return tuple(flags)
