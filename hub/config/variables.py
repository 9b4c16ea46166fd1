"""Where the hub's database and network are: the environment variables and defaults.

In a module of their own so that what every command reads first (the hub's home for its
time zone, the database's URL) does not import the network's models (issue 17).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATABASE_URL_VARIABLE = "HUB_DATABASE_URL"
NETWORK_FILE_VARIABLE = "HUB_CONNECTORS"

DEFAULT_DATABASE_URL = "sqlite:///hub.db"
"""A file in the working directory: the embedded default, nothing to install."""

DEFAULT_NETWORK_FILE = "connectors.yaml"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL


def network_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(NETWORK_FILE_VARIABLE) or DEFAULT_NETWORK_FILE)
