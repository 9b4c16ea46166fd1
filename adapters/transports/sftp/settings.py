"""One partner server's settings, secrets already resolved, checked when the connector is
built so that a mistake is told at once, not on the first run."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.transports.completion import CompleteWhen
from adapters.transports.sftp.hostkey import parse_pin
from hub.errors import ConfigurationError

__all__ = ["SftpSettings"]


@dataclass(frozen=True, kw_only=True)
class SftpSettings:
    """One partner server as `connectors.yaml` describes it, secrets already resolved.

    Secret values are excluded from the repr so that logging the settings is safe.
    `host_key` is either an OpenSSH public key line or a "SHA256:..." fingerprint, as the
    partner sent it. With `archive_dir` set, acknowledged files are moved there; without
    it the server is left untouched and the engine's store remembers what was read, unless
    `delete_acknowledged` asks to delete them. `complete_when` tells when a file (and its
    marker, moved or deleted with it) is complete.
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
    complete_when: CompleteWhen | None = None
    delete_acknowledged: bool = False
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
        if self.delete_acknowledged and self.archive_dir is not None:
            problems.append("delete_acknowledged and archive_dir: choose one")
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
        parse_pin(self.host_key)
