"""Files the hub sends: written under a temporary name, checked for size, then renamed,
so that the partner never sees half a file and never loses one it has not read."""

from __future__ import annotations

import logging
import posixpath

import paramiko

from adapters.transports.sftp.errors import WIRE_ERRORS, SftpPathError, SftpRemoteError
from adapters.transports.sftp.session import sftp_alive
from adapters.transports.sftp.settings import SftpSettings
from hub.errors import OutboundNameTaken

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)


class Outbox:
    """The outbound directory of one server; each upload runs in a session."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._where = f"{settings.host}:{settings.port}"

    def upload(self, sftp: paramiko.SFTPClient, final: str, content: bytes, retried: bool) -> None:
        """Write ``final`` whole or not at all; a retry recognises its own upload."""
        if retried and self._holds(sftp, final, content):
            logger.info("SFTP %s: %s was uploaded before the session dropped", self._where, final)
            return
        partial = final + self.settings.upload_suffix
        self._refuse_taken(sftp, final)
        try:
            with sftp.open(partial, "wb") as handle:
                handle.set_pipelined(True)
                handle.write(content)
            self._check_written(sftp, partial, len(content))
            self._move_into_place(sftp, partial, final)
        except FileNotFoundError as exc:
            raise SftpPathError(
                f"the outbound directory {posixpath.dirname(final)} does not exist on {self._where}"
            ) from exc
        except (*WIRE_ERRORS, SftpRemoteError, OutboundNameTaken):
            if sftp_alive(sftp):
                self._discard(sftp, partial)
            raise

    def _check_written(self, sftp: paramiko.SFTPClient, partial: str, expected: int) -> None:
        """Pipelined writes report failures late; the size on the server is the proof."""
        written = sftp.stat(partial).st_size
        if written is not None and written != expected:
            raise SftpRemoteError(
                f"{partial} on {self._where} holds {written} bytes after upload instead "
                f"of {expected}; it was not renamed to its final name"
            )

    def _refuse_taken(self, sftp: paramiko.SFTPClient, final: str) -> None:
        """posix-rename replaces a file: one the partner has not read yet would be lost."""
        try:
            sftp.stat(final)
        except FileNotFoundError:
            return
        raise OutboundNameTaken(
            f"{final} already waits on {self._where}; it is not overwritten and the "
            "message will be sent again under a new name"
        )

    def _move_into_place(self, sftp: paramiko.SFTPClient, partial: str, final: str) -> None:
        self._refuse_taken(sftp, final)  # again: another upload may have finished meanwhile
        try:
            sftp.posix_rename(partial, final)
        except (FileNotFoundError, PermissionError):
            raise
        except OSError:
            if not sftp_alive(sftp):
                raise
            # Servers without the posix-rename extension: a plain SFTP rename is as
            # atomic, it only refuses to replace an existing file.
            logger.debug("SFTP %s: posix-rename refused, using rename", self._where)
            sftp.rename(partial, final)

    @staticmethod
    def _holds(sftp: paramiko.SFTPClient, path: str, content: bytes) -> bool:
        try:
            attrs = sftp.stat(path)
        except FileNotFoundError:
            return False
        if attrs.st_size != len(content):
            return False
        with sftp.open(path, "rb") as handle:
            handle.prefetch(len(content))
            return handle.read() == content

    def _discard(self, sftp: paramiko.SFTPClient, partial: str) -> None:
        try:
            sftp.remove(partial)
        except WIRE_ERRORS:
            logger.warning("SFTP %s: could not remove %s", self._where, partial, exc_info=True)
