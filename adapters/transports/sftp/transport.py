"""The SFTP transport for partners who drop files on a server (Atelier Dupont, PiècesPlus):
the hub's Transport port, each call run in the instance's session.

A partner's server is the one piece we cannot fix, so this transport is strict where
trust is at stake (the host key is pinned, never learnt: :mod:`.hostkey`) and forgiving
where networks fail (a dropped session is reopened once, transparently; past that the
engine retries later).
"""

from __future__ import annotations

import logging
import posixpath
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import paramiko

from adapters.transports.sftp.connect import SessionOpener
from adapters.transports.sftp.errors import (
    WIRE_ERRORS,
    SftpConnectionLost,
    SftpPathError,
    SftpRemoteError,
    describe,
)
from adapters.transports.sftp.inbound import Inbox
from adapters.transports.sftp.names import plain_name
from adapters.transports.sftp.outbound import Outbox
from adapters.transports.sftp.session import Session, SessionHolder
from adapters.transports.sftp.settings import SftpSettings
from hub.errors import ConfigurationError
from hub.ports import Closing, MessageRef, RawMessage

__all__ = ["SftpTransport"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class SftpTransport(Closing):
    """The `hub.ports.Transport` for a partner's SFTP server.

    Connects on first use and keeps the session for the next calls; one instance holds
    at most one session, and calls on one instance are serialised. Call `close()` (or
    use it as a context manager) at the end of a run to give the session slot back.
    """

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._where = f"{settings.host}:{settings.port}"
        self._opener = SessionOpener(settings)
        self._inbox = Inbox(settings)
        self._outbox = Outbox(settings)
        self._lock = threading.RLock()
        self._holder = SessionHolder()
        self._finalizer = weakref.finalize(self, self._holder.drop)

    def __repr__(self) -> str:
        return f"SftpTransport({self.settings.username}@{self._where})"

    def close(self) -> None:
        """End the session now; a later call would open a new one."""
        with self._lock:
            self._holder.drop()

    # -- the Transport port ------------------------------------------------------------

    def list(self) -> list[MessageRef]:
        """Complete files waiting for us; files still being written are left alone."""
        return self._run(f"listing {self.settings.remote_dir}", self._inbox.list_files)

    def fetch(self, ref: MessageRef) -> RawMessage:
        """The whole file in memory: the hub archives the exact bytes before parsing."""
        path = self._inbox.path(ref.name)
        return self._run(
            f"reading {path}", lambda sftp, _retried: self._inbox.fetch(sftp, ref, path)
        )

    def acknowledge(self, ref: MessageRef) -> None:
        """Archive (or delete) the file and then its marker, if the partner wants that;
        otherwise the server is not touched."""
        path = self._inbox.path(ref.name)
        marker = self._inbox.marker_path(ref.name)
        archive_dir = self.settings.archive_dir
        if self.settings.delete_acknowledged:
            self._run(
                f"deleting {path}",
                lambda sftp, retried: self._inbox.delete(sftp, path, retried, marker=False),
            )
            if marker is not None:
                self._run(
                    f"deleting {marker}",
                    lambda sftp, retried: self._inbox.delete(sftp, marker, retried, marker=True),
                )
            return
        if archive_dir is None:
            return
        self._run(
            f"archiving {path}",
            lambda sftp, retried: self._inbox.archive(sftp, path, archive_dir, retried),
        )
        if marker is not None:
            self._run(
                f"archiving {marker}",
                lambda sftp, _retried: self._inbox.archive_marker(sftp, marker, archive_dir),
            )

    def put(self, name: str, content: bytes) -> None:
        """Upload under a temporary name, then rename: the partner never sees half a file."""
        outbound_dir = self.settings.outbound_dir
        if outbound_dir is None:
            raise ConfigurationError(f"no outbound_dir is configured for SFTP {self._where}")
        final = posixpath.join(outbound_dir, plain_name(name))
        self._run(
            f"uploading {final}",
            lambda sftp, retried: self._outbox.upload(sftp, final, content, retried),
        )

    # -- sessions ----------------------------------------------------------------------

    def _run(self, what: str, operation: Callable[[paramiko.SFTPClient, bool], _T]) -> _T:
        """Run one operation, reopening a dropped session once.

        `operation` receives `retried=True` when an earlier attempt may have reached the
        server before the session died, so it can recognise work already done.
        """
        with self._lock:
            reconnects_left = 1
            stale = self._holder.session
            if stale is not None and not stale.alive():
                logger.info("SFTP session to %s was closed by the server; reopening", self._where)
                self._holder.drop()
                reconnects_left = 0
            retried = False
            while True:
                session = self._session()
                try:
                    return operation(session.sftp, retried)
                except WIRE_ERRORS as exc:
                    if not self._is_lost(session, exc):
                        raise self._refusal(what, exc) from exc
                    self._holder.drop()
                    if reconnects_left == 0:
                        raise SftpConnectionLost(
                            f"lost the SFTP session to {self._where} while {what} and could "
                            f"not resume it ({describe(exc)}); will retry later"
                        ) from exc
                    logger.warning(
                        "SFTP session to %s dropped while %s (%s); reconnecting once",
                        self._where,
                        what,
                        describe(exc),
                    )
                    reconnects_left -= 1
                    retried = True

    @staticmethod
    def _is_lost(session: Session, exc: BaseException) -> bool:
        """Tell a dead session from a request the server refused on a healthy one."""
        if isinstance(exc, paramiko.AuthenticationException):
            return False
        if isinstance(exc, paramiko.SSHException | ConnectionError | TimeoutError):
            return True
        return not session.alive()

    def _refusal(self, what: str, exc: BaseException) -> Exception:
        if isinstance(exc, FileNotFoundError):
            return SftpPathError(f"{what} on {self._where}: no such file or directory")
        if isinstance(exc, PermissionError):
            return SftpPathError(f"{what} on {self._where}: permission denied by the server")
        return SftpRemoteError(f"the SFTP server {self._where} refused {what}: {describe(exc)}")

    def _session(self) -> Session:
        if self._holder.session is None:
            self._holder.session = self._opener.open()
        return self._holder.session
