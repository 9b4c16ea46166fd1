"""Pieces of the connectors.yaml files tests write for themselves, written once.

Tests that build a network of their own (a real SFTP server's port, a simulator's address)
start from the shipped network's parties and name SFTP endpoints the same way.
"""

from __future__ import annotations

from pathlib import Path

from hub.config.network import load_network

ROOT = Path(__file__).resolve().parent.parent
PARTIES = load_network(ROOT / "connectors.yaml").parties


def network_head() -> str:
    """`version` and the shipped `parties`, the first lines of every test network."""
    parties = "\n".join(f"  - {party.model_dump_json(exclude_none=True)}" for party in PARTIES)
    return f"version: 1\nparties:\n{parties}\n"


def sftp_options(port: int, host_key: str, key_env: str, username: str = "hub") -> str:
    """The inside of an `sftp` transport's flow mapping, up to its folders."""
    return (
        f'type: sftp, host: 127.0.0.1, port: {port}, username: "{username}", '
        f'host_key: "{host_key}", private_key_env: {key_env}'
    )
