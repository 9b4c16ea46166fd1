"""Cursors keep itsdangerous's format: the fast writer of hub.retailers.cursors must give
the very text the serializer gives, so cursors retailers hold stay valid."""

from __future__ import annotations

import hmac
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous.encoding import base64_decode

from hub.retailers.cursors import (
    CursorKind,
    UnknownCursor,
    _KeyedHmac,
    _never_compressed,
    decode_cursor,
    encode_cursor,
    encode_cursors,
)

KEY = bytes(range(32))

positions = st.tuples(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
repetitive = st.tuples(
    st.sampled_from([1111111111111111111, 2**62, 9999999999999]),
    st.sampled_from([1111111111111111111, 0, 7777777777777777]),
)


def _serializer_text(kind: CursorKind, values: tuple[int, ...]) -> str:
    serializer = URLSafeSerializer(KEY, salt=f"hub cursor {kind.name.lower()}")
    return str(serializer.dumps(list(values)))


@given(values=positions | repetitive, kind=st.sampled_from(CursorKind))
def test_a_cursor_is_the_serializers_own_text_and_reads_back(
    values: tuple[int, int], kind: CursorKind
) -> None:
    text = encode_cursor(KEY, kind, values)
    assert text == _serializer_text(kind, values)
    assert decode_cursor(KEY, kind, text, arity=2) == values


def test_long_repetitive_values_take_the_serializers_compressed_form() -> None:
    values = (1111111111111111111, 1111111111111111111)
    text = encode_cursor(KEY, CursorKind.FEED, values)
    assert text.startswith("."), "the serializer compresses this payload"
    assert text == _serializer_text(CursorKind.FEED, values)
    assert decode_cursor(KEY, CursorKind.FEED, text, arity=2) == values


def test_a_cursor_of_another_key_or_list_is_unknown() -> None:
    text = encode_cursor(KEY, CursorKind.FEED, (0, 42))
    for key, kind in ((bytes(32), CursorKind.FEED), (KEY, CursorKind.CASE_LIST)):
        with pytest.raises(UnknownCursor):
            decode_cursor(key, kind, text, arity=2)


def _runs() -> list[tuple[int, int]]:
    """Pairs of every length up to 19 digits each, as repetitive as digits get (one
    digit repeated, two alternating) and as plain (a count), where zlib does best."""
    shapes = []
    for first_digits in range(1, 20):
        for second_digits in range(1, 20):
            for a, b in (("1", "1"), ("12", "12"), ("9", "0"), ("123", "4567")):
                first = int(("1" + a * 20)[:first_digits]) if first_digits > 1 else int(a[0])
                second = int(("1" + b * 20)[:second_digits]) if second_digits > 1 else 0
                shapes.append((first, second))
                shapes.append((int(str(first)[::-1]), int(str(second)[::-1])))
    return shapes


def test_the_skipped_zlib_check_never_skips_a_payload_zlib_would_shorten() -> None:
    """encode_cursor skips zlib where a bound says it cannot win: zlib must agree."""
    skipped = 0
    for values in _runs():
        payload = json.dumps(list(values), separators=(",", ":")).encode("ascii")
        if _never_compressed(*values):
            skipped += 1
            assert len(zlib.compress(payload)) >= len(payload) - 1, values
        assert encode_cursor(KEY, CursorKind.FEED, values) == _serializer_text(
            CursorKind.FEED, values
        )
    assert 0 < skipped < len(_runs())


@given(values=positions)
def test_the_bound_holds_for_any_position(values: tuple[int, int]) -> None:
    payload = json.dumps(list(values), separators=(",", ":")).encode("ascii")
    if _never_compressed(*values):
        assert len(zlib.compress(payload)) >= len(payload) - 1


def test_the_bound_skips_the_payloads_a_feed_holds() -> None:
    """SQLite's (0, position) and PostgreSQL's six-digit transaction ids: no zlib call."""
    assert _never_compressed(0, 9_999_999_999)
    assert _never_compressed(999_999, 9_999_999)
    assert not _never_compressed(1111111111111111111, 1111111111111111111)


@given(
    values=st.lists(positions | repetitive | st.tuples(st.integers(0, 999), st.integers(-5, 5))),
    kind=st.sampled_from(CursorKind),
)
def test_a_pages_cursors_are_each_positions_own(
    values: list[tuple[int, int]], kind: CursorKind
) -> None:
    """encode_cursors signs a page's positions at once: the texts ``encode_cursor`` (the
    serializer's) gives one by one, negative and compressible positions included."""
    assert encode_cursors(KEY, kind, values) == [encode_cursor(KEY, kind, v) for v in values]
    for value, text in zip(values, encode_cursors(KEY, kind, values), strict=True):
        if min(value) >= 0:
            assert text == _serializer_text(kind, value)


def test_the_kept_keyed_hmac_signs_each_message_afresh() -> None:
    """Kept for a page, the keyed object is copied for each cursor: an earlier message
    never leaks into the next one's signature."""
    signer = _KeyedHmac(KEY)
    for message in (b"", b"WzAsNDJd", bytes(range(256)) * 3, b"WzAsNDJd"):
        assert signer.digest(message) == hmac.digest(KEY, message, "sha1")


def test_a_tampered_cursor_of_a_page_is_unknown() -> None:
    """Each character of a page's cursor changed, or the body of another position put
    before its signature: the signature check refuses it, unless the change is in the
    unused low bits of the signature's last base64 character (the same signature)."""
    first, second = encode_cursors(KEY, CursorKind.FEED, [(0, 41), (0, 42)])
    assert decode_cursor(KEY, CursorKind.FEED, first, arity=2) == (0, 41)
    signature = base64_decode(first.split(".")[1])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    refused = 0
    for index, char in enumerate(first):
        for other in alphabet.replace(char, "") if char != "." else "-_A":
            changed = first[:index] + other + first[index + 1 :]
            body, _, signed = changed.partition(".")
            if body == first.split(".")[0] and base64_decode(signed) == signature:
                assert decode_cursor(KEY, CursorKind.FEED, changed, arity=2) == (0, 41)
                continue
            with pytest.raises(UnknownCursor):
                decode_cursor(KEY, CursorKind.FEED, changed, arity=2)
            refused += 1
    assert refused > 60 * len(first)
    swapped = second.split(".")[0] + "." + first.split(".")[1]
    with pytest.raises(UnknownCursor):
        decode_cursor(KEY, CursorKind.FEED, swapped, arity=2)
