"""A customer's personal data, and how it is masked wherever a partner or a retailer
quoted it: in free text, in JSON documents and in the raw bytes of archived messages.

Pure: the store applies it row by row (hub.store.erasure), the retailers' service says
when (hub.retailers.erasure). Values are matched whatever their letter case, spacing,
and the escaping of the format that carried them (JSON ``\\u00e9``, XML ``&#233;``),
and a phone number whatever its separators and its +33 / 0 prefix. A match is replaced
by as many ``*`` as it had characters, so a fixed-width line keeps its columns.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from hub.model.case import Case, CustomerContact

ERASED = "[erased]"
"""What a structured field (the customer's name) reads once erased."""

MASK = "*"

MIN_LENGTH = 4
"""Shorter values (a two-letter line2) would mask half the archive: they are left out."""


def _spelling(value: str) -> str:
    """A regex matching ``value`` whatever its spacing (one space or several, a tab)."""
    words = value.split()
    return r"\s+".join(re.escape(word) for word in words)


def _phone(value: str) -> str | None:
    """A regex matching the phone number with any separators and either French prefix."""
    digits = re.sub(r"\D", "", value)
    if digits.startswith("33") and value.strip().startswith("+"):
        digits = digits[2:]
    elif digits.startswith("0033"):
        digits = digits[4:]
    digits = digits.lstrip("0")
    if len(digits) < 6:
        return None
    separator = r"[\s.\-()]{0,2}"
    body = separator.join(digits)
    prefix = rf"(?:(?:\+|00)\s?33{separator}(?:\(0\))?{separator}|0{separator})?"
    return rf"(?<![0-9]){prefix}{body}(?![0-9])"


def personal_values(customer: CustomerContact) -> list[str]:
    """The customer's values that identify a person: name (both word orders), email,
    phone, street lines. Postcode and city alone identify nobody and stay."""
    values: list[str] = [customer.name]
    words = customer.name.split()
    if len(words) == 2:
        values.append(f"{words[1]} {words[0]}")  # carriers write DUPONT Marie
    if customer.email:
        values.append(customer.email)
    if customer.address is not None:
        values.append(customer.address.line1)
        if customer.address.line2:
            values.append(customer.address.line2)
    if customer.phone:
        values.append(customer.phone)
    return [value for value in values if len(value.strip()) >= MIN_LENGTH and value != ERASED]


class Eraser:
    """Masks the given customers' values in text, JSON and bytes."""

    def __init__(self, customers: Iterable[CustomerContact]) -> None:
        patterns: list[str] = []
        for customer in customers:
            for value in personal_values(customer):
                phone = _phone(value) if value == customer.phone else None
                if phone is not None:
                    patterns.append(phone)
                    continue
                spellings = {
                    value,
                    html.escape(value, quote=True),
                    value.encode("ascii", "xmlcharrefreplace").decode("ascii"),
                    json.dumps(value)[1:-1],
                }
                patterns.extend(_spelling(spelling) for spelling in spellings)
        ordered = sorted(set(patterns), key=len, reverse=True)  # longest spelling first
        self._pattern = re.compile("|".join(ordered), re.IGNORECASE) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda match: MASK * len(match.group(0)), value)

    def found_in(self, value: str) -> bool:
        return self._pattern is not None and self._pattern.search(value) is not None

    def json(self, value: Any) -> Any:
        """The same JSON document with every string (keys kept) masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value

    def bytes(self, content: bytes) -> bytes:
        """Raw bytes read as UTF-8 (or Latin-1, which reads anything), masked, written
        back in the same encoding."""
        try:
            text, encoding = content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = content.decode("latin-1"), "latin-1"
        masked = self.text(text)
        return content if masked == text else masked.encode(encoding)


def erased_case(case: Case, eraser: Eraser) -> Case:
    """The case without its customer's personal data: the name reads ``[erased]``; phone,
    email and address go; free text (the fault) is masked. Product, coverage, service,
    dates and partners' references stay: they are the case's facts."""
    document = case.model_dump(mode="json")
    document["customer"] = {"name": ERASED}
    return Case.model_validate(eraser.json(document))
