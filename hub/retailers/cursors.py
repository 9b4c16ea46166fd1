"""Opaque, signed cursors: a position a tenant was given, which only that tenant can use.

A cursor is the position's integers, in decimal, joined by ``_``, followed by a 144-bit
keyed BLAKE2s tag of them in lowercase hexadecimal (36 characters): for instance
``0_5000123`` then the tag. The tag's key is derived from the tenant's own cursor key
and what the cursor points into, so a client cannot forge or edit a position, a
case-list cursor is no feed cursor, and another tenant's cursor fails the check exactly
like a made-up one: all are an ``UnknownCursor``, which the API answers as not found.

Cursors issued before are still read: retailers keep the last one they were given.

- The same digits and the same tag in URL-safe base64 (24 characters, no padding),
  issued from the tenth pass of issue 17 to its seventeenth. A text is checked as this
  format when it is not as the hexadecimal one: each holds its tag at its end, and a
  text checked as the wrong one fails its tag like a made-up one.
- itsdangerous's URL-safe serializer (HMAC-SHA1 under the same tenant key, salted by
  the list), issued before that. Such a cursor always holds a ``.`` (between its
  payload and its signature, or before a compressed payload), which the other two never
  hold, so it is told apart by that character alone and checked only as its own format.

Why a format of its own: a feed page carries 500 cursors, and itsdangerous's (compact
JSON, base64, an HMAC-SHA1 through the ``hmac`` module's Python wrapper) cost about
26,000 instructions each, more than half of a page (docs/performance.md, Feed, tenth
pass). The digits are formatted by one C call and the tag is one copy of a keyed state,
one update and one digest, all in C. Why hexadecimal: the base64 and its translation to
the URL-safe alphabet were two C calls more a cursor, about a tenth of a page of 500's
instructions, for 12 characters less a cursor (docs/performance.md, Feed, eighteenth
pass).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from enum import IntEnum
from functools import lru_cache

from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.signer import HMACAlgorithm

from hub.errors import NotFoundError

MAX_CURSOR_LENGTH = 200
"""Longer text cannot be a cursor; checked before decoding anything."""

TAG_SIZE = 18
"""The tag's bytes: 144 bits, beyond any forgery; a multiple of 3, so the base64 of the
cursors issued before has no padding and no unused bits (one text per tag)."""

_TAG_HEX = TAG_SIZE * 2
_TAG_TEXT = TAG_SIZE * 4 // 3
_SEPARATOR = "_"
_LEGACY_MARK = "."
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,30}")
"""A value as this format writes it: ASCII digits, no sign, no leading zero."""

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


class CursorKind(IntEnum):
    """What a cursor points into, so a list cursor is not accepted by the feed."""

    FEED = 1
    CASE_LIST = 2


class UnknownCursor(NotFoundError):
    """The cursor was not issued to this tenant for this list (tampered, foreign, made up)."""

    def __init__(self) -> None:
        super().__init__("no such cursor")


@lru_cache(maxsize=1024)
def _keyed_tag(key: bytes, kind: CursorKind) -> hashlib.blake2s:
    """The keyed BLAKE2s state of a tenant's list, made once and copied per cursor.

    Its key is a keyed BLAKE2b of the list's name under the tenant's cursor key (a key
    longer than BLAKE2b's 64 bytes hashed down first): each list of each tenant has a
    key of its own, unrelated to the one its itsdangerous cursors were signed with."""
    secret = key if len(key) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.blake2b(key).digest()
    derived = hashlib.blake2b(
        f"hub cursor {kind.name.lower()}".encode("ascii"), key=secret, digest_size=32
    ).digest()
    return hashlib.blake2s(key=derived, digest_size=TAG_SIZE)


def _tag_text(keyed: hashlib.blake2s, body: bytes) -> bytes:
    """The tag of ``body`` in URL-safe base64, as the cursors issued before held it."""
    tag = keyed.copy()
    tag.update(body)
    return binascii.b2a_base64(tag.digest(), newline=False).translate(_URL_SAFE)


def _tag_hex(keyed: hashlib.blake2s, body: bytes) -> bytes:
    """The tag of ``body`` in lowercase hexadecimal, as cursors hold it now."""
    tag = keyed.copy()
    tag.update(body)
    return binascii.hexlify(tag.digest())


def encode_cursor(key: bytes, kind: CursorKind, values: tuple[int, ...]) -> str:
    """The cursor of ``values`` (non-negative integers) for the tenant whose cursor key
    is ``key``."""
    if not values or not all(type(value) is int and value >= 0 for value in values):
        raise ValueError("a cursor holds one or more non-negative integers")
    body = _SEPARATOR.join(map(str, values)).encode("ascii")
    return (body + _tag_hex(_keyed_tag(key, kind), body)).decode("ascii")


def encode_cursors(key: bytes, kind: CursorKind, positions: list[tuple[int, int]]) -> list[str]:
    """``encode_cursor`` for each of a page's positions, the same texts."""
    return [text.decode("ascii") for text in cursor_texts(key, kind, positions)]


def cursor_texts(key: bytes, kind: CursorKind, positions: list[tuple[int, int]]) -> list[bytes]:
    """The cursors of a page's positions as ASCII bytes (``encode_cursor``'s texts,
    encoded), for a page written as bytes: neither a decode here nor an encode in the
    page (two C calls an item, about 0.8 M instructions a feed page of 500). The keyed
    state is found once for the page, each pair's digits formatted by one call, each tag
    written by one (``hexlify``)."""
    keyed = _keyed_tag(key, kind)
    copy = keyed.copy
    hexlify = binascii.hexlify
    texts = []
    for first, second in positions:
        if type(first) is not int or type(second) is not int or first < 0 or second < 0:
            raise ValueError("a cursor holds one or more non-negative integers")
        body = b"%d_%d" % (first, second)
        tag = copy()
        tag.update(body)
        texts.append(body + hexlify(tag.digest()))
    return texts


def decode_cursor(key: bytes, kind: CursorKind, text: str, *, arity: int) -> tuple[int, ...]:
    """The values inside a cursor this tenant was given for this list, in either
    format, or ``UnknownCursor``."""
    if not text or len(text) > MAX_CURSOR_LENGTH or not text.isascii():
        raise UnknownCursor()
    legacy = _LEGACY_MARK in text
    values = _legacy_values(key, kind, text) if legacy else _values(key, kind, text)
    if len(values) != arity:
        raise UnknownCursor()
    return values


def _values(key: bytes, kind: CursorKind, text: str) -> tuple[int, ...]:
    """The values of a cursor of this format or of the base64 one issued before, its
    tag checked first: as hexadecimal, else as base64 (a genuine cursor of either fails
    the other's check as a made-up text would)."""
    keyed = _keyed_tag(key, kind)
    body = _tagged_body(keyed, text, _TAG_HEX, _tag_hex)
    if body is None:
        body = _tagged_body(keyed, text, _TAG_TEXT, _tag_text)
    if body is None:
        raise UnknownCursor()
    fields = body.decode("ascii").split(_SEPARATOR)
    if not all(_DECIMAL.fullmatch(field) for field in fields):
        raise UnknownCursor()  # never issued: a tag this key made holds only such digits
    return tuple(int(field) for field in fields)


def _tagged_body(
    keyed: hashlib.blake2s,
    text: str,
    size: int,
    write: Callable[[hashlib.blake2s, bytes], bytes],
) -> bytes | None:
    """The text less its last ``size`` characters if those are the tag ``write`` makes
    of the rest (compared in constant time); None otherwise."""
    body, tag = text[:-size].encode("ascii"), text[-size:].encode("ascii")
    if not body or not hmac.compare_digest(write(keyed, body), tag):
        return None
    return body


_HMAC_SHA1 = HMACAlgorithm("sha1")
"""itsdangerous's default signature (HMAC-SHA1), named by its OpenSSL name."""


@lru_cache(maxsize=1024)
def _legacy_serializer(key: bytes, kind: CursorKind) -> URLSafeSerializer:
    """The serializer that wrote a tenant's list's cursors before this format, kept:
    building one costs as much as checking a signature."""
    return URLSafeSerializer(
        key, salt=f"hub cursor {kind.name.lower()}", signer_kwargs={"algorithm": _HMAC_SHA1}
    )


def _legacy_values(key: bytes, kind: CursorKind, text: str) -> tuple[int, ...]:
    """The values of a cursor issued in itsdangerous's format, its signature checked."""
    try:
        values = _legacy_serializer(key, kind).loads(text)
    except BadData:
        raise UnknownCursor() from None
    if not isinstance(values, list) or not all(
        type(value) is int and value >= 0 for value in values
    ):
        raise UnknownCursor()
    return tuple(values)
