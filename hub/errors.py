"""The hub's one error hierarchy, grouped by what the caller must do next.

Every transport, codec, mapping and service raises one of these four families, so a
connector run can decide mechanically: fix the configuration, retry later, reject the
record and go on, or stop the run. Messages never carry secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NextAction(StrEnum):
    """What an operator or the engine must do about an error."""

    FIX_CONFIGURATION = "fix_configuration"
    RETRY = "retry"
    REJECT_RECORD = "reject_record"
    STOP_RUN = "stop_run"


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    action: NextAction = NextAction.STOP_RUN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(HubError):
    """The configuration is wrong: retrying cannot help until someone fixes it.

    ``setting`` is where the wrong value sits inside the settings being checked (a
    codec's ``("fields", "code")``), so that the caller can name the file's line.
    """

    action = NextAction.FIX_CONFIGURATION

    def __init__(self, message: str, *, setting: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.setting = setting


class TransientError(HubError):
    """A passing fault (network, rate limit, maintenance): retry with backoff."""

    action = NextAction.RETRY

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutboundNameTaken(TransientError):
    """A file of that name already waits at the partner. It is never overwritten: the
    message goes out again later, under the name rendered then."""


class WritersDeadlocked(TransientError):
    """PostgreSQL failed a unit of work twice to break a deadlock with other writers
    (they locked the same rows in another order): nothing of it was written, and the
    work is done again later (a file stays unread, for the next run)."""


class FatalError(HubError):
    """Something that must stop the run and be seen by an operator."""

    action = NextAction.STOP_RUN


class UnitInsideUnit(FatalError):
    """A unit of work was opened while this thread had another open on the same database:
    a mistake in the code, not a passing fault. Left to run, the inner unit would wait for
    the outer one's locks, which are only released once it returns (SQLite's writer lock,
    for the whole busy timeout; PostgreSQL's row locks, for ever)."""


@dataclass(frozen=True)
class Location:
    """Where a piece of partner data sits: file (or message), line, field."""

    source: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f", line {self.line}"
        if self.field is not None:
            where += f", field {self.field!r}"
        return where


class PartnerDataError(HubError):
    """One record is bad: reject it with where and why, and go on with the rest."""

    action = NextAction.REJECT_RECORD

    def __init__(self, reason: str, *, location: Location, raw: str | None = None) -> None:
        super().__init__(f"{location}: {reason}")
        self.reason = reason
        self.location = location
        self.raw = raw


class ModelError(HubError):
    """Data that breaks a rule of the canonical model (bad status, naive time, ...)."""

    action = NextAction.REJECT_RECORD


class NotFoundError(HubError):
    """The object asked for does not exist (or is not visible to the caller)."""

    action = NextAction.STOP_RUN


class ConflictError(HubError):
    """The object exists already with different content."""

    action = NextAction.STOP_RUN


class CursorExpired(HubError):
    """The partner no longer knows our cursor (TechniService's 410 Gone): re-synchronise
    every open object one by one, then page again from the start."""

    action = NextAction.RETRY
