"""The partner's files for the hub: listing the complete ones (files still being written
are left alone), fetching one whole, and acknowledging it by moving it to the archive
(or not touching the server at all)."""

from __future__ import annotations

import logging
import posixpath
import stat
from fnmatch import fnmatchcase

import paramiko

from adapters.transports.sftp.errors import SftpFileVanished, SftpPathError, SftpRemoteError
from adapters.transports.sftp.names import archive_names, plain_name, utc
from adapters.transports.sftp.session import exists, sftp_alive
from adapters.transports.sftp.settings import SftpSettings
from hub.ports import MessageRef, RawMessage

__all__ = ["Inbox"]

logger = logging.getLogger(__name__)


class Inbox:
    """The inbound (and archive) directories of one server; each call runs in a session."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._where = f"{settings.host}:{settings.port}"

    def path(self, name: str) -> str:
        """The full remote path of a listed file."""
        return posixpath.join(self.settings.remote_dir, plain_name(name))

    def list_files(self, sftp: paramiko.SFTPClient, _retried: bool) -> list[MessageRef]:
        """The complete files waiting for us, by name (run inside a session)."""
        settings = self.settings
        try:
            entries = sftp.listdir_attr(settings.remote_dir)
        except FileNotFoundError as exc:
            raise SftpPathError(
                f"the inbound directory {settings.remote_dir} does not exist on {self._where}"
            ) from exc
        refs: list[MessageRef] = []
        for entry in entries:
            name = entry.filename
            if not fnmatchcase(name, settings.pattern):
                continue
            if name.endswith(settings.partial_suffixes):
                continue
            attrs = entry
            if attrs.st_mode is not None and stat.S_ISLNK(attrs.st_mode):
                try:
                    attrs = sftp.stat(posixpath.join(settings.remote_dir, name))
                except FileNotFoundError:
                    continue
            if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
                continue
            refs.append(MessageRef(name=name, size=attrs.st_size, modified_at=utc(attrs.st_mtime)))
        refs.sort(key=lambda ref: ref.name)
        return refs

    def fetch(self, sftp: paramiko.SFTPClient, ref: MessageRef, path: str) -> RawMessage:
        """The whole file and where it came from."""
        try:
            with sftp.open(path, "rb") as handle:
                attrs = handle.stat()
                handle.prefetch(attrs.st_size)
                content = handle.read()
        except FileNotFoundError as exc:
            raise SftpFileVanished(
                f"{path} was listed on {self._where} but is gone before it could be read"
            ) from exc
        metadata = {
            "host": self.settings.host,
            "port": str(self.settings.port),
            "path": path,
            "size": str(len(content)),
        }
        modified_at = utc(attrs.st_mtime)
        if modified_at is not None:
            metadata["mtime"] = modified_at.isoformat()
        return RawMessage(ref=ref, content=content, metadata=metadata)

    def archive(
        self, sftp: paramiko.SFTPClient, path: str, archive_dir: str, retried: bool
    ) -> None:
        """Move the file to the archive under a free name; a retry recognises its own move."""
        for candidate in archive_names(posixpath.basename(path)):
            target = posixpath.join(archive_dir, candidate)
            if exists(sftp, target):
                continue
            try:
                sftp.rename(path, target)
            except FileNotFoundError:
                self._explain_missing(sftp, path, archive_dir, retried)
                return
            except OSError:
                # SFTP rename refuses an existing target: someone took the name since
                # we looked, so try the next one; any other refusal is real.
                if sftp_alive(sftp) and exists(sftp, target):
                    continue
                raise
            if candidate != posixpath.basename(path):
                logger.warning(
                    "SFTP %s: %s already in %s, archived as %s",
                    self._where,
                    posixpath.basename(path),
                    archive_dir,
                    candidate,
                )
            return
        raise SftpRemoteError(
            f"no free name left in {archive_dir} on {self._where} to archive {path}"
        )

    def _explain_missing(
        self, sftp: paramiko.SFTPClient, path: str, archive_dir: str, retried: bool
    ) -> None:
        if not exists(sftp, archive_dir):
            raise SftpPathError(
                f"the archive directory {archive_dir} does not exist on {self._where}"
            )
        if exists(sftp, path):
            raise SftpRemoteError(f"the SFTP server {self._where} could not move {path}")
        if retried:
            # Only the hub moves files out of the inbound directory: the rename sent
            # before the session dropped did happen, only its reply was lost.
            logger.info("SFTP %s: %s was archived before the session dropped", self._where, path)
            return
        raise SftpFileVanished(f"{path} is no longer on {self._where}; nothing to archive")
