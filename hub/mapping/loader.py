"""Loading a partner's mapping file, with errors that point at its lines."""

from __future__ import annotations

from pathlib import Path

from hub.config.yamlfile import read_yaml, validate
from hub.errors import ConfigurationError
from hub.mapping.spec import MappingSpec, XmlCodecSpec


def load_mapping(path: Path) -> MappingSpec:
    """Read and validate one mapping file; a code listed twice is refused with its line."""
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigurationError(f"{path}: a mapping file is a YAML mapping with 'version'")
    mapping = validate(document, MappingSpec)
    return _with_absolute_schemas(mapping, path.parent)


def _with_absolute_schemas(mapping: MappingSpec, folder: Path) -> MappingSpec:
    """XSD paths are written relative to the mapping file; codecs get them absolute, with
    the XSD's content, since a codec reads no file."""
    messages = {}
    for name, message in mapping.messages.items():
        codec = message.codec
        if isinstance(codec, XmlCodecSpec) and codec.xsd is not None:
            xsd = (folder / codec.xsd).resolve()
            if not xsd.is_file():
                raise ConfigurationError(f"message {name!r}: XSD file {xsd} does not exist")
            try:
                content = xsd.read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"message {name!r}: XSD file {xsd}: {exc}") from exc
            message = message.model_copy(
                update={
                    "codec": codec.model_copy(update={"xsd": str(xsd), "xsd_document": content})
                }
            )
        messages[name] = message
    return mapping.model_copy(update={"messages": messages})
