"""A hub home's settings file, ``hub.yaml``: its model, read with file and line for every
error, and written by `hub demo`. Apart from hub.config.home (which finds the home and
applies it) because this is the part that needs pydantic and YAML: a command run
without a home imports neither.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.home import DEFAULT_TIME_ZONE, SETTINGS_FILE, SQLITE_PREFIX, zone_named
from hub.errors import ConfigurationError


class HomeSettings(BaseModel):
    """``hub.yaml``: the settings of one hub, every key optional."""

    model_config = ConfigDict(extra="forbid", title="hub.yaml", defer_build=True)

    database_url: str | None = Field(
        default=None, description="The database; a relative SQLite file is in the home."
    )
    connectors: Path | None = Field(
        default=None, description="The network file; relative to the home."
    )
    time_zone: str | None = Field(
        default=None, description=f"The operators' time zone (default {DEFAULT_TIME_ZONE})."
    )
    clock_file: Path | None = Field(
        default=None,
        description="A file holding the hub's current instant, kept by a demo; relative "
        "to the home. Without it the hub runs on the system clock.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                zone_named(name)
            except ConfigurationError as exc:  # a ValueError, for the file's line
                raise ValueError(exc.message) from None
        return name


def load_home(home: Path) -> HomeSettings:
    """A home's settings, its relative paths made absolute against the home."""
    path = home / SETTINGS_FILE
    if not path.is_file():
        problem = "no such folder" if not home.is_dir() else f"it has no {SETTINGS_FILE}"
        raise ConfigurationError(f"{home} is not a hub home: {problem}")
    from hub.config.yamlfile import read_yaml, validate

    settings = validate(read_yaml(path), HomeSettings)
    base = home.resolve()
    url = settings.database_url
    if url is not None and url.startswith(SQLITE_PREFIX):
        file = Path(url.removeprefix(SQLITE_PREFIX))
        if not file.is_absolute():
            url = SQLITE_PREFIX + str(base / file)
    return settings.model_copy(
        update={
            "database_url": url,
            "connectors": None if settings.connectors is None else base / settings.connectors,
            "clock_file": None if settings.clock_file is None else base / settings.clock_file,
        }
    )


def write_home(home: Path, settings: HomeSettings) -> Path:
    """Write a home's hub.yaml (`hub demo` does, for the CLI to find it)."""
    import yaml

    document = settings.model_dump(mode="json", exclude_none=True)
    path = home / SETTINGS_FILE
    header = "# Settings of the hub in this folder: `hub --home DIR ...` reads them.\n"
    path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
