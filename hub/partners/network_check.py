"""What `hub connectors check` found, as plain data that can be kept.

The check itself (hub.partners.connectors.network_check) reads connectors.yaml, every
mapping and the adapters' settings; what it found depends on those files and the code
alone, but for one thing: whether each connector's secrets are set where the command
runs. That is kept as the question (the connector and its variables' names), never as
the answer, and asked again each time :meth:`NetworkCheck.problems` is called. Kept by
hub.partners.network_cache, a passing check is shown again without PyYAML, pydantic or
any adapter (issue 17); this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError

__all__ = ["Finding", "NetworkCheck", "Problem", "SecretsToRead"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the network, in a sentence that says where."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class SecretsToRead:
    """A connector that passed every other check: a warning names its secrets that are
    not set, read from the environment each time the check is shown."""

    network: str
    """The network file as the command was given it, which the warning starts with."""
    connector: str
    names: tuple[tuple[str, str], ...]
    """Setting -> environment variable, as the connector's settings name them."""

    def problem(self, environ: Mapping[str, str] | None = None) -> Problem | None:
        try:
            read_secrets(self.connector, dict(self.names), environ)
        except ConfigurationError as error:
            return Problem(f"{self.network}: {error.message}", warning=True)
        return None


Finding = Problem | SecretsToRead
"""What a check found: a problem said as it is, or secrets to read where it is shown."""


@dataclass(frozen=True)
class NetworkCheck:
    """Every finding of one check, in the order it says them."""

    findings: tuple[Finding, ...]

    @property
    def has_errors(self) -> bool:
        """Whether anything but a warning was found (secrets only ever warn)."""
        return any(isinstance(found, Problem) and not found.warning for found in self.findings)

    def problems(self, environ: Mapping[str, str] | None = None) -> list[Problem]:
        """The problems to say now, each connector's secrets read from ``environ`` (the
        process's environment by default)."""
        said: list[Problem] = []
        for found in self.findings:
            problem = found if isinstance(found, Problem) else found.problem(environ)
            if problem is not None:
                said.append(problem)
        return said
