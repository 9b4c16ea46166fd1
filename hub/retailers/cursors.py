"""Opaque, signed cursors: a position a tenant was given, which only that tenant can use.

A cursor is the position's integers signed by itsdangerous under the tenant's own cursor
key, salted by what the cursor points into. So a client cannot forge or edit a position,
a case-list cursor is no feed cursor, and another tenant's cursor fails the check exactly
like a made-up one: both are an ``UnknownCursor``, which the API answers as not found.
"""

from __future__ import annotations

from enum import IntEnum

from itsdangerous import BadData, URLSafeSerializer

from hub.errors import NotFoundError

MAX_CURSOR_LENGTH = 200
"""Longer text cannot be a cursor; checked before decoding anything."""


class CursorKind(IntEnum):
    """What a cursor points into, so a list cursor is not accepted by the feed."""

    FEED = 1
    CASE_LIST = 2


class UnknownCursor(NotFoundError):
    """The cursor was not issued to this tenant for this list (tampered, foreign, made up)."""

    def __init__(self) -> None:
        super().__init__("no such cursor")


def _serializer(key: bytes, kind: CursorKind) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=f"hub cursor {kind.name.lower()}")


def encode_cursor(key: bytes, kind: CursorKind, values: tuple[int, ...]) -> str:
    """Sign ``values`` for the tenant whose cursor key is ``key``."""
    return str(_serializer(key, kind).dumps(list(values)))


def decode_cursor(key: bytes, kind: CursorKind, text: str, *, arity: int) -> tuple[int, ...]:
    """The values inside a cursor this tenant was given, or ``UnknownCursor``."""
    if not text or len(text) > MAX_CURSOR_LENGTH or not text.isascii():
        raise UnknownCursor()
    try:
        values = _serializer(key, kind).loads(text)
    except BadData:
        raise UnknownCursor() from None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(type(value) is int for value in values)
    ):
        raise UnknownCursor()
    return tuple(values)
