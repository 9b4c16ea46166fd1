"""The hub home: one folder whose settings file points every command at one hub.

An operator running `hub status` beside a live demo reached ./hub.db, not the demo's
database in var/demo: the settings lived only in the demo's process. A home is a folder
holding ``hub.yaml`` (database URL, network file, operator time zone, clock); `hub demo`
writes one in its working folder, and ``hub --home var/demo status`` (or
``HUB_HOME=var/demo``) then reads that hub.

Which home: ``--home`` first, then ``$HUB_HOME``, then the current folder when it holds
a ``hub.yaml``; with none, the separate variables and defaults apply. Within a home, a
setting its file gives wins over the separate ``HUB_*`` variable (choosing a home is
choosing that hub), and a command's own option (``--database``) wins over both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.clock import Clock, FileClock, system_clock
from hub.config.variables import DATABASE_URL_VARIABLE, NETWORK_FILE_VARIABLE
from hub.errors import ConfigurationError

# YAML is imported where a hub.yaml is read or written: every command asks for the home
# and the operators' zone, and the commands that read the store alone parse no YAML.

HOME_VARIABLE = "HUB_HOME"
SETTINGS_FILE = "hub.yaml"
TIME_ZONE_VARIABLE = "HUB_TIME_ZONE"
DEFAULT_TIME_ZONE = "Europe/Paris"
"""Where the hub's operators work; every time shown to them is in this zone."""
CLOCK_FILE_VARIABLE = "HUB_CLOCK_FILE"
"""A file holding the hub's current instant (a demo's story time); unset: the system's."""

SQLITE_PREFIX = "sqlite:///"


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


def zone_named(name: str) -> ZoneInfo:
    """An IANA zone, or a configuration error saying which name was not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"{name!r} is not a time zone name (IANA, e.g. Europe/Paris or UTC)"
        ) from exc


def find_home(flag: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The home: the flag, then $HUB_HOME, then the current folder if it has hub.yaml."""
    env = os.environ if environ is None else environ
    if flag is not None:
        return flag
    if env.get(HOME_VARIABLE):
        return Path(env[HOME_VARIABLE])
    return Path(".") if Path(SETTINGS_FILE).is_file() else None


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


def apply_home(settings: HomeSettings, environ: MutableMapping[str, str]) -> None:
    """Put the home's settings where every command reads its settings from: the
    environment (its child processes see the same hub)."""
    values = {
        DATABASE_URL_VARIABLE: settings.database_url,
        NETWORK_FILE_VARIABLE: None if settings.connectors is None else str(settings.connectors),
        TIME_ZONE_VARIABLE: settings.time_zone,
        CLOCK_FILE_VARIABLE: None if settings.clock_file is None else str(settings.clock_file),
    }
    for name, value in values.items():
        if value is not None:
            environ[name] = value


def write_home(home: Path, settings: HomeSettings) -> Path:
    """Write a home's hub.yaml (`hub demo` does, for the CLI to find it)."""
    import yaml

    document = settings.model_dump(mode="json", exclude_none=True)
    path = home / SETTINGS_FILE
    header = "# Settings of the hub in this folder: `hub --home DIR ...` reads them.\n"
    path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def time_zone(environ: Mapping[str, str] | None = None) -> ZoneInfo:
    """The operators' zone: $HUB_TIME_ZONE (or the home's), default Europe/Paris."""
    env = os.environ if environ is None else environ
    name = env.get(TIME_ZONE_VARIABLE) or DEFAULT_TIME_ZONE
    try:
        return zone_named(name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"${TIME_ZONE_VARIABLE}: {exc.message}") from exc


def hub_clock(environ: Mapping[str, str] | None = None) -> Clock:
    """The hub's clock from the settings: a shared clock's file, else the system's."""
    env = os.environ if environ is None else environ
    file = env.get(CLOCK_FILE_VARIABLE)
    return FileClock(Path(file)) if file else system_clock
