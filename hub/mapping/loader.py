"""Loading a partner's mapping file, with errors that point at its lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hub.config.registry import attached_files
from hub.config.yamlfile import YamlDocument, read_yaml, validate
from hub.errors import ConfigurationError, HubError
from hub.mapping.spec import AnswerSpec, ErrorAnswerSpec, InboundSpec, MappingSpec, OutboundSpec
from hub.ports import AdapterInfo, Capability, Codec


def load_mapping(path: Path) -> MappingSpec:
    """Read and validate one mapping file; a code listed twice is refused with its line.

    Each codec's options are checked against its adapter's settings while the file is
    validated; here the files its settings name are read, and each installed codec is
    built once with the message's columns, so that a codec refusing its message fails
    at load, with the message's line, rather than at the first run.
    """
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigurationError(f"{path}: a mapping file is a YAML mapping with 'version'")
    mapping = validate(document, MappingSpec)
    mapping = _with_attached_files(mapping, path.parent)
    problems = [
        problem
        for name, message in mapping.messages.items()
        for problem in _codec_problems(document, name, message)
    ]
    for name, message in mapping.messages.items():
        if isinstance(message, OutboundSpec) and message.answer is not None:
            try:
                build_answer_codec(message.answer)
            except HubError as error:
                line = document.line_of(("messages", name, "answer", "codec"))
                problems.append(f"{path}:{line}: messages.{name}.answer.codec: {error.message}")
    if problems:
        raise ConfigurationError("\n".join(problems))
    return mapping


def message_columns(message: InboundSpec | OutboundSpec) -> list[str] | None:
    """What a codec is built with: the header read, or the columns written."""
    return message.header if isinstance(message, InboundSpec) else list(message.columns)


def build_codec(message: InboundSpec | OutboundSpec) -> Codec:
    """The message's codec, built by its adapter from its checked settings."""
    ref = message.codec
    codec = ref.adapter().info.factory(ref.settings, message_columns(message), message.direction)
    if not isinstance(codec, Codec):
        raise ConfigurationError(f"the {ref.type} codec's factory built no codec")
    return codec


def build_answer_codec(answer: AnswerSpec) -> Codec:
    """The codec that reads a partner's answer, as an inbound message's is built."""
    ref = answer.codec
    codec = ref.adapter().info.factory(ref.settings, None, "inbound")
    if not isinstance(codec, Codec):
        raise ConfigurationError(f"the {ref.type} codec's factory built no codec")
    return codec


def _codec_problems(
    document: YamlDocument, name: str, message: InboundSpec | OutboundSpec
) -> list[str]:
    """An installed codec that cannot serve this message (batch with one record per
    message, options that contradict the message's columns). A codec not installed is
    reported where it is used, with the package to install."""
    ref = message.codec
    try:
        found = ref.adapter()
    except ConfigurationError:
        return []
    where = f"{document.path}:{document.line_of(('messages', name, 'codec'))}"
    problems = []
    if (
        isinstance(message, OutboundSpec)
        and message.batch is not None
        and not found.info.can(Capability.MANY_RECORDS)
    ):
        line = document.line_of(("messages", name, "batch"))
        problems.append(
            f"{document.path}:{line}: messages.{name}.batch: batch needs a codec that holds "
            f"several records in one message (such as csv); a {ref.type} message holds one"
        )
    if (
        isinstance(message, InboundSpec)
        and message.sequence is not None
        and message.sequence.field is not None
        and not found.info.enabled(ref.settings) & {Capability.DOCUMENT}
    ):
        line = document.line_of(("messages", name, "sequence"))
        problems.append(
            f"{document.path}:{line}: messages.{name}.sequence.field: the {ref.type} codec "
            "gives no document fields to read a sequence number from; use name_pattern "
            "(the number in the file name)"
        )
    if isinstance(message, InboundSpec) and message.error_answer is not None:
        problems.extend(
            _error_answer_problems(document, name, message, message.error_answer, found.info)
        )
    try:
        found.info.factory(ref.settings, message_columns(message), message.direction)
    except HubError as error:
        setting = error.setting if isinstance(error, ConfigurationError) else ()
        if setting:
            line = document.line_of(("messages", name, "codec", *setting))
            problems.append(
                f"{document.path}:{line}: messages.{name}.codec.{'.'.join(setting)}: "
                f"{error.message}"
            )
        else:
            problems.append(f"{where}: messages.{name}.codec: {error.message}")
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must read as a sentence
        problems.append(
            f"{where}: messages.{name}.codec: the {ref.type} codec ({found.package}) failed "
            f"to build: {type(exc).__name__}: {exc}"
        )
    return problems


def _error_answer_problems(
    document: YamlDocument,
    name: str,
    message: InboundSpec,
    answer: ErrorAnswerSpec,
    info: AdapterInfo,
) -> list[str]:
    """An error answer is told by document fields: the codec must give them, and every
    name it uses must be one the codec's ``document_fields`` declares (when its settings
    list them by name, as json, xml and edifact do)."""
    line = document.line_of(("messages", name, "error_answer"))
    where = f"{document.path}:{line}: messages.{name}.error_answer"
    settings = message.codec.settings
    if not info.enabled(settings) & {Capability.DOCUMENT}:
        return [
            f"{where}: the {message.codec.type} codec gives no document fields to tell "
            "an error answer by"
        ]
    declared = getattr(settings, "document_fields", None)
    if not isinstance(declared, Mapping):
        return []
    unknown = [n for n in answer.fields_named() if n not in declared]
    if not unknown:
        return []
    return [
        f"{where}: {', '.join(sorted(set(unknown)))} not among the codec's document_fields "
        f"({', '.join(declared) or 'none declared'}): declare each with its path"
    ]


def _with_attached_files(mapping: MappingSpec, folder: Path) -> MappingSpec:
    """Files a codec's settings name (an XSD) are written relative to the mapping file;
    codecs get them absolute, with their content, since a codec reads no file."""
    messages = {}
    for name, message in mapping.messages.items():
        ref = message.codec
        try:
            settings = ref.settings
        except ConfigurationError:
            messages[name] = message  # not installed: said where it is used
            continue
        updates: dict[str, object] = {}
        for field, marker in attached_files(settings).items():
            value = getattr(settings, field)
            if value is None:
                continue
            file = (folder / str(value)).resolve()
            if not file.is_file():
                raise ConfigurationError(f"message {name!r}: {field} file {file} does not exist")
            try:
                content = file.read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"message {name!r}: {field} file {file}: {exc}") from exc
            updates[field] = str(file)
            updates[marker.content_field] = content
        if updates:
            message = message.model_copy(
                update={"codec": ref.with_settings(settings.model_copy(update=updates))}
            )
        messages[name] = message
    return mapping.model_copy(update={"messages": messages})
