"""Settings from the environment and the network file (connectors.yaml).

Errors point at the file and line of the problem in plain words, because the people
who edit connectors.yaml are integrators, not the hub's developers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import ConfigurationError
from hub.model.parties import Party

DEFAULT_DATABASE_URL = "sqlite:///hub.db"
"""A file in the working directory: the embedded default, nothing to install."""

DATABASE_URL_VARIABLE = "HUB_DATABASE_URL"
NETWORK_FILE_VARIABLE = "HUB_CONNECTORS"
DEFAULT_NETWORK_FILE = "connectors.yaml"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL


def network_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(NETWORK_FILE_VARIABLE) or DEFAULT_NETWORK_FILE)


class NetworkConfig(BaseModel):
    """The partner network: who the parties are (connectors come with the adapters)."""

    model_config = ConfigDict(extra="forbid", title="connectors.yaml")

    version: Literal[1] = Field(description="Format version of this file.")
    parties: list[Party] = Field(description="Every company the hub talks to or for.")

    @field_validator("parties")
    @classmethod
    def _unique_party_ids(cls, parties: list[Party]) -> list[Party]:
        first_index: dict[str, int] = {}
        for index, party in enumerate(parties):
            if party.id in first_index:
                raise ValueError(
                    f"party id {party.id!r} is listed twice (items {first_index[party.id]} "
                    f"and {index})"
                )
            first_index[party.id] = index
        return parties


def _locate(node: yaml.Node, path: tuple[int | str, ...]) -> int:
    """The 1-based line of the deepest node along ``path`` that exists."""
    line = node.start_mark.line + 1
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def load_network(path: Path) -> NetworkConfig:
    """Read and validate connectors.yaml; a problem names its file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the network file ({exc.strerror})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    if root is None or not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a mapping with 'version' and 'parties'")
    try:
        return NetworkConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            field = ".".join(str(part) for part in location) or "(top level)"
            problems.append(f"{path}:{_locate(root, location)}: {field}: {error['msg']}")
        raise ConfigurationError("\n".join(problems)) from exc
