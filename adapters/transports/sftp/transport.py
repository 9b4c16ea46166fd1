"""SFTP transport for partners who drop files on a server (Atelier Dupont, PiècesPlus).

A partner's server is the one piece we cannot fix, so this module is strict where trust
is at stake (the host key is pinned, never learnt) and forgiving where networks fail (a
dropped session is reopened once, transparently; past that the engine retries later).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
import logging
import posixpath
import socket
import stat
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from types import TracebackType
from typing import TypeVar

import paramiko
from paramiko.pkey import UnknownKeyType
from paramiko.sftp import SFTPError
from paramiko.ssh_exception import IncompatiblePeer
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.config.connector_spec import EnvName
from hub.errors import ConfigurationError, FatalError, OutboundNameTaken, TransientError
from hub.ports import AdapterInfo, AdapterKind, Capability, MessageRef, RawMessage

__all__ = [
    "SFTP",
    "HostKeyMismatch",
    "SftpAuthenticationError",
    "SftpConnectionLost",
    "SftpFileVanished",
    "SftpPathError",
    "SftpRemoteError",
    "SftpSessionsBusy",
    "SftpSettings",
    "SftpTransport",
    "SftpTransportSpec",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Refs = list[MessageRef]

# What paramiko raises when a request fails, whether the server refused it or the
# session died; which of the two it was is decided by looking at the session.
_WIRE_ERRORS = (OSError, EOFError, paramiko.SSHException, SFTPError)

# How many "NAME.n.ext" names to try in the archive before giving up on a clash.
_ARCHIVE_NAME_ATTEMPTS = 1000


class HostKeyMismatch(FatalError):
    """The server is not the one the partner vouched for: talking to it could leak data."""


class SftpAuthenticationError(ConfigurationError):
    """Our credentials were refused or unusable: only someone fixing the secret can help."""


class SftpConnectionLost(TransientError):
    """The server was unreachable or the session dropped: the network, not us; retry later."""


class SftpSessionsBusy(TransientError):
    """Every session the partner allows is in use by this process: retry later."""


class SftpPathError(ConfigurationError):
    """A configured directory is missing or forbidden: the connector's paths need fixing."""


class SftpFileVanished(TransientError):
    """A listed file went away before we used it; the next run will list afresh."""


class SftpRemoteError(FatalError):
    """The server refused an operation for a reason that retrying will not cure."""


