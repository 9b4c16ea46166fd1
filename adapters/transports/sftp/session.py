"""Sessions to a partner's server: the slots an account allows, shared by the whole
process; one live session and the slot it holds until closed; and closing it so that
the server has seen the end."""

from __future__ import annotations

import logging
import socket
import threading

import paramiko

from adapters.transports.sftp.errors import WIRE_ERRORS

__all__ = ["Session", "SessionHolder", "close_transport", "exists", "session_slots", "sftp_alive"]

logger = logging.getLogger(__name__)


def sftp_alive(sftp: paramiko.SFTPClient) -> bool:
    """Whether the SFTP channel and its SSH connection are still open."""
    channel = sftp.get_channel()
    return channel is not None and not channel.closed and channel.get_transport().is_active()


def exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    """Whether a remote path exists (a session that died raises)."""
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


# Partners limit concurrent sessions per account; every transport of this process that
# talks to the same account shares one semaphore, whatever connector created it.
_slots_lock = threading.Lock()
_slots: dict[tuple[str, int, str], tuple[int, threading.BoundedSemaphore]] = {}


def session_slots(host: str, port: int, username: str, limit: int) -> threading.BoundedSemaphore:
    """The semaphore of one account, shared by every transport of this process."""
    key = (host.lower(), port, username)
    with _slots_lock:
        known = _slots.get(key)
        if known is None:
            known = (limit, threading.BoundedSemaphore(limit))
            _slots[key] = known
        elif known[0] != limit:
            logger.warning(
                "SFTP %s@%s:%d: max_sessions %d ignored, this process already uses %d",
                username,
                host,
                port,
                limit,
                known[0],
            )
        return known[1]


def close_transport(transport: paramiko.Transport) -> None:
    """Close so that the server has seen the end when this returns.

    paramiko's close() returns while its reader thread may still sit in recv(), which
    keeps the connection open on the server's side for a moment: freeing the session
    slot then would let one session more than allowed overlap. Shutting the socket down
    first ends it at once; then wait for the thread.
    """
    sock = transport.sock
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("SFTP socket was already closed", exc_info=True)
    transport.close()
    if transport.is_alive() and transport is not threading.current_thread():
        transport.join(timeout=5)


class Session:
    """One live SSH connection and the concurrency slot it holds until closed."""

    def __init__(
        self,
        transport: paramiko.Transport,
        sftp: paramiko.SFTPClient,
        slot: threading.BoundedSemaphore,
    ) -> None:
        self.transport = transport
        self.sftp = sftp
        self._slot = slot
        self._closed = False
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.transport.is_active() and sftp_alive(self.sftp)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            try:
                self.sftp.close()
            except WIRE_ERRORS:
                logger.debug("SFTP channel was already gone when closing", exc_info=True)
            close_transport(self.transport)
        finally:
            self._slot.release()


class SessionHolder:
    """Owns the current session apart from the transport so a finalizer can close it."""

    def __init__(self) -> None:
        self.session: Session | None = None

    def drop(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()
