"""Opening a session: reach the server, shake hands asking for the pinned key's type,
refuse any other host key before a credential is sent, authenticate with a key or a
password, open the SFTP subsystem; all within the account's session slots."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Sequence

import paramiko
from paramiko.pkey import UnknownKeyType
from paramiko.ssh_exception import IncompatiblePeer

from adapters.transports.sftp.errors import (
    SftpAuthenticationError,
    SftpConnectionLost,
    SftpRemoteError,
    SftpSessionsBusy,
    describe,
)
from adapters.transports.sftp.hostkey import check_host_key, host_key_algorithms, parse_pin
from adapters.transports.sftp.session import Session, close_transport, session_slots
from adapters.transports.sftp.settings import SftpSettings

__all__ = ["SessionOpener", "load_private_key"]

logger = logging.getLogger(__name__)


def load_private_key(value: str, passphrase: str | None) -> paramiko.PKey:
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


class SessionOpener:
    """Opens sessions to one partner server, one slot each; the client key is read once."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self._pin = parse_pin(settings.host_key)
        self._where = f"{settings.host}:{settings.port}"
        self._slots = session_slots(
            settings.host, settings.port, settings.username, settings.max_sessions
        )
        self._client_key: paramiko.PKey | None = None

    def open(self) -> Session:
        """A new session, holding one of the account's slots until it is closed."""
        settings = self.settings
        if not self._slots.acquire(timeout=settings.session_wait_timeout):
            raise SftpSessionsBusy(
                f"all {settings.max_sessions} SFTP sessions to {settings.username}@"
                f"{self._where} stayed busy for {settings.session_wait_timeout:g} s"
            )
        try:
            transport, sftp = self._connect()
        except BaseException:
            self._slots.release()
            raise
        return Session(transport, sftp, self._slots)

    def _connect(self) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
        settings = self.settings
        try:
            sock = socket.create_connection(
                (settings.host, settings.port), timeout=settings.connect_timeout
            )
        except OSError as exc:
            raise SftpConnectionLost(
                f"cannot reach the SFTP server {self._where}: {describe(exc)}"
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
            close_transport(transport)
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
            preferred = [a for a in host_key_algorithms(self._pin.key_type) if a in offered]
            options.key_types = preferred + [a for a in offered if a not in preferred]
        try:
            transport.start_client(timeout=timeout)
        except IncompatiblePeer as exc:
            raise SftpRemoteError(
                f"the SSH server {self._where} shares no algorithm with us: {exc}"
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SftpConnectionLost(
                f"the SSH handshake with {self._where} failed: {describe(exc)}"
            ) from exc
        # start_client returns when its timeout expires even if the handshake is unfinished.
        if not (transport.is_active() and transport.initial_kex_done):
            reason = transport.get_exception()
            raise SftpConnectionLost(
                f"the SSH handshake with {self._where} did not complete within {timeout:g} s"
                + (f": {describe(reason)}" if reason is not None else "")
            )
        check_host_key(transport.get_remote_server_key(), self._pin, self._where)

    def _authenticate(self, transport: paramiko.Transport) -> None:
        settings = self.settings
        user = f"{settings.username}@{self._where}"
        refused: list[str] = []
        try:
            if settings.private_key is not None:
                if self._client_key is None:
                    self._client_key = load_private_key(
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
                f"authentication: {describe(exc)}"
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
                f"the SFTP subsystem of {self._where} did not open: {describe(exc)}"
            ) from exc
        if sftp is None:
            raise SftpConnectionLost(f"the SFTP subsystem of {self._where} did not open")
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(self.settings.operation_timeout)
        return sftp


def _allowed(exc: paramiko.AuthenticationException) -> str:
    if isinstance(exc, paramiko.BadAuthenticationType) and exc.allowed_types:
        return " (the server allows: " + ", ".join(exc.allowed_types) + ")"
    return ""
