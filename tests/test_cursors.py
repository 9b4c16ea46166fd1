"""Cursors: the format issued now (digits and a keyed BLAKE2s tag in hexadecimal) reads
back only for the tenant and list it was made for, every other text is an
``UnknownCursor``, and the cursors issued before (the same tag in URL-safe base64, made
here by the standard library's base64; itsdangerous's format, made here by itsdangerous
itself) still read back."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from hub.retailers.cursors import (
    MAX_CURSOR_LENGTH,
    CursorKind,
    UnknownCursor,
    _keyed_tag,
    _tag_hex,
    _tag_text,
    decode_cursor,
    encode_cursor,
    encode_cursors,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(32)
URL_SAFE = set(string.ascii_letters + string.digits + "-_")
ALPHABET = string.ascii_letters + string.digits + "-_"

values = st.integers(0, 2**63 - 1)
positions = st.tuples(values, values)
kinds = st.sampled_from(CursorKind)
repetitive = st.tuples(
    st.sampled_from([1111111111111111111, 2**62, 9999999999999]),
    st.sampled_from([1111111111111111111, 0, 7777777777777777]),
)


def _legacy(kind: CursorKind, values: tuple[int, ...], key: bytes = KEY) -> str:
    """A cursor as the hub issued them before: itsdangerous's own text."""
    serializer = URLSafeSerializer(key, salt=f"hub cursor {kind.name.lower()}")
    return str(serializer.dumps(list(values)))


def _base64(kind: CursorKind, values: tuple[int, ...], key: bytes = KEY) -> str:
    """A cursor as the hub issued them from the tenth pass of issue 17 to its seventeenth:
    the same digits and tag, the tag in URL-safe base64 (written here by ``base64``)."""
    body = "_".join(map(str, values)).encode("ascii")
    tag = _keyed_tag(key, kind).copy()
    tag.update(body)
    return (body + base64.urlsafe_b64encode(tag.digest())).decode("ascii")


def _refused(text: str, *, kind: CursorKind = CursorKind.FEED, arity: int = 2) -> bool:
    with pytest.raises(UnknownCursor):
        decode_cursor(KEY, kind, text, arity=arity)
    return True


@given(position=positions, kind=kinds)
def test_a_cursor_reads_back_its_values_and_is_short_url_safe_text(
    position: tuple[int, int], kind: CursorKind
) -> None:
    text = encode_cursor(KEY, kind, position)
    assert decode_cursor(KEY, kind, text, arity=2) == position
    assert set(text) <= URL_SAFE  # no "." either: that marks the previous format
    assert len(text) <= MAX_CURSOR_LENGTH


def test_a_cursor_is_the_digits_and_a_144_bit_tag_in_hexadecimal() -> None:
    text = encode_cursor(KEY, CursorKind.FEED, (0, 5000123))
    assert text.startswith("0_5000123")
    assert len(text) == len("0_5000123") + 36
    assert set(text[-36:]) <= set("0123456789abcdef")
    assert len(encode_cursor(KEY, CursorKind.CASE_LIST, (42,))) == 2 + 36
    assert text[-36:] == bytes.fromhex(text[-36:]).hex()  # one text per tag: lowercase


@given(page=st.lists(positions | repetitive, max_size=30), kind=kinds)
def test_a_pages_cursors_are_each_positions_own(
    page: list[tuple[int, int]], kind: CursorKind
) -> None:
    """encode_cursors signs a page's positions at once: the texts ``encode_cursor`` gives
    one by one, and the kept keyed state never carries a cursor into the next one."""
    texts = encode_cursors(KEY, kind, page)
    assert texts == [encode_cursor(KEY, kind, position) for position in page]
    assert [decode_cursor(KEY, kind, text, arity=2) for text in texts] == page


@pytest.mark.parametrize("bad", [(-1, 5), (0, -1), (True, 1), (1.0, 2)])
def test_only_non_negative_integers_make_a_cursor(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="non-negative integers"):
        encode_cursor(KEY, CursorKind.FEED, bad)
    with pytest.raises(ValueError, match="non-negative integers"):
        encode_cursors(KEY, CursorKind.FEED, [(0, 1), bad])
    with pytest.raises(ValueError, match="non-negative integers"):
        encode_cursor(KEY, CursorKind.FEED, ())


