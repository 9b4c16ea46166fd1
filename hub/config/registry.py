"""The installed adapters, found by the names connectors.yaml and mappings give them.

Every codec, transport and receiver registers an :class:`~hub.ports.AdapterInfo` under
its entry-point group (``hub.codecs``, ``hub.transports``, ``hub.receivers``), the
hub's own exactly like a third-party package's. The core reads settings models,
factories and capabilities from here and never imports an adapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from hub.adapter_kind import AdapterKind
from hub.errors import ConfigurationError

if TYPE_CHECKING:  # the ports are imported where an adapter is loaded or read
    from importlib.metadata import EntryPoint  # read where an adapter is looked up

    from hub.ports import AdapterInfo, AttachedFile

SECRET_SUFFIX = "_env"  # noqa: S105 - a field-name suffix, not a secret


class AdapterNotInstalled(ConfigurationError):
    """A configuration names an adapter no installed package provides: install the
    package (``package`` names it when the configuration says), then check again."""

    def __init__(self, message: str, *, kind: AdapterKind, name: str, package: str | None):
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.package = package


@dataclass(frozen=True)
class InstalledAdapter:
    """An adapter as installed: what it says of itself and which package provides it.

    The package's name and version are read from its metadata only when asked (a
    listing, an error): checking a network's options needs neither, and parsing every
    adapter package's metadata file would be paid by every command's start (issue 17).
    """

    info: AdapterInfo
    entry: EntryPoint = dataclasses.field(compare=False, repr=False)

    @property
    def entry_point(self) -> str:
        return self.entry.value

    @property
    def package(self) -> str:
        return self._distribution[0]

    @property
    def version(self) -> str:
        return self._distribution[1]

    @cached_property
    def _distribution(self) -> tuple[str, str]:
        return _distribution(self.entry)


@dataclass(frozen=True)
class BrokenAdapter:
    """An entry point that could not be loaded: shown, never used."""

    kind: AdapterKind
    name: str
    package: str
    problem: str


def _distribution(entry: EntryPoint) -> tuple[str, str]:
    dist = entry.dist
    if dist is None:
        return ("(unknown package)", "")
    return (dist.metadata["Name"] or dist.name, dist.version)


@cache
def _entry_points_by_group() -> dict[str, dict[str, EntryPoint]]:
    """Group -> name -> entry point, none loaded yet (the last one wins a name): read
    once, since each read visits every installed distribution and a command asks for
    transports, then receivers, then codecs."""
    from importlib.metadata import entry_points  # not for a kept network (issue 17)

    installed = entry_points()
    return {
        kind.group: {entry.name: entry for entry in installed.select(group=kind.group)}
        for kind in AdapterKind
    }


def _entry_points(kind: AdapterKind) -> dict[str, EntryPoint]:
    return _entry_points_by_group()[kind.group]


@cache
def _load(kind: AdapterKind, name: str) -> InstalledAdapter | BrokenAdapter | None:
    """One adapter, loaded on first use only: a command that reads a network of CSV over
    SFTP must not import every other installed adapter (HTTP, OAuth, XML) to start."""
    entry = _entry_points(kind).get(name)
    if entry is None:
        return None
    try:
        info = entry.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the hub
        return BrokenAdapter(kind, entry.name, _distribution(entry)[0], f"{exc!r}")
    problem = _misregistered(info, kind, entry.name)
    if problem is not None:
        return BrokenAdapter(kind, entry.name, _distribution(entry)[0], problem)
    return InstalledAdapter(info, entry)


def _scan(kind: AdapterKind) -> tuple[dict[str, InstalledAdapter], dict[str, BrokenAdapter]]:
    """Every adapter of that kind, loaded (for listings and the errors that name them)."""
    adapters: dict[str, InstalledAdapter] = {}
    broken: dict[str, BrokenAdapter] = {}
    for name in _entry_points(kind):
        found = _load(kind, name)
        if isinstance(found, InstalledAdapter):
            adapters[name] = found
        elif found is not None:
            broken[name] = found
    return adapters, broken


def _misregistered(info: object, kind: AdapterKind, name: str) -> str | None:
    from hub.ports import AdapterInfo

    if not isinstance(info, AdapterInfo):
        return f"the entry point gives a {type(info).__name__}, not an AdapterInfo"
    if info.kind is not kind or info.name != name:
        return f"it describes the {info.kind.value} {info.name!r}, registered as {name!r}"
    return None


def installed(kind: AdapterKind) -> dict[str, InstalledAdapter]:
    """Name -> adapter, for every loadable adapter of that kind."""
    return dict(_scan(kind)[0])


def broken(kind: AdapterKind) -> dict[str, BrokenAdapter]:
    """Name -> why, for every entry point of that kind that could not be loaded."""
    return dict(_scan(kind)[1])


def forget() -> None:
    """Scan the entry points again on next use (after installing a package in-process)."""
    _entry_points_by_group.cache_clear()
    _load.cache_clear()


def find(kind: AdapterKind, name: str) -> InstalledAdapter | None:
    found = _load(kind, name)
    return found if isinstance(found, InstalledAdapter) else None


def adapter(kind: AdapterKind, name: str, *, package: str | None = None) -> InstalledAdapter:
    """The installed adapter, or an error that says which package to install."""
    found = find(kind, name)
    if found is not None:
        return found
    failed = _load(kind, name)
    if isinstance(failed, BrokenAdapter):
        raise AdapterNotInstalled(
            f"the {kind.value} {name!r} of package {failed.package} cannot be loaded: "
            f"{failed.problem}; reinstall or fix that package",
            kind=kind,
            name=name,
            package=failed.package,
        )
    known = ", ".join(sorted(_scan(kind)[0])) or "none"
    if package is not None:
        text = (
            f"{kind.value} {name!r} needs the package {package}, which is not installed: "
            f"`pip install {package}` where the hub runs (installed {kind.value}s: {known})"
        )
    else:
        text = (
            f"no installed package provides a {kind.value} named {name!r} (installed "
            f"{kind.value}s: {known}); install the package that does, and name it with "
            "`package:` next to `type:`"
        )
    raise AdapterNotInstalled(text, kind=kind, name=name, package=package)


def secret_names(settings: BaseModel) -> dict[str, str]:
    """Setting -> environment variable, for every secret these settings name.

    A field ``x_env`` holding a variable's name is the secret ``x``; one holding a
    mapping (a header -> variable) gives ``x:<key>`` for each entry. Nested settings (a
    receiver's ``auth``) are searched too, their secrets named the same way.
    """
    names: dict[str, str] = {}
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        if isinstance(value, BaseModel):
            names.update(secret_names(value))
            continue
        if not field.endswith(SECRET_SUFFIX):
            continue
        base = field.removesuffix(SECRET_SUFFIX)
        if isinstance(value, str):
            names[base] = value
        elif isinstance(value, Mapping):
            names.update({f"{base}:{key}": str(env) for key, env in value.items()})
    return names


def attached_files(settings: BaseModel) -> dict[str, AttachedFile]:
    """Field -> marker, for every settings field that names a file next to the mapping."""
    from hub.ports import AttachedFile

    marked: dict[str, AttachedFile] = {}
    for name, info in type(settings).model_fields.items():
        for item in info.metadata:
            if isinstance(item, AttachedFile):
                marked[name] = item
    return marked


def describe(found: InstalledAdapter) -> dict[str, Any]:
    """An adapter as `hub adapters list --json` shows it."""
    info = found.info
    return {
        "kind": info.kind.value,
        "name": info.name,
        "summary": info.summary,
        "package": found.package,
        "version": found.version,
        "entry_point": found.entry_point,
        "capabilities": sorted(capability.value for capability in info.capabilities),
        "settings": info.settings.model_json_schema(mode="validation"),
    }


class AdapterRef(BaseModel):
    """A configuration's reference to an adapter: its ``type``, optionally the
    ``package`` providing it, and its options (every other key).

    The options are checked against the adapter's own settings model as the file is
    read, so a typo is reported with its file, line and field like any built-in's; an
    adapter that is not installed is reported when it is used (and by
    `hub connectors check`), so one missing plugin does not stop the whole network.
    """

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    kind: ClassVar[AdapterKind]

    type: str = Field(
        pattern=r"^[a-z][a-z0-9_.-]*$",
        max_length=100,
        description="The adapter's name, as its package registers it (`hub adapters list`).",
    )
    package: str | None = Field(
        default=None,
        max_length=200,
        description="The package that provides the adapter, so that an error can say what "
        "to install when it is missing.",
    )
    _settings: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_options(self) -> Self:
        found = find(self.kind, self.type)
        if found is not None:
            self._settings = found.info.settings.model_validate(self.options())
        return self

    def options(self) -> dict[str, Any]:
        """The adapter's options as written: every key but ``type`` and ``package``."""
        return dict(self.model_extra or {})

    def adapter(self) -> InstalledAdapter:
        return adapter(self.kind, self.type, package=self.package)

    @property
    def settings(self) -> BaseModel:
        """The options validated by the adapter's settings model."""
        if self._settings is None:
            found = self.adapter()
            try:
                self._settings = found.info.settings.model_validate(self.options())
            except ValidationError as exc:
                raise ConfigurationError(
                    "; ".join(
                        f"{'.'.join(map(str, e['loc'])) or self.type}: {e['msg']}"
                        for e in exc.errors()
                    )
                ) from exc
        return self._settings

    def with_settings(self, settings: BaseModel) -> Self:
        """A copy whose settings are these (the loader's, with attached files read)."""
        copy = self.model_copy()
        copy._settings = settings
        return copy
