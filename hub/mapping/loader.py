"""Loading a partner's mapping file, with errors that point at its lines."""

from __future__ import annotations

from pathlib import Path

from hub.errors import ConfigurationError
from hub.mapping.spec import MappingSpec
from hub.yamlfile import read_yaml, validate


def load_mapping(path: Path) -> MappingSpec:
    """Read and validate one mapping file; a code listed twice is refused with its line."""
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigurationError(f"{path}: a mapping file is a YAML mapping with 'version'")
    return validate(document, MappingSpec)