@dataclass(frozen=True, kw_only=True)
class SftpSettings:
    """One partner server as `connectors.yaml` describes it, secrets already resolved.

    Secret values are excluded from the repr so that logging the settings is safe.
    `host_key` is either an OpenSSH public key line or a "SHA256:..." fingerprint, as the
    partner sent it. With `archive_dir` set, acknowledged files are moved there; without
    it the server is left untouched and the engine's store remembers what was read.
    """

    host: str
    port: int = 22
    username: str
    host_key: str
    remote_dir: str
    outbound_dir: str | None = None
    archive_dir: str | None = None
    pattern: str = "*"
    partial_suffixes: tuple[str, ...] = (".tmp", ".part")
    upload_suffix: str = ".tmp"
    private_key: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    connect_timeout: float = 15.0
    operation_timeout: float = 60.0
    session_wait_timeout: float = 120.0
    max_sessions: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "partial_suffixes", tuple(self.partial_suffixes))
        problems: list[str] = []
        if not self.host:
            problems.append("host is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is not a TCP port")
        if not self.username:
            problems.append("username is empty")
        if not self.remote_dir:
            problems.append("remote_dir is empty")
        if not self.pattern:
            problems.append("pattern is empty")
        if not self.upload_suffix:
            problems.append("upload_suffix is empty: uploads must be written under another name")
        if any(not suffix for suffix in self.partial_suffixes):
            problems.append(
                "partial_suffixes contains an empty suffix, which would hide every file"
            )
        if self.private_key is None and self.password is None:
            problems.append("neither a private key nor a password was given")
        if self.max_sessions < 1:
            problems.append(f"max_sessions is {self.max_sessions}; it must be at least 1")
        for name in ("connect_timeout", "operation_timeout", "session_wait_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if problems:
            raise ConfigurationError(
                f"SFTP settings for {self.host}:{self.port}: " + "; ".join(problems)
            )
        _parse_pin(self.host_key)


@dataclass(frozen=True)
class _Pin:
    """The host key we trust; its type is known only when the whole key was pinned."""

    fingerprint: str
    key_type: str | None


def _fingerprint(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def _blob_type(blob: bytes) -> str | None:
    """The key type written inside an SSH public key blob, to reject mislabelled keys."""
    if len(blob) < 4:
        return None
    length = int.from_bytes(blob[:4], "big")
    if length == 0 or length > len(blob) - 4:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _parse_pin(text: str) -> _Pin:
    value = text.strip()
    if value[:7].upper() == "SHA256:":
        digest = value[7:].rstrip("=")
        if len(_b64decode(digest)) != hashlib.sha256().digest_size:
            raise ConfigurationError(
                "host_key looks like a fingerprint but is not a SHA256 one: expected "
                "'SHA256:' followed by 43 base64 characters, as `ssh-keygen -lf` prints"
            )
        return _Pin("SHA256:" + digest, None)
    # "type base64 [comment]", possibly preceded by host names as in known_hosts.
    tokens = value.split()
    for key_type, encoded in itertools.pairwise(tokens):
        blob = _b64decode(encoded)
        if blob and _blob_type(blob) == key_type:
            return _Pin(_fingerprint(blob), key_type)
    raise ConfigurationError(
        "host_key must be the server's OpenSSH public key ('ssh-ed25519 AAAA...') "
        "or its fingerprint ('SHA256:...')"
    )


def _host_key_algorithms(key_type: str) -> tuple[str, ...]:
    """Algorithms that prove possession of a key of this type (RSA has three)."""
    if key_type == "ssh-rsa":
        return ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
    return (key_type,)


def _load_private_key(value: str, passphrase: str | None) -> paramiko.PKey:
    """Read a key given as text or as a path; errors never quote the key itself."""
    if "-----BEGIN" in value:
        for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return key_class.from_private_key(io.StringIO(value), password=passphrase)
            except paramiko.PasswordRequiredException:
                raise SftpAuthenticationError(
                    "the private key is encrypted and no passphrase was given"
                ) from None
            except (paramiko.SSHException, ValueError, TypeError, IndexError):
                continue
        raise SftpAuthenticationError(
            "the private key text could not be read: unsupported type, damaged, or wrong passphrase"
        )
    try:
        return paramiko.PKey.from_path(value, password=passphrase)
    except FileNotFoundError:
        raise SftpAuthenticationError(f"the private key file {value} does not exist") from None
    except TypeError:
        raise SftpAuthenticationError(
            f"the private key file {value} is encrypted and no passphrase was given"
        ) from None
    except (OSError, ValueError, IndexError, paramiko.SSHException, UnknownKeyType):
        raise SftpAuthenticationError(
            f"the private key file {value} could not be read: unsupported type, damaged, "
            "or wrong passphrase"
        ) from None


def _utc(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=UTC)


def _plain_name(name: str) -> str:
    """Refuse names that would reach outside the configured directory."""
    if not name or name in {".", ".."} or "/" in name or "\x00" in name:
        raise ConfigurationError(f"{name!r} is not a plain file name")
    return name


def _archive_names(name: str) -> Iterator[str]:
    """NAME.csv, then NAME.1.csv, NAME.2.csv...: a clash must never overwrite a file."""
    yield name
    stem, extension = posixpath.splitext(name)
    for number in range(1, _ARCHIVE_NAME_ATTEMPTS):
        yield f"{stem}.{number}{extension}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _sftp_alive(sftp: paramiko.SFTPClient) -> bool:
    channel = sftp.get_channel()
    return channel is not None and not channel.closed and channel.get_transport().is_active()


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


# Partners limit concurrent sessions per account; every transport of this process that
# talks to the same account shares one semaphore, whatever connector created it.
_slots_lock = threading.Lock()
_slots: dict[tuple[str, int, str], tuple[int, threading.BoundedSemaphore]] = {}


def _session_slots(host: str, port: int, username: str, limit: int) -> threading.BoundedSemaphore:
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


def _close_transport(transport: paramiko.Transport) -> None:
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


class _Session:
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
        return self.transport.is_active() and _sftp_alive(self.sftp)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            try:
                self.sftp.close()
            except _WIRE_ERRORS:
                logger.debug("SFTP channel was already gone when closing", exc_info=True)
            _close_transport(self.transport)
        finally:
            self._slot.release()


class _SessionHolder:
    """Owns the current session apart from the transport so a finalizer can close it."""

    def __init__(self) -> None:
        self.session: _Session | None = None

    def drop(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()


class SftpTransport:
    """The `hub.ports.Transport` for a partner's SFTP server.

    Connects on first use and keeps the session for the next calls; one instance holds
    at most one session, and calls on one instance are serialised. Call `close()` (or
    use it as a context manager) at the end of a run to give the session slot back.
    """

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._pin = _parse_pin(settings.host_key)
        self._where = f"{settings.host}:{settings.port}"
        self._slots = _session_slots(
            settings.host, settings.port, settings.username, settings.max_sessions
        )
        self._lock = threading.RLock()
        self._holder = _SessionHolder()
        self._finalizer = weakref.finalize(self, self._holder.drop)
        self._client_key: paramiko.PKey | None = None

    def __repr__(self) -> str:
        return f"SftpTransport({self.settings.username}@{self._where})"

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the session now; a later call would open a new one."""
        with self._lock:
            self._holder.drop()

    # -- the Transport port ------------------------------------------------------------

    def list(self) -> _Refs:
        """Complete files waiting for us; files still being written are left alone."""
        return self._run(f"listing {self.settings.remote_dir}", self._list)

    def fetch(self, ref: MessageRef) -> RawMessage:
        """The whole file in memory: the hub archives the exact bytes before parsing."""
        path = self._inbound_path(ref.name)
        return self._run(f"reading {path}", lambda sftp, _retried: self._fetch(sftp, ref, path))

    def acknowledge(self, ref: MessageRef) -> None:
        """Archive the file if the partner wants that; otherwise the server is not touched."""
        path = self._inbound_path(ref.name)
        archive_dir = self.settings.archive_dir
        if archive_dir is None:
            return
        self._run(
            f"archiving {path}",
            lambda sftp, retried: self._archive(sftp, path, archive_dir, retried),
        )

    def put(self, name: str, content: bytes) -> None:
        """Upload under a temporary name, then rename: the partner never sees half a file."""
        outbound_dir = self.settings.outbound_dir
        if outbound_dir is None:
            raise ConfigurationError(f"no outbound_dir is configured for SFTP {self._where}")
        final = posixpath.join(outbound_dir, _plain_name(name))
        self._run(
            f"uploading {final}",
            lambda sftp, retried: self._upload(sftp, final, content, retried),
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
                except _WIRE_ERRORS as exc:
                    if not self._is_lost(session, exc):
                        raise self._refusal(what, exc) from exc
                    self._holder.drop()
                    if reconnects_left == 0:
                        raise SftpConnectionLost(
                            f"lost the SFTP session to {self._where} while {what} and could "
                            f"not resume it ({_describe(exc)}); will retry later"
                        ) from exc
                    logger.warning(
                        "SFTP session to %s dropped while %s (%s); reconnecting once",
                        self._where,
                        what,
                        _describe(exc),
                    )
                    reconnects_left -= 1
                    retried = True

    @staticmethod
    def _is_lost(session: _Session, exc: BaseException) -> bool:
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
        return SftpRemoteError(f"the SFTP server {self._where} refused {what}: {_describe(exc)}")

    def _session(self) -> _Session:
        if self._holder.session is None:
            self._holder.session = self._connect()
        return self._holder.session

    def _connect(self) -> _Session:
        settings = self.settings
        if not self._slots.acquire(timeout=settings.session_wait_timeout):
            raise SftpSessionsBusy(
                f"all {settings.max_sessions} SFTP sessions to {settings.username}@"
                f"{self._where} stayed busy for {settings.session_wait_timeout:g} s"
            )
        try:
            transport, sftp = self._open()
        except BaseException:
            self._slots.release()
            raise
        return _Session(transport, sftp, self._slots)

    def _open(self) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
        settings = self.settings
        try:
            sock = socket.create_connection(
                (settings.host, settings.port), timeout=settings.connect_timeout
            )
        except OSError as exc:
            raise SftpConnectionLost(
                f"cannot reach the SFTP server {self._where}: {_describe(exc)}"
            ) from exc
        try:
            transport = paramiko.Transport(sock)
        except BaseException:
            sock.close()
            raise
        try:
            self._handshake(transport)
            self._authenticate(transport)
            sftp = self._open_sftp(transport)
        except BaseException:
            _close_transport(transport)
            raise
        return transport, sftp

    def _handshake(self, transport: paramiko.Transport) -> None:
        timeout = self.settings.connect_timeout
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        if self._pin.key_type is not None:
            # Ask for the pinned key's type first, or a server holding several host
            # keys could show another one and be refused for no fault of its own.
            options = transport.get_security_options()
            offered = list(options.key_types)
            preferred = [a for a in _host_key_algorithms(self._pin.key_type) if a in offered]
            options.key_types = preferred + [a for a in offered if a not in preferred]
        try:
            transport.start_client(timeout=timeout)
        except IncompatiblePeer as exc:
            raise SftpRemoteError(
                f"the SSH server {self._where} shares no algorithm with us: {exc}"
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SftpConnectionLost(
                f"the SSH handshake with {self._where} failed: {_describe(exc)}"
            ) from exc
        # start_client returns when its timeout expires even if the handshake is unfinished.
        if not (transport.is_active() and transport.initial_kex_done):
            reason = transport.get_exception()
            raise SftpConnectionLost(
                f"the SSH handshake with {self._where} did not complete within {timeout:g} s"
                + (f": {_describe(reason)}" if reason is not None else "")
            )
        self._check_host_key(transport.get_remote_server_key())

    def _check_host_key(self, key: paramiko.PKey) -> None:
        presented = _fingerprint(key.asbytes())
        if presented != self._pin.fingerprint:
            raise HostKeyMismatch(
                f"refused the SFTP server at {self._where}: it presented the host key "
                f"{presented} ({key.get_name()}), but the key pinned for this partner is "
                f"{self._pin.fingerprint}. No credentials were sent and nothing was read. "
                "If the partner really changed its key, confirm the new fingerprint with "
                "them before updating host_key."
            )
        logger.debug("SFTP %s host key %s matches the pin", self._where, presented)

    def _authenticate(self, transport: paramiko.Transport) -> None:
        settings = self.settings
        user = f"{settings.username}@{self._where}"
        refused: list[str] = []
        try:
            if settings.private_key is not None:
                if self._client_key is None:
                    self._client_key = _load_private_key(
                        settings.private_key, settings.private_key_passphrase
                    )
                try:
                    remaining = transport.auth_publickey(settings.username, self._client_key)
                except paramiko.AuthenticationException as exc:
                    refused.append(f"key {self._client_key.fingerprint} refused{_allowed(exc)}")
                else:
                    self._require_complete(remaining, user)
                    return
            if settings.password is not None:
                try:
                    remaining = transport.auth_password(settings.username, settings.password)
                except paramiko.AuthenticationException as exc:
                    refused.append(f"password refused{_allowed(exc)}")
                else:
                    self._require_complete(remaining, user)
                    return
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SftpConnectionLost(
                f"the SFTP server {self._where} dropped the session during "
                f"authentication: {_describe(exc)}"
            ) from exc
        raise SftpAuthenticationError(
            f"the SFTP server refused to authenticate {user}: " + "; ".join(refused)
        )

    @staticmethod
    def _require_complete(remaining: Sequence[str], user: str) -> None:
        if remaining:
            raise SftpAuthenticationError(
                f"the SFTP server accepted {user} only partially and also wants: "
                + ", ".join(remaining)
            )

    def _open_sftp(self, transport: paramiko.Transport) -> paramiko.SFTPClient:
        try:
            sftp = paramiko.SFTPClient.from_transport(transport)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SftpConnectionLost(
                f"the SFTP subsystem of {self._where} did not open: {_describe(exc)}"
            ) from exc
        if sftp is None:
            raise SftpConnectionLost(f"the SFTP subsystem of {self._where} did not open")
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(self.settings.operation_timeout)
        return sftp

    # -- operations (run inside _run) ---------------------------------------------------

    def _inbound_path(self, name: str) -> str:
        return posixpath.join(self.settings.remote_dir, _plain_name(name))

    def _list(self, sftp: paramiko.SFTPClient, _retried: bool) -> _Refs:
        settings = self.settings
        try:
            entries = sftp.listdir_attr(settings.remote_dir)
        except FileNotFoundError as exc:
            raise SftpPathError(
                f"the inbound directory {settings.remote_dir} does not exist on {self._where}"
            ) from exc
        refs: _Refs = []
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
            refs.append(MessageRef(name=name, size=attrs.st_size, modified_at=_utc(attrs.st_mtime)))
        refs.sort(key=lambda ref: ref.name)
        return refs

    def _fetch(self, sftp: paramiko.SFTPClient, ref: MessageRef, path: str) -> RawMessage:
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
        modified_at = _utc(attrs.st_mtime)
        if modified_at is not None:
            metadata["mtime"] = modified_at.isoformat()
        return RawMessage(ref=ref, content=content, metadata=metadata)

    def _archive(
        self, sftp: paramiko.SFTPClient, path: str, archive_dir: str, retried: bool
    ) -> None:
        for candidate in _archive_names(posixpath.basename(path)):
            target = posixpath.join(archive_dir, candidate)
            if _exists(sftp, target):
                continue
            try:
                sftp.rename(path, target)
            except FileNotFoundError:
                self._explain_missing(sftp, path, archive_dir, retried)
                return
            except OSError:
                # SFTP rename refuses an existing target: someone took the name since
                # we looked, so try the next one; any other refusal is real.
                if _sftp_alive(sftp) and _exists(sftp, target):
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
        if not _exists(sftp, archive_dir):
            raise SftpPathError(
                f"the archive directory {archive_dir} does not exist on {self._where}"
            )
        if _exists(sftp, path):
            raise SftpRemoteError(f"the SFTP server {self._where} could not move {path}")
        if retried:
            # Only the hub moves files out of the inbound directory: the rename sent
            # before the session dropped did happen, only its reply was lost.
            logger.info("SFTP %s: %s was archived before the session dropped", self._where, path)
            return
        raise SftpFileVanished(f"{path} is no longer on {self._where}; nothing to archive")

    def _upload(self, sftp: paramiko.SFTPClient, final: str, content: bytes, retried: bool) -> None:
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
        except (*_WIRE_ERRORS, SftpRemoteError, OutboundNameTaken):
            if _sftp_alive(sftp):
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
            if not _sftp_alive(sftp):
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
        except _WIRE_ERRORS:
            logger.warning("SFTP %s: could not remove %s", self._where, partial, exc_info=True)


def _allowed(exc: paramiko.AuthenticationException) -> str:
    if isinstance(exc, paramiko.BadAuthenticationType) and exc.allowed_types:
        return " (the server allows: " + ", ".join(exc.allowed_types) + ")"
    return ""


class SftpTransportSpec(BaseModel):
    """A partner's SFTP server. The host key is pinned: an unknown key is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="sftp transport")

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    host_key: str = Field(
        description="The server's public key ('ssh-ed25519 AAAA…') or its 'SHA256:…' "
        "fingerprint, as the partner sent it."
    )
    private_key_env: EnvName | None = None
    private_key_passphrase_env: EnvName | None = None
    password_env: EnvName | None = None
    remote_dir: str = Field(description="Where the partner writes files for the hub.")
    pattern: str | None = Field(
        default=None, description="Files to read; defaults to the mapping message's pattern."
    )
    archive_dir: str | None = Field(
        default=None,
        description="Move read files here. Without it the server is left untouched and the "
        "hub remembers what it read.",
    )
    outbound_dir: str | None = Field(default=None, description="Where the hub writes files.")
    partial_suffixes: list[str] = Field(default_factory=lambda: [".tmp", ".part"])
    upload_suffix: str = Field(default=".tmp", description="Written first, then renamed.")
    max_sessions: int = Field(default=2, ge=1, le=16)

    @model_validator(mode="after")
    def _some_credential(self) -> SftpTransportSpec:
        if self.private_key_env is None and self.password_env is None:
            raise ValueError("name the environment variable of a private key or a password")
        return self


def transport_from_spec(
    spec: SftpTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> SftpTransport:
    """The transport a connectors.yaml entry describes (registered as ``sftp``)."""
    return SftpTransport(
        SftpSettings(
            host=spec.host,
            port=spec.port,
            username=spec.username,
            host_key=spec.host_key,
            remote_dir=spec.remote_dir,
            outbound_dir=spec.outbound_dir,
            archive_dir=spec.archive_dir,
            pattern=spec.pattern or default_pattern or "*",
            partial_suffixes=tuple(spec.partial_suffixes),
            upload_suffix=spec.upload_suffix,
            private_key=secrets.get("private_key"),
            private_key_passphrase=secrets.get("private_key_passphrase"),
            password=secrets.get("password"),
            max_sessions=spec.max_sessions,
        )
    )


SFTP = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="sftp",
    summary="A partner's SFTP server with a pinned host key: files listed, read, archived "
    "and written.",
    settings=SftpTransportSpec,
    factory=transport_from_spec,
    capabilities=frozenset({Capability.LIST, Capability.PUT}),
)
"""The ``sftp`` entry point of ``hub.transports``."""
