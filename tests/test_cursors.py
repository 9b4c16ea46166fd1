"""Cursors keep itsdangerous's format: the fast writer of hub.retailers.cursors must give
the very text the serializer gives, so cursors retailers hold stay valid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from hub.retailers.cursors import CursorKind, UnknownCursor, decode_cursor, encode_cursor

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
