"""What connectors.yaml says of a partner's SFTP server: the ``sftp`` transport's settings,
secrets named by their environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.transports.completion import CompleteWhen
from hub.config.connector_spec import EnvName

__all__ = ["SftpTransportSpec"]


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
    complete_when: CompleteWhen | None = Field(
        default=None,
        description="What tells that a file is complete, beyond partial_suffixes: a "
        "marker file, a temporary suffix, or a size that stopped changing.",
    )
    delete_acknowledged: bool = Field(
        default=False,
        description="Delete read files (and their markers) instead of archiving them.",
    )
    upload_suffix: str = Field(default=".tmp", description="Written first, then renamed.")
    max_sessions: int = Field(default=2, ge=1, le=16)

    @model_validator(mode="after")
    def _some_credential(self) -> SftpTransportSpec:
        if self.private_key_env is None and self.password_env is None:
            raise ValueError("name the environment variable of a private key or a password")
        if self.delete_acknowledged and self.archive_dir is not None:
            raise ValueError("delete_acknowledged and archive_dir: choose one")
        return self
