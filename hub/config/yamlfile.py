"""Reading the hub's YAML files so that every problem can name its file and line.

PyYAML silently keeps the last of two equal keys; in a code table that would hide a
code mapped twice, so this loader refuses duplicate keys instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


try:  # libyaml's parser where PyYAML was built with it (the wheels are): the same
    # documents and marks, parsed ten times faster than in pure Python; every command
    # and every run reads connectors.yaml and the mappings (issue 17)
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _StrictLoader(_SafeLoader):
    """Safe YAML with duplicate mapping keys reported instead of overwritten."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges; its keys may be overridden on purpose
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"{key!r} is listed twice (first on line {seen[key]}): "
                    "each key may appear once",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, location: Sequence[int | str]) -> int:
        """The 1-based line of the deepest node along ``location`` that exists.

        A part found nowhere (a union's tag pydantic adds, such as ``inbound``) is
        skipped, so that the keys after it still lead to their line.
        """
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for key in location:
            match: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if k.value == str(key)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                match = node.value[key] if key < len(node.value) else None
            if match is None:
                continue
            node = match
            line = node.start_mark.line + 1
        return line


def read_yaml(path: Path) -> YamlDocument:
    """Parse a YAML file; unreadable or malformed files are configuration errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        root, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigurationError(f"{path}:{line}: not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    return YamlDocument(path, data, root)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the data, from one parse of the text."""
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        return root, (None if root is None else loader.construct_document(root))
    finally:
        loader.dispose()


def validate(document: YamlDocument, model: type[M]) -> M:
    """Validate against a pydantic model; each problem becomes 'file:line: field: why'."""
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            field = ".".join(str(part) for part in location) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{document.path}:{document.line_of(location)}: {field}: {message}")
        raise ConfigurationError("\n".join(problems)) from exc
