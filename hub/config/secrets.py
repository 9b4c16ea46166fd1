"""Secrets come from the environment, by the name connectors.yaml gives them.

Only names ever appear in errors, logs and run records; values stay in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hub.errors import ConfigurationError

NOT_CONFIGURED = "is not configured:"
"""What every missing-secret error says, so a run record tells a connector whose secrets
are not set (`hub status`: not configured) from any other configuration problem."""


class MissingSecret(ConfigurationError):
    """A secret's environment variable is not set where the connector runs."""


def is_missing_secret(message: str | None) -> bool:
    """Whether a recorded error is a `MissingSecret`'s."""
    return message is not None and NOT_CONFIGURED in message


def missing_secrets(
    names: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """The variables among ``names`` (setting -> variable) not set here: a connector with
    any is not configured in this process, which cannot run it until they are set."""
    env = os.environ if environ is None else environ
    return sorted({variable for variable in names.values() if not env.get(variable)})


def read_secrets(
    connector: str, names: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Setting -> value for each secret; a missing one names the variable, never a value."""
    env = os.environ if environ is None else environ
    missing = missing_secrets(names, env)
    if missing:
        raise MissingSecret(
            f"connector {connector!r} {NOT_CONFIGURED} it needs the environment "
            f"variable(s) {', '.join(missing)}, which are not set"
        )
    return {setting: env[variable] for setting, variable in names.items()}
