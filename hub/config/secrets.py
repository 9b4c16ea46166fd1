"""Secrets come from the environment, by the name connectors.yaml gives them.

Only names ever appear in errors, logs and run records; values stay in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hub.errors import ConfigurationError


class MissingSecret(ConfigurationError):
    """A secret's environment variable is not set where the connector runs."""


def read_secrets(
    connector: str, names: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Setting -> value for each secret; a missing one names the variable, never a value."""
    env = os.environ if environ is None else environ
    missing = sorted(variable for variable in names.values() if not env.get(variable))
    if missing:
        raise MissingSecret(
            f"connector {connector!r} needs the environment variable(s) {', '.join(missing)}, "
            "which are not set"
        )
    return {setting: env[variable] for setting, variable in names.items()}
