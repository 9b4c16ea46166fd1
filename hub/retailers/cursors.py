"""Opaque, signed cursors: a position a tenant was given, which only that tenant can use.

A cursor is ``base64url(version | kind | values as signed 64-bit | tag)``, the tag being
an HMAC-SHA256 (cut to 128 bits) under the tenant's own cursor key. So a client cannot
forge or edit a position, and another tenant's cursor fails the check exactly like a
made-up one: both are an ``UnknownCursor``, which the API answers as not found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from enum import IntEnum
from functools import lru_cache

from hub.errors import NotFoundError

VERSION = 1
TAG_BYTES = 16
_HEADER = struct.Struct(">BB")
_VALUE = struct.Struct(">q")
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


@lru_cache(maxsize=1024)
def _keyed(key: bytes) -> hmac.HMAC:
    """The HMAC state after the key, computed once per tenant key (a page signs many)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _tag(key: bytes, payload: bytes) -> bytes:
    state = _keyed(key).copy()
    state.update(payload)
    return state.digest()[:TAG_BYTES]


def encode_cursor(key: bytes, kind: CursorKind, values: tuple[int, ...]) -> str:
    """Sign ``values`` for the tenant whose cursor key is ``key``."""
    payload = struct.pack(f">BB{len(values)}q", VERSION, kind, *values)
    token = payload + _tag(key, payload)
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_cursor(key: bytes, kind: CursorKind, text: str, *, arity: int) -> tuple[int, ...]:
    """The values inside a cursor this tenant was given, or ``UnknownCursor``."""
    if not text or len(text) > MAX_CURSOR_LENGTH or not text.isascii():
        raise UnknownCursor()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise UnknownCursor() from None
    expected = _HEADER.size + arity * _VALUE.size + TAG_BYTES
    if len(raw) != expected:
        raise UnknownCursor()
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(key, payload)):
        raise UnknownCursor()
    version, found_kind = _HEADER.unpack_from(payload)
    if version != VERSION or found_kind != kind:
        raise UnknownCursor()
    return tuple(
        _VALUE.unpack_from(payload, _HEADER.size + index * _VALUE.size)[0] for index in range(arity)
    )
