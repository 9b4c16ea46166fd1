"""The request a per-item pull sends for each open item when a GET of ``item_path`` is
not how the partner is asked: a POST whose body is rendered from a template (a SOAP
envelope naming the parcel and our key), with its own headers.

The template knows two placeholders, ``{key}`` (the item) and ``{secret:NAME}`` (a value
of ``body_env``, read from the environment); ``{{`` and ``}}`` are literal braces. Values
are escaped for the body's type (XML: ``& < > " '``; JSON: as in a string), so a tracking
number cannot change the request's structure. Nothing else is evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.config.connector_spec import EnvName

__all__ = ["ItemRequestSpec", "render_item_body"]

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")


class ItemRequestSpec(BaseModel):
    """How each item is asked when it is not a GET of ``item_path``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["POST", "PUT", "GET"] = "POST"
    body: str = Field(
        description="Template of the request body: {key} is the item, {secret:NAME} a "
        "value of body_env; {{ and }} are braces."
    )
    body_env: dict[str, EnvName] = Field(
        default_factory=dict, description="NAME -> environment variable, for {secret:NAME}."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers, e.g. SOAPAction and Content-Type (no secrets here).",
    )
    escape: Literal["xml", "json", "none"] | None = Field(
        default=None,
        description="How values are escaped in the body; default: from the Content-Type "
        "header (xml, json), else none.",
    )

    @model_validator(mode="after")
    def _checked(self) -> ItemRequestSpec:
        names = _placeholders(self.body)
        if "key" not in names:
            raise ValueError("the body must contain {key}: each item's request names it")
        missing = sorted(
            name.removeprefix("secret:")
            for name in names
            if name.startswith("secret:") and name.removeprefix("secret:") not in self.body_env
        )
        if missing:
            raise ValueError(f"{{secret:...}} names no variable of body_env: {', '.join(missing)}")
        for header, value in self.headers.items():
            if not _HEADER_NAME.match(header) or not _HEADER_VALUE.match(value):
                raise ValueError(f"header {header!r}: not a valid header name or value")
        return self

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")

    @property
    def escaping(self) -> str:
        if self.escape is not None:
            return self.escape
        media = self.content_type.split(";")[0].strip().lower()
        if "xml" in media:
            return "xml"
        return "json" if "json" in media else "none"


def _placeholders(template: str) -> set[str]:
    names: set[str] = set()
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        inner = match.group(1)
        if inner is None:
            raise ValueError(f"unmatched {token!r} at character {match.start()}; write it twice")
        name = inner.strip()
        if name != "key" and not (name.startswith("secret:") and len(name) > len("secret:")):
            raise ValueError(f"unknown placeholder {{{inner}}} (known: key, secret:NAME)")
        names.add(name)
    return names


def render_item_body(spec: ItemRequestSpec, key: str, secrets: Mapping[str, str]) -> bytes:
    """The body for one item, its values escaped; ``secrets`` maps NAME -> value."""
    escaping = spec.escaping

    def escaped(value: str) -> str:
        if escaping == "xml":
            # Imported here: xml.sax.saxutils imports urllib.request (http.client,
            # email), which reading the network's settings must not pay.
            from xml.sax.saxutils import escape

            return escape(value, {'"': "&quot;", "'": "&apos;"})
        if escaping == "json":
            return json.dumps(value, ensure_ascii=False)[1:-1]
        return value

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = (match.group(1) or "").strip()
        if name == "key":
            return escaped(key)
        return escaped(secrets[name.removeprefix("secret:")])

    return _TOKEN.sub(replace, spec.body).encode("utf-8")
