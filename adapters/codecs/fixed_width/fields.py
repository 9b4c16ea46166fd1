"""One field of a fixed-width line, read as text and written back: implied decimals,
signs inside or outside the field, padding and alignment.

Numbers come out as plain decimal text (``-189.90``) so that the mapping reads them as
any other codec's; nothing is ever cut to fit when writing: a value too wide raises.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from adapters.codecs.fixed_width.spec import FieldSpec

__all__ = ["FieldValueError", "read_field", "write_field"]

_SIGNS = {"+": 1, "-": -1, " ": 1}


class FieldValueError(ValueError):
    """A field's text is not what its spec says (not digits, a bad sign, too wide)."""


def read_field(spec: FieldSpec, line: str) -> str | None:
    """The field's value in ``line`` (already padded to its full length)."""
    text = line[spec.start - 1 : spec.last]
    if not spec.is_number:
        return text.strip() if spec.strip else text
    sign = " "
    if spec.sign == "leading":
        sign, text = text[:1], text[1:]
    elif spec.sign == "trailing":
        text, sign = text[:-1], text[-1:]
    elif isinstance(spec.sign, int):
        sign = line[spec.sign - 1 : spec.sign]
    digits = text.strip()
    if not digits:
        return None
    if not (digits.isascii() and digits.isdigit()):
        raise FieldValueError(f"expected digits, got {text!r}")
    if sign not in _SIGNS:
        raise FieldValueError(f"expected a sign + or -, got {sign!r}")
    value = int(digits)
    negative = _SIGNS[sign] < 0 and value != 0
    shown = str(value)
    if spec.decimals:
        shown = shown.rjust(spec.decimals + 1, "0")
        shown = f"{shown[: -spec.decimals]}.{shown[-spec.decimals :]}"
    return "-" + shown if negative else shown


def write_field(spec: FieldSpec, value: str | None) -> tuple[str, str | None]:
    """The field's text at its full width, and the sign character when the sign sits
    at a position of its own."""
    if not spec.is_number:
        text = value or ""
        if len(text) > spec.width:
            raise FieldValueError(f"{text!r} is longer than the field's {spec.width} characters")
        pad = spec.pad or " "
        aligned = text.rjust if spec.align == "right" else text.ljust
        return aligned(spec.width, pad), None
    inner = spec.width - (1 if spec.sign in ("leading", "trailing") else 0)
    if value is None or not value.strip():
        blank = " " * spec.width
        return blank, (" " if isinstance(spec.sign, int) else None)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise FieldValueError(f"{value!r} is not a number") from None
    scaled = number.scaleb(spec.decimals)
    if scaled != scaled.to_integral_value():
        raise FieldValueError(f"{value!r} has more than {spec.decimals} decimals")
    if number < 0 and spec.sign == "none":
        raise FieldValueError(f"{value!r} is negative and the field has no sign")
    digits = str(abs(int(scaled)))
    if len(digits) > inner:
        raise FieldValueError(f"{value!r} does not fit in {inner} digits")
    pad = spec.pad or "0"
    body = digits.ljust(inner, pad) if spec.align == "left" else digits.rjust(inner, pad)
    sign = "-" if number < 0 else "+"
    if spec.sign == "leading":
        return sign + body, None
    if spec.sign == "trailing":
        return body + sign, None
    if isinstance(spec.sign, int):
        return body, sign
    return body, None