@given(position=positions)
def test_a_cursor_of_another_tenant_or_list_is_unknown(position: tuple[int, int]) -> None:
    text = encode_cursor(KEY, CursorKind.FEED, position)
    with pytest.raises(UnknownCursor):
        decode_cursor(OTHER_KEY, CursorKind.FEED, text, arity=2)
    assert _refused(text, kind=CursorKind.CASE_LIST)
    single = encode_cursor(KEY, CursorKind.CASE_LIST, position[:1])
    assert _refused(single, kind=CursorKind.FEED, arity=1)


def test_each_tenant_and_list_has_a_tag_key_of_its_own() -> None:
    """The same position under two tenants' keys, two lists or a long key: six tags."""
    body = b"0_1"
    tags = {
        _tag_text(_keyed_tag(key, kind), body)
        for key in (KEY, OTHER_KEY, KEY * 3)
        for kind in CursorKind
    }
    assert len(tags) == 6


@given(position=positions, kind=kinds)
def test_a_cursor_of_the_wrong_arity_is_unknown(
    position: tuple[int, int], kind: CursorKind
) -> None:
    assert _refused(encode_cursor(KEY, kind, position), kind=kind, arity=1)
    assert _refused(encode_cursor(KEY, kind, position[:1]), kind=kind, arity=2)
    assert _refused(encode_cursor(KEY, kind, (*position, 7)), kind=kind, arity=2)


@given(
    position=positions,
    index=st.integers(0, 200),
    replacement=st.sampled_from(ALPHABET + ".=+/ ~%é"),
)
def test_a_cursor_with_one_character_changed_is_unknown(
    position: tuple[int, int], index: int, replacement: str
) -> None:
    """Any character of a cursor changed: the tag refuses it (a tag's text has no unused
    bits: no other text carries the same tag)."""
    text = encode_cursor(KEY, CursorKind.FEED, position)
    index %= len(text)
    changed = text[:index] + replacement + text[index + 1 :]
    if changed != text:
        assert _refused(changed)


@given(position=positions, cut=st.integers(0, 200), extra=st.text(ALPHABET, min_size=1))
def test_a_truncated_or_extended_cursor_is_unknown(
    position: tuple[int, int], cut: int, extra: str
) -> None:
    text = encode_cursor(KEY, CursorKind.FEED, position)
    assert _refused(text[: cut % len(text)])
    assert _refused(text[cut % len(text) + 1 :])
    assert _refused(text + extra)
    assert _refused(extra + text)


def test_every_character_of_a_cursor_changed_is_unknown() -> None:
    """Each character of a page's cursor changed to every other URL-safe one, and the
    body of another position before this one's tag."""
    first, second = encode_cursors(KEY, CursorKind.FEED, [(0, 41), (0, 42)])
    for index, char in enumerate(first):
        for other in ALPHABET.replace(char, ""):
            assert _refused(first[:index] + other + first[index + 1 :])
    assert _refused(second[:-36] + first[-36:])
    assert _refused(first[:-36] + second[-36:])
    assert _refused(first[:-36] + first[-36:].upper())


def test_values_never_issued_are_unknown_even_under_a_genuine_tag() -> None:
    """Texts this writer never makes (a sign, leading zeros, spaces, an empty field,
    non-ASCII digits), tagged with the tenant's own key: refused all the same."""
    keyed = _keyed_tag(KEY, CursorKind.FEED)
    for tag in (_tag_hex, _tag_text):
        for body in ("-1_5", "0_-5", "00_5", "0_05", "+1_5", " 1_5", "1__5", "_1_5", "1_5_", "1_"):
            tagged = body + tag(keyed, body.encode("ascii")).decode("ascii")
            assert _refused(tagged)
        arabic = "١_٥"
        assert _refused(arabic + tag(keyed, arabic.encode("utf-8")).decode("ascii"))


@given(text=st.text(max_size=250) | st.text(ALPHABET + "._", max_size=250))
def test_any_other_text_is_unknown(text: str) -> None:
    """Made-up text of any characters and length: an UnknownCursor, never another error."""
    for kind in CursorKind:
        for arity in (1, 2):
            assert _refused(text, kind=kind, arity=arity)


@pytest.mark.parametrize(
    "text",
    ["", "A" * 200, "A" * 201, "0_1" + "A" * 24, "é" * 30, "0_1." + "A" * 27, "!!", "1", "."],
)
def test_made_up_texts_are_unknown(text: str) -> None:
    assert _refused(text)


def test_a_text_too_long_is_unknown_before_any_check() -> None:
    text = encode_cursor(KEY, CursorKind.FEED, (0, 1))
    assert _refused(text + "0" * (MAX_CURSOR_LENGTH - len(text) + 1))


# --- The format issued before: the same tag in base64, still read --------------------


