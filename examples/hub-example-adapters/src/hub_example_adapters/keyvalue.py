"""The ``keyvalue`` codec: records written as blocks of ``key=value`` lines.

A message holds one or more blocks separated by blank lines; lines starting with the
comment prefix are ignored. A line without the separator, or a key given twice in one
block, rejects that block alone (the others are still read), as the codec contract asks:
a bad record is yielded as an error, never raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import Location, ModelError, PartnerDataError
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult, Record

__all__ = ["KEYVALUE", "KeyValueCodec", "KeyValueSettings", "build"]


class KeyValueSettings(BaseModel):
    """How the partner writes its key=value messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="keyvalue codec")

    separator: str = Field(default="=", min_length=1, max_length=3)
    encoding: Literal["utf-8", "latin-1"] = "utf-8"
    comment_prefix: str | None = Field(
        default="#", min_length=1, description="Lines starting with it are ignored."
    )
    keys: list[str] | None = Field(
        default=None,
        description="When reading: the keys a block may have (others reject it). When "
        "writing: the keys written, in this order; by default the record's own order.",
    )

    @model_validator(mode="after")
    def _separator_is_not_a_comment(self) -> KeyValueSettings:
        if self.comment_prefix is not None and self.comment_prefix.startswith(self.separator):
            raise ValueError("comment_prefix cannot start with the separator")
        return self


class KeyValueRecordError(PartnerDataError):
    """A block that is not key=value lines: rejected alone."""


class KeyValueCodec:
    """Implements :class:`hub.ports.Codec`; pure, no I/O."""

    def __init__(self, settings: KeyValueSettings, columns: Sequence[str] | None = None) -> None:
        self.settings = settings
        self._keys = list(settings.keys or columns or []) or None

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        try:
            text = content.decode(self.settings.encoding)
        except UnicodeDecodeError as exc:
            yield KeyValueRecordError(
                f"not {self.settings.encoding} text (byte {exc.start})",
                location=Location(source),
            )
            return
        block: list[tuple[int, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                if block:
                    yield self._record(block, source)
                block = []
                continue
            prefix = self.settings.comment_prefix
            if prefix is not None and line.lstrip().startswith(prefix):
                continue
            block.append((number, line))
        if block:
            yield self._record(block, source)

    def _record(self, block: list[tuple[int, str]], source: str) -> DecodeResult:
        first = block[0][0]
        raw = "\n".join(line for _, line in block)
        fields: dict[str, str | None] = {}
        for number, line in block:
            key, found, value = line.partition(self.settings.separator)
            key = key.strip()
            if not found or not key:
                return KeyValueRecordError(
                    f"line is not key{self.settings.separator}value",
                    location=Location(source, number),
                    raw=raw,
                )
            if key in fields:
                return KeyValueRecordError(
                    f"{key!r} is given twice in one record",
                    location=Location(source, number, key),
                    raw=raw,
                )
            if self._keys is not None and key not in self._keys:
                return KeyValueRecordError(
                    f"unknown key {key!r}", location=Location(source, number, key), raw=raw
                )
            fields[key] = value.strip()
        return Record(line=first, fields=fields, raw=raw)

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        blocks = []
        for record in records:
            keys = self._keys or list(record)
            lines = []
            for key in keys:
                value = record.get(key)
                if value is None:
                    continue
                if "\n" in value or "\r" in value:
                    raise ModelError(f"{key!r}: a key=value line cannot hold a line break")
                lines.append(f"{key}{self.settings.separator}{value}")
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks).encode(self.settings.encoding)


def build(
    settings: KeyValueSettings, columns: Sequence[str] | None, direction: str
) -> KeyValueCodec:
    """The factory the hub calls with checked settings and the message's columns."""
    del direction  # the same format both ways
    return KeyValueCodec(settings, columns)


KEYVALUE = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="keyvalue",
    summary="Blocks of key=value lines, one record each (an example plugin).",
    settings=KeyValueSettings,
    factory=build,
    capabilities=frozenset({Capability.DECODE, Capability.ENCODE, Capability.MANY_RECORDS}),
)
"""The ``keyvalue`` entry point of ``hub.codecs``."""
