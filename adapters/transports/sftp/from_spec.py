"""The transport a connectors.yaml entry describes, and the ``sftp`` entry point.

The entry point is loaded to validate a connector's options, which every command reading
the network does: so this module imports the settings model only, and the transport
(paramiko) when one is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.transports.sftp.spec import SftpTransportSpec
from hub.ports import AdapterInfo, AdapterKind, Capability

if TYPE_CHECKING:
    from adapters.transports.sftp.transport import SftpTransport

__all__ = ["SFTP", "transport_from_spec"]


def transport_from_spec(
    spec: SftpTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> SftpTransport:
    """The transport a connectors.yaml entry describes (registered as ``sftp``)."""
    from adapters.transports.sftp.settings import SftpSettings
    from adapters.transports.sftp.transport import SftpTransport

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
            complete_when=spec.complete_when,
            delete_acknowledged=spec.delete_acknowledged,
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