@given(position=positions | repetitive, kind=kinds)
def test_a_base64_cursor_issued_before_still_reads_back(
    position: tuple[int, int], kind: CursorKind
) -> None:
    """The same digits with the tag in URL-safe base64 read back as the same position,
    for the tenant and list it was made for only, at both arities' checks."""
    text = _base64(kind, position)
    assert len(text) == len(encode_cursor(KEY, kind, position)) - 12
    assert decode_cursor(KEY, kind, text, arity=2) == position
    assert _refused(_base64(kind, position, OTHER_KEY), kind=kind)
    other = CursorKind.CASE_LIST if kind is CursorKind.FEED else CursorKind.FEED
    assert _refused(text, kind=other)
    assert _refused(text, kind=kind, arity=1)
    single = _base64(kind, position[:1])
    assert decode_cursor(KEY, kind, single, arity=1) == position[:1]


@given(
    position=positions,
    index=st.integers(0, 200),
    replacement=st.sampled_from(ALPHABET + ".=+/ ~%é"),
)
def test_a_base64_cursor_with_one_character_changed_is_unknown(
    position: tuple[int, int], index: int, replacement: str
) -> None:
    text = _base64(CursorKind.FEED, position)
    index %= len(text)
    changed = text[:index] + replacement + text[index + 1 :]
    if changed != text:
        assert _refused(changed)


def test_tags_of_one_format_are_not_taken_for_the_other() -> None:
    """One position's tag, in either format, after another position's digits; a cursor
    cut or extended by the 12 characters the formats differ by; every character of a
    base64 cursor changed: all refused."""
    hexed = encode_cursor(KEY, CursorKind.FEED, (0, 41))
    old = _base64(CursorKind.FEED, (0, 41))
    assert decode_cursor(KEY, CursorKind.FEED, hexed[:-36] + old[-24:], arity=2) == (0, 41)
    for tag in (hexed[-36:], old[-24:]):
        assert _refused("0_42" + tag)
        assert _refused("1_41" + tag)
    assert _refused(hexed[:-12])
    assert _refused(old + hexed[-12:])
    for index, char in enumerate(old):
        for other in ALPHABET.replace(char, ""):
            assert _refused(old[:index] + other + old[index + 1 :])


# --- The format issued before: itsdangerous's, still read ---------------------------


@given(position=positions | repetitive, kind=kinds)
def test_a_cursor_issued_before_still_reads_back(
    position: tuple[int, int], kind: CursorKind
) -> None:
    """Itsdangerous's own text, compressed or not, reads back as the same position; the
    cursor written now for it is of the new format and reads back the same."""
    legacy = _legacy(kind, position)
    assert "." in legacy
    assert decode_cursor(KEY, kind, legacy, arity=2) == position
    assert decode_cursor(KEY, kind, encode_cursor(KEY, kind, position), arity=2) == position


def test_a_compressed_cursor_issued_before_still_reads_back() -> None:
    legacy = _legacy(CursorKind.FEED, (1111111111111111111, 1111111111111111111))
    assert legacy.startswith("."), "itsdangerous compresses this payload"
    assert decode_cursor(KEY, CursorKind.FEED, legacy, arity=2) == (
        1111111111111111111,
        1111111111111111111,
    )


@given(position=positions)
def test_a_cursor_issued_before_for_another_tenant_or_list_is_unknown(
    position: tuple[int, int],
) -> None:
    assert _refused(_legacy(CursorKind.FEED, position, OTHER_KEY))
    assert _refused(_legacy(CursorKind.CASE_LIST, position))
    assert _refused(_legacy(CursorKind.FEED, position), arity=1)


def test_a_cursor_issued_before_with_what_the_hub_never_signed_is_unknown() -> None:
    """Values the hub never put in a cursor, though signed by its key: negative numbers,
    floats, strings, an object."""
    for payload in ([-1, 5], [0.5, 1], ["0", "1"], {"a": 1}, 7):
        serializer = URLSafeSerializer(KEY, salt="hub cursor feed")
        assert _refused(str(serializer.dumps(payload)))


def test_a_tampered_cursor_issued_before_is_unknown() -> None:
    legacy = _legacy(CursorKind.FEED, (0, 41))
    other = _legacy(CursorKind.FEED, (0, 42))
    assert _refused(legacy[:-3] + ("A" if legacy[-3] != "A" else "B") + legacy[-2:])
    assert _refused(other.split(".")[0] + "." + legacy.split(".")[1])
    assert _refused(legacy[:-1])
