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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.clock import Clock, FileClock, system_clock
from hub.config.variables import DATABASE_URL_VARIABLE, NETWORK_FILE_VARIABLE
from hub.errors import ConfigurationError

if TYPE_CHECKING:
    from hub.config.home_file import HomeSettings

# hub.yaml's model, its reading and its writing are in hub.config.home_file, imported
# only where a home is found: every command asks for the home and the operators' zone,
# and the commands that read the store alone, without a home, load neither pydantic nor
# YAML (pydantic alone is about a fifth of such a command's instructions).

HOME_VARIABLE = "HUB_HOME"
SETTINGS_FILE = "hub.yaml"
TIME_ZONE_VARIABLE = "HUB_TIME_ZONE"
DEFAULT_TIME_ZONE = "Europe/Paris"
"""Where the hub's operators work; every time shown to them is in this zone."""
CLOCK_FILE_VARIABLE = "HUB_CLOCK_FILE"
"""A file holding the hub's current instant (a demo's story time); unset: the system's."""

SQLITE_PREFIX = "sqlite:///"


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
