"""What can go wrong with a partner's fixed-width file: a line that cannot be read
(yielded, the others go on) and a record the hub cannot write (raised, nothing written).
A failed file control is :class:`adapters.codecs.controls.FileControlError`."""

from __future__ import annotations

from adapters.codecs.errors import DocumentError, EncodeError
from hub.errors import PartnerDataError

__all__ = ["FixedWidthEncodeError", "FixedWidthFileError", "FixedWidthLineError"]


class FixedWidthLineError(PartnerDataError):
    """One line cannot be read (unknown type, bad value, too long): rejected alone."""


class FixedWidthFileError(DocumentError):
    """The file cannot be split into lines at all (a bad byte in UTF-16): refused whole."""


class FixedWidthEncodeError(EncodeError):
    """A record cannot be written in the partner's layout; nothing is written."""
