"""What can go wrong with a partner's SFTP server, as hub errors that tell the engine what
to do next: retry later (the network), stop (a server that is not the partner's), or
wait for someone to fix the connector (credentials, paths)."""

from __future__ import annotations

import paramiko
from paramiko.sftp import SFTPError

from hub.errors import ConfigurationError, FatalError, TransientError

__all__ = [
    "WIRE_ERRORS",
    "HostKeyMismatch",
    "SftpAuthenticationError",
    "SftpConnectionLost",
    "SftpFileVanished",
    "SftpPathError",
    "SftpRemoteError",
    "SftpSessionsBusy",
    "describe",
]

# What paramiko raises when a request fails, whether the server refused it or the
# session died; which of the two it was is decided by looking at the session.
WIRE_ERRORS = (OSError, EOFError, paramiko.SSHException, SFTPError)


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


def describe(exc: BaseException) -> str:
    """An OS or paramiko error in words, for messages."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
