"""When a partner's file is complete, shared by the file transports (SFTP, local folder).

Partners signal it in one of three ways: an empty marker file written after the data
(`<name>.done`, or the same stem with another extension), a temporary suffix dropped by
a final rename (`.tmp`), or nothing at all, when only a size that stopped changing tells.
A file read before then may be half written, so a transport lists only complete files.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.connector_spec import Duration, parse_duration

__all__ = ["CompleteWhen", "CompletionWatch", "ListedFile", "Listing"]

_PLACEHOLDERS = frozenset({"name", "stem"})


class CompleteWhen(BaseModel):
    """What tells that a partner has finished writing a file (any combination applies)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="complete_when")

    marker: str | None = Field(
        default=None,
        description="The name of the marker file written once the data file is complete: "
        "'{name}.done' (the whole name plus .done) or '{stem}.ok' (the name without its "
        "last extension, plus .ok). The marker moves (or is deleted) with its file.",
        examples=["{name}.done", "{stem}.ok"],
    )
    partial_suffix: list[str] = Field(
        default_factory=list,
        description="Names ending so are still being written (added to partial_suffixes).",
        examples=[[".tmp"]],
    )
    stable_for: Duration | None = Field(
        default=None,
        description="A file is complete once its size and time have not changed for this "
        "long between two listings (a listing waits at most this long once).",
    )

    @field_validator("partial_suffix", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("partial_suffix")
    @classmethod
    def _no_empty_suffix(cls, value: list[str]) -> list[str]:
        if any(not suffix for suffix in value):
            raise ValueError("an empty suffix would hide every file")
        return value

    @field_validator("marker")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
        if not fields:
            raise ValueError("the marker must name its file with {name} or {stem}")
        unknown = fields - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}: use {{name}} or {{stem}}")
        if "/" in value:
            raise ValueError("the marker must be a plain name in the same directory")
        return value

    @property
    def stable_seconds(self) -> float:
        return 0.0 if self.stable_for is None else parse_duration(self.stable_for).total_seconds()

    def marker_for(self, name: str) -> str | None:
        """The marker that completes `name`, or None when markers are not used."""
        if self.marker is None:
            return None
        stem, dot, _ = name.rpartition(".")
        return self.marker.format(name=name, stem=stem if dot and stem else name)


@dataclass(frozen=True)
class ListedFile:
    """One regular file of a listing, as much as completeness needs of it."""

    name: str
    size: int | None
    mtime: float | None


@dataclass(frozen=True)
class Listing:
    """The files that match the pattern, and every name in the directory (markers too)."""

    files: Sequence[ListedFile]
    names: frozenset[str]


class CompletionWatch:
    """Applies one `CompleteWhen` to successive listings of one directory.

    Holds the sizes seen at earlier listings, so a transport kept between runs lists a
    stable file without waiting; a fresh one waits once for `stable_for`.
    """

    def __init__(
        self,
        rule: CompleteWhen | None,
        partial_suffixes: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rule = rule or CompleteWhen()
        self._partial = tuple(partial_suffixes) + tuple(self.rule.partial_suffix)
        self._stable_for = self.rule.stable_seconds
        self._clock = clock
        self._sleep = sleep
        self._seen: dict[str, tuple[int | None, float | None, float]] = {}

    def marker_for(self, name: str) -> str | None:
        """The marker to move or delete with `name` once it is stored."""
        marker = self.rule.marker_for(name)
        return None if marker == name else marker

    def complete(self, listing: Callable[[], Listing]) -> list[ListedFile]:
        """The complete files, by name; lists a second time when sizes must be compared."""
        ready, wait = self._assess(listing())
        if wait > 0:
            self._sleep(wait)
            ready, _ = self._assess(listing())
        return sorted(ready, key=lambda file: file.name)

    def _assess(self, listing: Listing) -> tuple[list[ListedFile], float]:
        names = listing.names
        markers = {
            marker for name in names if (marker := self.marker_for(name)) and marker in names
        }
        ready: list[ListedFile] = []
        wait = 0.0
        now = self._clock()
        for file in listing.files:
            if file.name.endswith(self._partial) or file.name in markers:
                continue
            if self.rule.marker is not None and self.marker_for(file.name) not in names:
                continue
            remaining = self._remaining(file, now)
            if remaining > 0:
                wait = max(wait, remaining)
                continue
            ready.append(file)
        for name in self._seen.keys() - names:
            del self._seen[name]
        return ready, wait

    def _remaining(self, file: ListedFile, now: float) -> float:
        """How long `file` must keep its size before it counts as complete (0: it is)."""
        if self._stable_for <= 0:
            return 0.0
        seen = self._seen.get(file.name)
        if seen is None or seen[:2] != (file.size, file.mtime):
            self._seen[file.name] = (file.size, file.mtime, now)
            return self._stable_for
        return max(0.0, seen[2] + self._stable_for - now)
