"""The partner's files for the hub: listing the complete ones (files still being written
are left alone), fetching one whole, and acknowledging it by moving it to the archive
(or not touching the server at all)."""

from __future__ import annotations

import logging
import posixpath
import stat
from fnmatch import fnmatchcase

import paramiko

from adapters.transports.completion import CompletionWatch, ListedFile, Listing
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
        self._watch = CompletionWatch(settings.complete_when, settings.partial_suffixes)

    def path(self, name: str) -> str:
        """The full remote path of a listed file."""
        return posixpath.join(self.settings.remote_dir, plain_name(name))

    def list_files(self, sftp: paramiko.SFTPClient, _retried: bool) -> list[MessageRef]:
        """The complete files waiting for us, by name (run inside a session)."""
        complete = self._watch.complete(lambda: self._listing(sftp))
        return [
            MessageRef(name=file.name, size=file.size, modified_at=utc(file.mtime))
            for file in complete
        ]

    def _listing(self, sftp: paramiko.SFTPClient) -> Listing:
        settings = self.settings
        try:
            entries = sftp.listdir_attr(settings.remote_dir)
        except FileNotFoundError as exc:
            raise SftpPathError(
                f"the inbound directory {settings.remote_dir} does not exist on {self._where}"
            ) from exc
        files: list[ListedFile] = []
        for entry in entries:
            name = entry.filename
            if not fnmatchcase(name, settings.pattern):
                continue
            attrs = entry
            if attrs.st_mode is not None and stat.S_ISLNK(attrs.st_mode):
                try:
                    attrs = sftp.stat(posixpath.join(settings.remote_dir, name))
                except FileNotFoundError:
                    continue
            if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
                continue
            mtime = None if attrs.st_mtime is None else float(attrs.st_mtime)
            files.append(ListedFile(name=name, size=attrs.st_size, mtime=mtime))
        return Listing(files=files, names=frozenset(entry.filename for entry in entries))

    def marker_path(self, name: str) -> str | None:
        """The full path of the marker that completed a listed file, if markers are used."""
        marker = self._watch.marker_for(plain_name(name))
        return None if marker is None else posixpath.join(self.settings.remote_dir, marker)

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

    def archive_marker(self, sftp: paramiko.SFTPClient, path: str, archive_dir: str) -> None:
        """Move a file's marker after the file: gone already means moved by an earlier try.

        The file goes first: a marker left behind completes nothing, whereas a file whose
        marker went first would never be listed again.
        """
        if not exists(sftp, path):
            logger.info("SFTP %s: marker %s already gone", self._where, path)
            return
        self.archive(sftp, path, archive_dir, retried=True)

    def delete(self, sftp: paramiko.SFTPClient, path: str, retried: bool, *, marker: bool) -> None:
        """Delete a stored file (or its marker); a retry or a marker may find it gone."""
        try:
            sftp.remove(path)
        except FileNotFoundError as exc:
            if marker or retried:
                logger.info("SFTP %s: %s was already deleted", self._where, path)
                return
            raise SftpFileVanished(
                f"{path} is no longer on {self._where}; nothing to delete"
            ) from exc

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
