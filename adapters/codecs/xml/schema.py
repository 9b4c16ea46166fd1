"""The partner's XSD, handed to the codec as bytes: compiled once, checked against the
documents read and written, its errors told in the mapping's prefixes and, when reading,
pinned to the record they belong to, so that one bad record is rejected alone.

The codec does no file I/O: the mapping loader reads the XSD the mapping names. The XSD
is compiled with nothing loaded from outside (no network, no file): it is one
self-contained schema.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from adapters.codecs.errors import DocumentError, EncodeError
from adapters.codecs.xml.guard import NothingResolver
from hub.errors import ConfigurationError, Location, PartnerDataError

__all__ = [
    "PartnerSchema",
    "SchemaProblem",
    "XmlRecordSchemaError",
    "XmlRenderError",
    "XmlSchemaError",
]

_ERROR_STEP = re.compile(r"(?:(?P<prefix>[^:\[\]/]+):)?(?P<name>[^:\[\]/]+)(?:\[(?P<pos>\d+)\])?")
_CLARK = re.compile(r"\{([^}]*)\}")


@dataclass(frozen=True)
class SchemaProblem:
    """One XSD error: where libxml2 saw it and what it says."""

    line: int | None
    path: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _problems_text(problems: Sequence[SchemaProblem], limit: int = 5) -> str:
    shown = "; ".join(str(p) for p in problems[:limit])
    more = len(problems) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


class XmlSchemaError(DocumentError):
    """The document breaks its XSD outside any record (root, page attributes): all rejected."""

    def __init__(self, problems: Sequence[SchemaProblem], *, source: str) -> None:
        super().__init__(
            f"the document does not match its XSD: {_problems_text(problems)}",
            location=Location(source, problems[0].line if problems else None),
        )
        self.problems = tuple(problems)


class XmlRecordSchemaError(PartnerDataError):
    """One record breaks the XSD: it is rejected alone, the other records go through."""

    def __init__(self, problems: Sequence[SchemaProblem], *, location: Location, raw: str) -> None:
        super().__init__(
            f"the record does not match the XSD: {_problems_text(problems)}",
            location=location,
            raw=raw,
        )
        self.problems = tuple(problems)


class XmlRenderError(EncodeError):
    """The written document breaks the partner's XSD: the partner would refuse it anyway."""

    def __init__(self, problems: Sequence[SchemaProblem], *, root: str) -> None:
        super().__init__(f"the {root} does not match the partner's XSD: {_problems_text(problems)}")
        self.problems = tuple(problems)


class PartnerSchema:
    """One partner XSD, compiled from its bytes; ``name`` (its file) names it in errors.

    Safe to share between threads: validation holds a lock, since libxml2 keeps the
    error log on the schema object.
    """

    def __init__(self, xsd: bytes, *, name: str, namespaces: Mapping[str, str]) -> None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        parser.resolvers.add(NothingResolver())
        try:
            self._schema = etree.XMLSchema(etree.fromstring(xsd, parser))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise ConfigurationError(f"XSD {name}: {exc}") from exc
        self._lock = threading.Lock()
        self._uris = {uri: prefix for prefix, uri in namespaces.items()}

    def problems(self, tree: etree._ElementTree) -> list[SchemaProblem]:
        """What the XSD finds wrong with a document, in the mapping's prefixes."""
        with self._lock:  # the error log belongs to the schema object
            if self._schema.validate(tree):
                return []
            return [
                SchemaProblem(e.line or None, e.path, self.pretty(e.message))
                for e in self._schema.error_log
            ]

    def pretty(self, message: str) -> str:
        """XSD messages in the mapping's prefixes: ts:Status, not {urn:...:v2}Status."""

        def prefixed(found: re.Match[str]) -> str:
            prefix = self._uris.get(found[1])
            return f"{prefix}:" if prefix else found[0]

        return _CLARK.sub(prefixed, message)

    def rejects(
        self, tree: etree._ElementTree, records: list[etree._Element], source: str
    ) -> dict[etree._Element, list[SchemaProblem]]:
        """XSD errors by record: one bad change is rejected alone, not its page of 200."""
        problems = self.problems(tree)
        if not problems:
            return {}
        owners = set(records)
        root = tree.getroot()
        by_record: dict[etree._Element, list[SchemaProblem]] = {}
        outside: list[SchemaProblem] = []
        for problem in problems:
            owner = self._owner(root, problem, owners, records)
            if owner is None:
                outside.append(problem)
            else:
                by_record.setdefault(owner, []).append(problem)
        if outside:
            raise XmlSchemaError(outside, source=source)
        return by_record

    @staticmethod
    def _owner(
        root: etree._Element,
        problem: SchemaProblem,
        owners: set[etree._Element],
        records: list[etree._Element],
    ) -> etree._Element | None:
        element = _element_at(root, problem.path)
        if element is not None:
            for candidate in (element, *element.iterancestors()):
                if candidate in owners:
                    return candidate
            return None
        if problem.line is None:
            return None
        # No usable path: the record whose lines hold the error, when only one does.
        around = [
            r
            for r in records
            if (r.sourceline or 0) <= problem.line <= max((e.sourceline or 0) for e in r.iter())
        ]
        return around[0] if len(around) == 1 else None


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    """The element libxml2 means by an error path such as ``/ts:Changes/ts:Change[3]``."""
    if not path or not path.startswith("/"):
        return None
    node: etree._Element | None = None
    candidates: list[etree._Element] = [root]
    for step in path[1:].split("/"):
        if step.startswith("@") or step.endswith(")"):
            break  # an attribute or a text node: its element is the answer
        found = _ERROR_STEP.fullmatch(step)
        if found is None:
            return None
        prefix, name, position = found["prefix"], found["name"], int(found["pos"] or 1)
        matching = [
            c
            for c in candidates
            if isinstance(c.tag, str)
            and (name == "*" or (etree.QName(c).localname == name and c.prefix == prefix))
        ]
        if position > len(matching):
            return None
        node = matching[position - 1]
        candidates = [c for c in node if isinstance(c.tag, str)]
    return node
