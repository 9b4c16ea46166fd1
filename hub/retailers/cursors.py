"""Opaque, signed cursors: a position a tenant was given, which only that tenant can use.

A cursor is the position's integers signed by itsdangerous under the tenant's own cursor
key, salted by what the cursor points into. So a client cannot forge or edit a position,
a case-list cursor is no feed cursor, and another tenant's cursor fails the check exactly
like a made-up one: both are an ``UnknownCursor``, which the API answers as not found.
"""

from __future__ import annotations

import binascii
import hmac
import json
import zlib
from enum import IntEnum
from functools import cached_property, lru_cache

from itsdangerous import BadData, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm

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


class _OnceDerivedSigner(Signer):
    """itsdangerous's signer, deriving the signing key once instead of at each signature
    (a feed page signs 500 cursors with the same key). The signatures are the same."""

    @cached_property
    def _derived_key(self) -> bytes:
        return super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is None:
            return self._derived_key
        return super().derive_key(secret_key)


class _CursorSerializer(URLSafeSerializer):
    """itsdangerous's URL-safe serializer, keeping its signer instead of making one per
    cursor; the cursors it writes and reads are the same as before."""

    signer = _OnceDerivedSigner

    @cached_property
    def _own_signer(self) -> Signer:
        return super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None:
            return self._own_signer
        return super().make_signer(salt)


_HMAC_SHA1 = HMACAlgorithm("sha1")
"""itsdangerous's default signature (HMAC-SHA1), named by its OpenSSL name: the hmac
module then computes it in C instead of in Python."""


@lru_cache(maxsize=1024)
def _serializer(key: bytes, kind: CursorKind) -> URLSafeSerializer:
    """One serializer per tenant key and list, kept: building one costs as much as
    signing."""
    return _CursorSerializer(
        key, salt=f"hub cursor {kind.name.lower()}", signer_kwargs={"algorithm": _HMAC_SHA1}
    )


@lru_cache(maxsize=1024)
def _signing_key(key: bytes, kind: CursorKind) -> bytes:
    """The HMAC key itsdangerous derives from the tenant's key and the list's salt."""
    return _serializer(key, kind).make_signer().derive_key()


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _base64(data: bytes) -> bytes:
    """itsdangerous's ``base64_encode`` (URL-safe, unpadded) in two C calls."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _fixed_code_bits(run: int) -> int:
    """Fewest bits deflate's fixed code spends on a run of digits that cannot reach
    past a unique byte: 8 a literal, or one match (12 bits at least) for 3 or more."""
    return 8 * run if run < 3 else 12


def _never_compressed(first: int, second: int) -> bool:
    """Whether zlib surely cannot shorten the payload ``[first,second]`` by two bytes, the
    serializer's reason to compress it: then the zlib call (a large allocation per
    cursor, most of a cursor's time) can be skipped.

    zlib adds 6 bytes to the deflate data. '[', ',' and ']' occur once and the first digit
    follows '[' only, so these four bytes are literals (8 bits each in the fixed code),
    and a match covers digits of one number only. With the block header (3 bits) and its
    end (7), the fixed code spends at least ``42 + run bits`` (``_fixed_code_bits``). A
    dynamic code spends at least 70 bits: 29 of header, 29 to describe the code lengths
    (zeros before ',' and after ']', five used groups), 12 for five distinct symbols. A
    stored block is longer than the payload. ``tests/test_cursors.py`` checks the bound
    against zlib itself.
    """
    length = len(str(first)) + len(str(second)) + 3
    fixed = 42 + _fixed_code_bits(len(str(first)) - 1) + _fixed_code_bits(len(str(second)))
    least = 6 + (min(fixed, 70) + 7) // 8
    return least >= length - 1


def encode_cursor(key: bytes, kind: CursorKind, values: tuple[int, ...]) -> str:
    """Sign ``values`` for the tenant whose cursor key is ``key``.

    The text is exactly itsdangerous's ``URLSafeSerializer.dumps``, so cursors handed out
    before stay valid (a test checks it), but a feed page signs 500 of them and the
    serializer's generic path costs several times the signature. For two non-negative
    integers that zlib cannot shorten (``_never_compressed``), the payload (compact
    JSON, base64) is written directly and signed with the derived key by ``hmac`` (in
    C). Otherwise the payload is tried with zlib as the serializer does, and when it
    would compress, the serializer writes the cursor itself.
    """
    if (
        len(values) == 2
        and all(type(value) is int and value >= 0 for value in values)
        and _never_compressed(*values)
    ):
        body = _base64(f"[{values[0]},{values[1]}]".encode("ascii"))
        signature = hmac.digest(_signing_key(key, kind), body, "sha1")
        return (body + b"." + _base64(signature)).decode("ascii")
    serializer = _serializer(key, kind)
    payload = json.dumps(list(values), separators=(",", ":")).encode("ascii")
    if len(zlib.compress(payload)) < len(payload) - 1:
        return str(serializer.dumps(list(values)))
    signer = serializer.make_signer()
    return signer.sign(base64_encode(payload)).decode("ascii")


class _KeyedHmac:
    """HMAC-SHA1 under one key, keyed once (the standard library's ``hmac``): a signature
    is then a copy of the keyed object and one update, instead of ``hmac.digest`` setting
    the key up again for each of a page's 500 cursors."""

    def __init__(self, key: bytes) -> None:
        # SHA-1 under HMAC is itsdangerous's signature, the cursors' format that retailers
        # hold; HMAC-SHA1 has no known forgery.
        self._keyed = hmac.new(key, digestmod="sha1")

    def digest(self, message: bytes) -> bytes:
        signature = self._keyed.copy()
        signature.update(message)
        return signature.digest()


@lru_cache(maxsize=1024)
def _hmac_of(key: bytes, kind: CursorKind) -> _KeyedHmac:
    """The keyed HMAC of a tenant's list, kept like its serializer."""
    return _KeyedHmac(_signing_key(key, kind))


@lru_cache(maxsize=64)
def _never_compressed_digits(first_digits: int, second_digits: int) -> bool:
    """``_never_compressed`` by the numbers' lengths, all its bound depends on."""
    return _never_compressed(10 ** (first_digits - 1), 10 ** (second_digits - 1))


def encode_cursors(key: bytes, kind: CursorKind, positions: list[tuple[int, int]]) -> list[str]:
    """``encode_cursor`` for each of a page's positions, the same texts: the keyed HMAC
    states found once for the page, and each pair that zlib cannot shorten written
    straight from its digits (a pair that needs the generic path takes it)."""
    signer = _hmac_of(key, kind)
    texts = []
    for first, second in positions:
        if type(first) is not int or type(second) is not int or first < 0 or second < 0:
            texts.append(encode_cursor(key, kind, (first, second)))
            continue
        first_text, second_text = str(first), str(second)
        if not _never_compressed_digits(len(first_text), len(second_text)):
            texts.append(encode_cursor(key, kind, (first, second)))
            continue
        body = _base64(f"[{first_text},{second_text}]".encode("ascii"))
        texts.append(f"{body.decode('ascii')}.{_base64(signer.digest(body)).decode('ascii')}")
    return texts


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
