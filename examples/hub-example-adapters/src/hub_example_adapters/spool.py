"""The ``jsonl-spool`` transport: messages in JSON-lines spool files in a folder.

Some partner middleware does not drop one file per message but appends each message to
a spool file, one JSON object a line: ``{"id": "...", "body": "..."}``. This transport
lists every spooled message not acknowledged yet, fetches its body, and acknowledges
it in a journal next to the spool files (the spool itself belongs to the partner and is
never rewritten). Writing appends a line to the outbox spool file.

It is I/O only: no status, no mapping. What goes wrong is said with the hub's errors,
by what to do next: a missing folder is the configuration's (``ConfigurationError``), a
file that cannot be read now may be readable later (``TransientError``), and a spool
line that is not a message stops the run for an operator to look (``FatalError``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ConfigurationError, FatalError, TransientError
from hub.ports import AdapterInfo, AdapterKind, Capability, MessageRef, RawMessage

__all__ = ["JSONL_SPOOL", "JsonlSpoolTransport", "SpoolSettings", "build"]

JOURNAL = ".acknowledged"


class SpoolSettings(BaseModel):
    """Where the spool files are, and where the hub spools what it sends."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="jsonl-spool transport")

    folder: str = Field(description="The folder holding the partner's spool files.")
    pattern: str = Field(default="*.jsonl", description="Which files of the folder are spools.")
    outbox: str = Field(
        default="outbox.jsonl",
        pattern=r"^[^/\\]+$",
        description="The spool file (in the folder) the hub appends its messages to.",
    )
    encoding: str = Field(default="utf-8", description="Of the bodies, as bytes to the codec.")


class JsonlSpoolTransport:
    """Implements :class:`hub.ports.Transport` over a folder of JSON-lines spools."""

    def __init__(self, settings: SpoolSettings) -> None:
        self.settings = settings
        self.folder = Path(settings.folder)

    def _spools(self) -> list[Path]:
        if not self.folder.is_dir():
            raise ConfigurationError(f"spool folder {self.folder} does not exist")
        return sorted(
            path
            for path in self.folder.iterdir()
            if path.is_file()
            and fnmatchcase(path.name, self.settings.pattern)
            and path.name != self.settings.outbox
        )

    def _acknowledged(self) -> set[str]:
        journal = self.folder / JOURNAL
        try:
            return set(journal.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:
            return set()
        except OSError as exc:
            raise TransientError(f"cannot read {journal}: {exc.strerror}") from exc

    def _messages(self, spool: Path) -> dict[str, tuple[int, str]]:
        """Message name -> (line, body) of one spool file."""
        try:
            lines = spool.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TransientError(f"cannot read {spool}: {exc.strerror}") from exc
        messages: dict[str, tuple[int, str]] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise FatalError(f"{spool}, line {number}: not a JSON object") from None
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not isinstance(item.get("body"), str)
            ):
                raise FatalError(f"{spool}, line {number}: needs a text 'id' and 'body'")
            messages[f"{spool.name}#{item['id']}"] = (number, item["body"])
        return messages

    def list(self) -> list[MessageRef]:
        done = self._acknowledged()
        refs = []
        for spool in self._spools():
            modified = datetime.fromtimestamp(spool.stat().st_mtime, UTC)
            for name, (_, body) in self._messages(spool).items():
                if name not in done:
                    size = len(body.encode(self.settings.encoding))
                    refs.append(MessageRef(name, size, modified))
        return refs

    def fetch(self, ref: MessageRef) -> RawMessage:
        spool_name, _, _ = ref.name.partition("#")
        spool = self.folder / spool_name
        found = self._messages(spool).get(ref.name)
        if found is None:
            raise TransientError(f"{ref.name} is no longer in {spool}")
        line, body = found
        return RawMessage(
            ref,
            body.encode(self.settings.encoding),
            {"path": str(spool.resolve()), "line": str(line)},
        )

    def acknowledge(self, ref: MessageRef) -> None:
        journal = self.folder / JOURNAL
        try:
            with journal.open("a", encoding="utf-8") as handle:
                handle.write(ref.name + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise TransientError(f"cannot write {journal}: {exc.strerror}") from exc

    def put(self, name: str, content: bytes) -> None:
        line = json.dumps({"id": name, "body": content.decode(self.settings.encoding)})
        outbox = self.folder / self.settings.outbox
        try:
            with outbox.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise TransientError(f"cannot append to {outbox}: {exc.strerror}") from exc


def build(
    settings: SpoolSettings, secrets: Mapping[str, str], default_pattern: str | None
) -> JsonlSpoolTransport:
    """The factory the hub calls with checked settings (this transport needs no secret)."""
    del secrets, default_pattern  # spools are chosen by the settings' own pattern
    return JsonlSpoolTransport(settings)


JSONL_SPOOL = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="jsonl-spool",
    summary="Messages read from JSON-lines spool files in a folder (an example plugin).",
    settings=SpoolSettings,
    factory=build,
    capabilities=frozenset({Capability.LIST, Capability.PUT}),
)
"""The ``jsonl-spool`` entry point of ``hub.transports``."""
