"""A folder on the hub's machine: drop folders, mounted shares, and integrators' trials.

Same contract as the SFTP transport (complete files only, by the same `complete_when`;
archive, delete or remember; write-then-rename), so a connector can move from a folder
to a server by configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from adapters.transports.completion import CompleteWhen, CompletionWatch, ListedFile, Listing
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
        complete_when: CompleteWhen | None = None,
        delete_acknowledged: bool = False,
        watch: CompletionWatch | None = None,
    ) -> None:
        if not path.is_dir():
            raise ConfigurationError(f"local folder {path} does not exist")
        if delete_acknowledged and archive_dir is not None:
            raise ConfigurationError(f"local folder {path}: delete or archive, not both")
        self.path = path
        self.pattern = pattern
        self.archive_dir = archive_dir
        self.outbound_dir = outbound_dir
        self.partial_suffixes = partial_suffixes
        self.delete_acknowledged = delete_acknowledged
        self._watch = watch or CompletionWatch(complete_when, partial_suffixes)

    def list(self) -> list[MessageRef]:
        return [
            MessageRef(
                file.name,
                file.size,
                None if file.mtime is None else datetime.fromtimestamp(file.mtime, UTC),
            )
            for file in self._watch.complete(self._listing)
        ]

    def _listing(self) -> Listing:
        names: set[str] = set()
        files: list[ListedFile] = []
        for entry in self.path.iterdir():
            names.add(entry.name)
            if not fnmatchcase(entry.name, self.pattern):
                continue
            try:
                if not entry.is_file():
                    continue
                info = entry.stat()
            except FileNotFoundError:
                continue
            files.append(ListedFile(entry.name, info.st_size, info.st_mtime))
        return Listing(files, frozenset(names))

    def fetch(self, ref: MessageRef) -> RawMessage:
        file = self.path / ref.name
        try:
            content = file.read_bytes()
        except FileNotFoundError as exc:
            raise LocalFileVanished(f"{file} disappeared before it was read") from exc
        return RawMessage(ref, content, {"path": str(file)})

    def acknowledge(self, ref: MessageRef) -> None:
        """Archive or delete the file, then its marker (a marker left alone completes
        nothing; a file whose marker went first would never be listed again)."""
        marker = self._watch.marker_for(ref.name)
        if self.delete_acknowledged:
            (self.path / ref.name).unlink()
            if marker is not None:
                (self.path / marker).unlink(missing_ok=True)
            return
        if self.archive_dir is None:
            return
        self._archive(ref.name, self.archive_dir)
        if marker is not None and (self.path / marker).exists():
            self._archive(marker, self.archive_dir)

    def _archive(self, name: str, archive_dir: Path) -> None:
        archive_dir.mkdir(parents=True, exist_ok=True)
        target = archive_dir / name
        counter = 1
        while target.exists():
            stem, dot, suffix = name.rpartition(".")
            target = archive_dir / (f"{stem}.{counter}.{suffix}" if dot else f"{name}.{counter}")
            counter += 1
        (self.path / name).rename(target)

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
    complete_when: CompleteWhen | None = Field(
        default=None,
        description="What tells that a file is complete, beyond partial_suffixes: a "
        "marker file, a temporary suffix, or a size that stopped changing.",
    )
    delete_acknowledged: bool = Field(
        default=False,
        description="Delete read files (and their markers) instead of archiving them.",
    )


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
        complete_when=spec.complete_when,
        delete_acknowledged=spec.delete_acknowledged,
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
