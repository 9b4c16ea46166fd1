"""Host-key pinning: the server's key is the one the partner sent us, never learnt on
first use. A pin is an OpenSSH public key line or a ``SHA256:...`` fingerprint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an annotation only: validating a pin must not load paramiko (issue 17)
    import paramiko

from adapters.transports.sftp.errors import HostKeyMismatch
from hub.errors import ConfigurationError

__all__ = ["Pin", "check_host_key", "host_key_algorithms", "parse_pin"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pin:
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


def parse_pin(text: str) -> Pin:
    value = text.strip()
    if value[:7].upper() == "SHA256:":
        digest = value[7:].rstrip("=")
        if len(_b64decode(digest)) != hashlib.sha256().digest_size:
            raise ConfigurationError(
                "host_key looks like a fingerprint but is not a SHA256 one: expected "
                "'SHA256:' followed by 43 base64 characters, as `ssh-keygen -lf` prints"
            )
        return Pin("SHA256:" + digest, None)
    # "type base64 [comment]", possibly preceded by host names as in known_hosts.
    tokens = value.split()
    for key_type, encoded in itertools.pairwise(tokens):
        blob = _b64decode(encoded)
        if blob and _blob_type(blob) == key_type:
            return Pin(_fingerprint(blob), key_type)
    raise ConfigurationError(
        "host_key must be the server's OpenSSH public key ('ssh-ed25519 AAAA...') "
        "or its fingerprint ('SHA256:...')"
    )


def host_key_algorithms(key_type: str) -> tuple[str, ...]:
    """Algorithms that prove possession of a key of this type (RSA has three)."""
    if key_type == "ssh-rsa":
        return ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
    return (key_type,)


def check_host_key(key: paramiko.PKey, pin: Pin, where: str) -> None:
    """Refuse the server unless the key it presented is the pinned one."""
    presented = _fingerprint(key.asbytes())
    if presented != pin.fingerprint:
        raise HostKeyMismatch(
            f"refused the SFTP server at {where}: it presented the host key "
            f"{presented} ({key.get_name()}), but the key pinned for this partner is "
            f"{pin.fingerprint}. No credentials were sent and nothing was read. "
            "If the partner really changed its key, confirm the new fingerprint with "
            "them before updating host_key."
        )
    logger.debug("SFTP %s host key %s matches the pin", where, presented)
