"""Writing one partner XML document per record (one repair order, one purchase order).

The root element comes from the mapping's ``record``; then each field, in the mapping's
order, creates the elements on its path (once; ``[{n}]`` or ``[2]`` picks a position) and
sets the text or attribute. None writes nothing. Field order is element order, so a
mapping lists fields in the order the partner's XSD wants them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

from adapters.codecs.errors import EncodeError
from adapters.codecs.xml.paths import WRITE_STEP, WritePlan, qualified, write_plan
from adapters.codecs.xml.spec import XmlCodecSpec
from hub.errors import ConfigurationError

__all__ = ["DECLARATION", "DocumentWriter"]

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_REPEATED_KEY = re.compile(r"(?P<name>.+)\.(?P<n>[1-9][0-9]*)")


class DocumentWriter:
    """Builds the document of one record; the field paths are checked on first use."""

    def __init__(self, spec: XmlCodecSpec, namespaces: Mapping[str, str]) -> None:
        self.spec = spec
        self._namespaces = namespaces
        self._plans: list[WritePlan] | None = None

    def document(self, record: Mapping[str, str | None]) -> tuple[str, bytes]:
        """The record's root tag (Clark notation) and its UTF-8 document.

        Raises EncodeError for an unknown field or a value XML cannot carry.
        """
        plans = self._write_plans()
        singles, repeated = self._sort_keys(record, plans)
        root_tag = self._root_tag()
        root = etree.Element(root_tag, nsmap=self._nsmap(root_tag, plans))
        for plan in plans:
            if plan.repeated:
                for n, key in repeated.get(plan.name, []):
                    self._write(root, plan, key, record[key], n)
            elif plan.name in singles:
                self._write(root, plan, plan.name, record[plan.name], None)
        etree.indent(root, space="  ")
        return root_tag, DECLARATION + etree.tostring(root, encoding="UTF-8") + b"\n"

    def _write_plans(self) -> list[WritePlan]:
        if self._plans is None:
            plans, unwritable = [], []
            for name, path in self.spec.fields.items():
                try:
                    plans.append(write_plan(name, path, self._namespaces))
                except ValueError as exc:
                    unwritable.append(f"{name!r} ({path!r}: {exc})")
            if unwritable:
                raise ConfigurationError(
                    "these field paths cannot be written (use element steps and one final "
                    f"@attribute): {', '.join(unwritable)}"
                )
            self._plans = plans
        return self._plans

    def _root_tag(self) -> str:
        name = self.spec.record.lstrip("/")
        found = WRITE_STEP.fullmatch(name)
        if found is None or found["index"]:
            raise ConfigurationError(
                f"record {self.spec.record!r} is not one element name (e.g. ts:RepairOrder): "
                "cannot write documents with it"
            )
        try:
            return qualified(found["prefix"], found["local"], self._namespaces)
        except ValueError as exc:
            raise ConfigurationError(f"record {self.spec.record!r}: {exc}") from exc

    def _nsmap(self, root_tag: str, plans: list[WritePlan]) -> dict[str | None, str]:
        """Only the namespaces the document uses; the "" one as the default namespace."""
        tags = [root_tag] + [s.tag for p in plans for s in p.steps]
        tags += [p.attribute for p in plans if p.attribute]
        used = {etree.QName(tag).namespace for tag in tags} - {None}
        default = self.spec.namespaces.get("")
        nsmap: dict[str | None, str] = {None: default} if default in used and default else {}
        for prefix, uri in self._namespaces.items():
            if uri in used and uri != default and uri not in nsmap.values():
                nsmap[prefix] = uri
        return nsmap

    def _sort_keys(
        self, record: Mapping[str, str | None], plans: list[WritePlan]
    ) -> tuple[set[str], dict[str, list[tuple[int, str]]]]:
        """Split a record's keys into plain fields and numbered ones (``line_sku.2``)."""
        kinds = {plan.name: plan.repeated for plan in plans}
        singles: set[str] = set()
        repeated: dict[str, list[tuple[int, str]]] = {}
        unknown = []
        for key, value in record.items():
            if value is not None and not isinstance(value, str):
                raise EncodeError(
                    f"field {key!r}: expected text or None, got {type(value).__name__}"
                )
            numbered = _REPEATED_KEY.fullmatch(key)
            if kinds.get(key) is False:
                singles.add(key)
            elif numbered and kinds.get(numbered["name"]) is True:
                repeated.setdefault(numbered["name"], []).append((int(numbered["n"]), key))
            elif key not in self.spec.document_fields:  # read from documents, never written
                unknown.append(key)
        if unknown:
            raise EncodeError(f"fields not in the mapping: {', '.join(map(repr, unknown))}")
        for numbered_keys in repeated.values():
            numbered_keys.sort()
        return singles, repeated

    @staticmethod
    def _write(
        root: etree._Element, plan: WritePlan, key: str, value: str | None, n: int | None
    ) -> None:
        if value is None:
            return
        node = root
        for step in plan.steps:
            node = _child(node, step.tag, n if step.repeat else step.index)
        try:
            if plan.attribute is None:
                node.text = value
            else:
                node.set(plan.attribute, value)
        except ValueError as exc:  # control characters, lone surrogates: not XML
            raise EncodeError(f"field {key!r}: {exc}") from exc


def _child(parent: etree._Element, tag: str, position: int | None) -> etree._Element:
    """The child on a path: found again if written before, else appended (with the
    positions before it, so that line 2 stays second even when written first)."""
    existing = [c for c in parent if c.tag == tag]
    wanted = position or 1
    while len(existing) < wanted:
        existing.append(etree.SubElement(parent, tag))
    return existing[wanted - 1]
