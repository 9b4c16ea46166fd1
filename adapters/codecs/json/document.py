"""A partner's JSON document loaded, or refused as a whole: larger than the mapping allows
(before parsing, so it costs nothing), not JSON, or nested deeper than any partner
format is."""

from __future__ import annotations

import json
from typing import Any

from adapters.codecs.errors import DocumentMalformed, DocumentTooDeep, DocumentTooLarge
from adapters.codecs.json.values import MAX_DEPTH, NotJson, loads
from hub.errors import Location

__all__ = ["load", "too_deep"]


def too_deep(source: str) -> DocumentTooDeep:
    """The refusal of a document nested deeper than MAX_DEPTH."""
    return DocumentTooDeep(limit=MAX_DEPTH, location=Location(source), within=" in a record")


def load(content: bytes, *, source: str, max_bytes: int) -> Any:
    """The parsed document, numbers kept as written; DocumentError when it is refused."""
    if len(content) > max_bytes:
        raise DocumentTooLarge(size=len(content), limit=max_bytes, location=Location(source))
    encoding = json.detect_encoding(content)
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DocumentMalformed(
            syntax="JSON",
            detail=f"byte {exc.start} is not valid {encoding}",
            line=None,
            column=None,
            source=source,
        ) from None
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentMalformed(
            syntax="JSON", detail=exc.msg, line=exc.lineno, column=exc.colno, source=source
        ) from None
    except NotJson as exc:
        raise DocumentMalformed(
            syntax="JSON", detail=str(exc), line=None, column=None, source=source
        ) from None
    except RecursionError:
        raise too_deep(source) from None
