"""Remote file names: only plain names inside the configured directories, free names in
the archive (a clash never overwrites), and a listing's times in UTC."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from datetime import UTC, datetime

from hub.errors import ConfigurationError

__all__ = ["archive_names", "plain_name", "utc"]

# How many "NAME.n.ext" names to try in the archive before giving up on a clash.
_ARCHIVE_NAME_ATTEMPTS = 1000


def utc(timestamp: float | None) -> datetime | None:
    """A server's Unix time as an aware UTC datetime."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=UTC)


def plain_name(name: str) -> str:
    """Refuse names that would reach outside the configured directory."""
    if not name or name in {".", ".."} or "/" in name or "\x00" in name:
        raise ConfigurationError(f"{name!r} is not a plain file name")
    return name


def archive_names(name: str) -> Iterator[str]:
    """NAME.csv, then NAME.1.csv, NAME.2.csv...: a clash must never overwrite a file."""
    yield name
    stem, extension = posixpath.splitext(name)
    for number in range(1, _ARCHIVE_NAME_ATTEMPTS):
        yield f"{stem}.{number}{extension}"
