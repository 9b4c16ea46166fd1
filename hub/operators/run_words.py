"""Connector names and a run's outcome in words, for the console and the CLI alike
(hub.operators.listings gives them too): kept apart from the listings' store reads so
that a command reading through hub.store.plain loads no SQLAlchemy (issue 17)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from hub.errors import NotFoundError
from hub.store.run_rows import RunOutcome

if TYPE_CHECKING:
    from hub.store.run_rows import RunRecord

__all__ = ["Names", "known_names", "outcome_text", "require_known"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Names(Protocol):
    """What names the connectors and drop folders: the validated network
    (hub.config.network.NetworkConfig) or its outline (hub.partners.network_outline)."""

    @property
    def connectors(self) -> Sequence[_Named]: ...
    @property
    def case_imports(self) -> Sequence[_Named]: ...


def known_names(config: Names) -> list[str]:
    """Every connector and drop folder name, in the order of connectors.yaml."""
    return [spec.name for spec in config.connectors] + [d.name for d in config.case_imports]


def require_known(config: Names, name: str) -> None:
    """A clear error for a name connectors.yaml does not have, listing those it does."""
    names = known_names(config)
    if name not in names:
        raise NotFoundError(f"no connector named {name!r} (known: {', '.join(names) or 'none'})")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def outcome_text(run: RunRecord) -> str:
    """How a run ended, said whole: "succeeded with 3 rejects", never a bare
    "succeeded" for a run that left records out."""
    if run.outcome is not RunOutcome.SUCCEEDED:
        return run.outcome.value
    counts = run.counts
    caveats = []
    if counts.rejected:
        caveats.append(_plural(counts.rejected, "reject"))
    if counts.unmapped:
        caveats.append(f"{counts.unmapped} unmapped")
    if caveats:
        return "succeeded with " + " and ".join(caveats)
    if not counts.messages_read and not counts.events_stored:
        return "nothing new"
    return "succeeded"
