"""A folder on the hub's machine: drop folders, mounted shares, and integrators' trials.

Same contract as the SFTP transport (complete files only, archive or remember,
write-then-rename), so a connector can move from a folder to a server by configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ConfigurationError, OutboundNameTaken, TransientError
from hub.ports import AdapterInfo, AdapterKind, Capability, MessageRef, RawMessage


class LocalFileVanished(TransientError):
    """A listed file disappeared before it was read (someone else moved it)."""


class LocalDirTransport:
    """Reads complete files from a folder and writes files atomically into another."""

    def __init__(
        self,
        path: Path,
        *,
        pattern: str = "*",
        archive_dir: Path | None = None,
        outbound_dir: Path | None = None,
        partial_suffixes: tuple[str, ...] = (".tmp", ".part"),
    ) -> None:
        if not path.is_dir():
            raise ConfigurationError(f"local folder {path} does not exist")
        self.path = path
        self.pattern = pattern
        self.archive_dir = archive_dir
        self.outbound_dir = outbound_dir
        self.partial_suffixes = partial_suffixes

    def list(self) -> list[MessageRef]:
        refs = []
        for entry in sorted(self.path.iterdir()):
            if not entry.is_file() or entry.name.endswith(self.partial_suffixes):
                continue
            if not fnmatchcase(entry.name, self.pattern):
                continue
            info = entry.stat()
            refs.append(
                MessageRef(entry.name, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))
            )
        return refs

    def fetch(self, ref: MessageRef) -> RawMessage:
        file = self.path / ref.name
        try:
            content = file.read_bytes()
        except FileNotFoundError as exc:
            raise LocalFileVanished(f"{file} disappeared before it was read") from exc
        return RawMessage(ref, content, {"path": str(file)})

    def acknowledge(self, ref: MessageRef) -> None:
        if self.archive_dir is None:
            return
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        target = self.archive_dir / ref.name
        counter = 1
        while target.exists():
            stem, dot, suffix = ref.name.rpartition(".")
            target = self.archive_dir / (
                f"{stem}.{counter}.{suffix}" if dot else f"{ref.name}.{counter}"
            )
            counter += 1
        (self.path / ref.name).rename(target)

    def put(self, name: str, content: bytes) -> None:
        folder = self.outbound_dir or self.path
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / name
        if final.exists():
            raise OutboundNameTaken(
                f"{final} already waits there; it is not overwritten and the message will "
                "be sent again under a new name"
            )
        partial = folder / f"{name}.tmp"
        partial.write_bytes(content)
        try:
            os.link(partial, final)  # unlike a rename, a link never replaces a file
        except FileExistsError as exc:
            raise OutboundNameTaken(f"{final} was written meanwhile; sent again later") from exc
        finally:
            partial.unlink()


class LocalDirTransportSpec(BaseModel):
    """A folder on the hub's machine (a drop folder, or a partner's share mounted here)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="local-dir transport")

    path: str
    pattern: str | None = None
    archive_dir: str | None = None
    outbound_dir: str | None = None
    partial_suffixes: list[str] = Field(default_factory=lambda: [".tmp", ".part"])


def transport_from_spec(
    spec: LocalDirTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> LocalDirTransport:
    """The transport a connectors.yaml entry describes (registered as ``local-dir``)."""
    del secrets  # a local folder needs none
    return LocalDirTransport(
        Path(spec.path),
        pattern=spec.pattern or default_pattern or "*",
        archive_dir=Path(spec.archive_dir) if spec.archive_dir else None,
        outbound_dir=Path(spec.outbound_dir) if spec.outbound_dir else None,
        partial_suffixes=tuple(spec.partial_suffixes),
    )


LOCAL_DIR = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="local-dir",
    summary="A folder on the hub's machine: files listed, read, archived and written.",
    settings=LocalDirTransportSpec,
    factory=transport_from_spec,
    capabilities=frozenset({Capability.LIST, Capability.PUT}),
)
"""The ``local-dir`` entry point of ``hub.transports``."""
