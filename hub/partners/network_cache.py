"""The checked network kept on disk, for the commands that only read it.

Reading connectors.yaml costs a reading command (`hub status`, `hub runs`, `hub sla`)
more than its own queries: PyYAML, the adapters' settings modules, the validation of
every connector's options and the directions read from each mapping (issue 17,
docs/performance.md). Kept once checked, the next command loads the result instead,
as long as nothing it was checked with changed: connectors.yaml (its bytes), every directory of
the import path (an adapter or library installed, upgraded or removed changes its
listing) and every module's file the checking process had loaded (the hub's own, the
adapters', pydantic's). A directory or file that changed, appeared or went away makes
the network read and checked again; so does another Python.

What is kept is what connectors.yaml says, checked: environment variables' names,
never their values (the adapters' validated settings are dropped, and made again from
the options on first use). The directions are kept with their mapping's stamp, which
:meth:`Network.direction` compares as it always does.

Beside it, the network's outline (hub.partners.network_outline): what the reading
commands show, as plain data, derived from the checked network each time that network
is checked or taken as kept. It is fresh under the same stamps as the kept network, and
under its mappings' stamps (each connector's direction is in it); a command that reads
the outline imports neither pydantic nor the network's models (issue 17).

And what `hub connectors check` found (hub.partners.network_check), when it found no
error: fresh under the same stamps and, besides, every file the check opened, stamped as
it opened it (the mappings, the files they name, the time zones' files, the packages'
metadata), heard through an audit hook (``sys.addaudithook``, the one way to see what a
library opens). Whether each connector's secrets are set is not kept: it is read each
time the result is shown.

All three are pickles: they are read only from a directory of the user's own that no one
else may write (``HUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/aftersales-hub``, else
``~/.cache/aftersales-hub``), and any file that cannot be trusted or read is ignored.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from hub.errors import ConfigurationError

if TYPE_CHECKING:
    from hub.config.network import NetworkConfig
    from hub.partners.network import MessageDirection, Network
    from hub.partners.network_check import NetworkCheck
    from hub.partners.network_outline import NetworkOutline

__all__ = ["CACHE_DIR_VARIABLE", "cache_directory", "read_check", "read_network", "read_outline"]

CACHE_DIR_VARIABLE = "HUB_CACHE_DIR"
_FORMAT = 2
"""Raised when what is kept changes shape: an older file is then read as no file."""
_OUTLINE_FORMAT = 3
"""The same, for the outline's file."""
_CHECK_FORMAT = 1
"""The same, for the check's file."""

Stamp = tuple[int, int]
"""Modification time (ns) and size; (-1, -1) for a path that does not exist."""


@dataclass(frozen=True)
class _Kept:
    format: int
    python: str
    import_path: tuple[str, ...]
    """``sys.path`` as it was: another (a venv elsewhere, another ``PYTHONPATH``) may
    import other files, none of which the stamps name."""
    digest: str
    """connectors.yaml's own SHA-256: an edit that keeps its size within the file
    system's tick of time still shows."""
    stamps: tuple[tuple[str, Stamp], ...]
    config: NetworkConfig
    directions: dict[str, tuple[Stamp, MessageDirection]]


_V = TypeVar("_V")


@dataclass(frozen=True)
class _Beside(Generic[_V]):
    """What is kept beside the checked network (its outline, what a check found): fresh
    under the same stamps and, besides, under those of the other files it was made from.
    One record for both: each dataclass made costs every command that imports this
    module (about 5 M instructions)."""

    format: int
    python: str
    import_path: tuple[str, ...]
    digest: str
    stamps: tuple[tuple[str, Stamp], ...]
    """What checked the network: its process's import path and module files."""
    files: tuple[tuple[str, Stamp], ...]
    """An outline's: each connector's mapping file, as it was when its direction was read
    (and the outline's module). A check's: every file it opened, stamped as it opened it."""
    value: _V


_T = TypeVar("_T")


def cache_directory() -> Path:
    """Where the checked networks are kept: ``HUB_CACHE_DIR``, else the user's cache."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE, "").strip()
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "aftersales-hub"


def read_network(path: Path) -> Network:
    """The network of ``path``, as :func:`~hub.partners.network.open_network` reads it,
    from what was kept when nothing it was checked with has changed since; otherwise
    read, checked and kept for the next command. A network that does not load is never
    kept: its error is said again each time."""
    return _network_and_stamps(path)[0]


def read_outline(path: Path) -> NetworkOutline:
    """The outline of the network of ``path`` (:meth:`Network.outline`), as kept when
    nothing the network was checked with changed since, nor any connector's mapping;
    otherwise made from the network (kept or checked again, as :func:`read_network`
    takes it) and kept beside it. Reading a kept outline imports no pydantic."""
    resolved = path.resolve()
    outline_at = cache_directory() / f"outline-{_digest(str(resolved))}.pickle"
    from hub.partners.network_outline import NetworkOutline

    kept = _kept_beside(outline_at, resolved, _OUTLINE_FORMAT, NetworkOutline)
    if kept is not None:
        return kept
    network, digest, stamps = _network_and_stamps(path)
    mappings = _mapping_stamps(network)
    outline = network.outline()
    if stamps is not None and digest is not None:
        _store(
            outline_at,
            _Beside(
                _OUTLINE_FORMAT, sys.version, tuple(sys.path), digest, stamps, mappings, outline
            ),
        )
    return outline


def read_check(path: Path) -> NetworkCheck:
    """What `hub connectors check` finds in the network of ``path``
    (:func:`hub.partners.connectors.network_check`), as kept when it found no error and
    nothing it ran with or read changed since: this Python, its import path and module
    files, connectors.yaml's bytes and every file the check opened; otherwise checked
    again, and kept if it finds no error. The secrets are not part of it: the result's
    ``problems()`` reads them each time. A check that finds an error is never kept: an
    error may come from a file only looked at, never opened (an XSD that is not there),
    which no stamp would follow, and the integrator mends it before running it again."""
    resolved = path.resolve()
    # Its sentences name the file as it was given: kept apart from another spelling.
    kept_at = cache_directory() / f"check-{_digest(f'{path}|{resolved}')}.pickle"
    from hub.partners.network_check import NetworkCheck

    kept = _kept_beside(kept_at, resolved, _CHECK_FORMAT, NetworkCheck)
    if kept is not None:
        return kept
    from hub.partners.connectors import network_check

    before = _content_digest(resolved)
    with _files_opened() as opened:
        check = network_check(path)
    heard = os.path.abspath(path) in opened  # an audit hook refused says nothing
    if check.has_errors or not heard or before is None or _content_digest(resolved) != before:
        return check
    read = tuple(sorted(opened.items()))
    stamps = _environment_stamps()
    _store(
        kept_at,
        _Beside(_CHECK_FORMAT, sys.version, tuple(sys.path), before, stamps, read, check),
    )
    return check


def _kept_beside(kept_at: Path, resolved: Path, expected: int, kind: type[_V]) -> _V | None:
    """What is kept beside the network at ``kept_at``, if fresh and a ``kind``."""
    kept = _load(kept_at, _Beside)
    if kept is None or not _fresh(kept, resolved, expected) or not isinstance(kept.value, kind):
        return None
    return kept.value


_opening: list[dict[str, Stamp]] = []
"""While checks run: for each, the files opened so far, stamped as each was opened."""
_listening: list[bool] = []
"""Whether this process's audit hook is in place (it cannot be taken out)."""


@contextmanager
def _files_opened() -> Iterator[dict[str, Stamp]]:
    """Every file opened meanwhile (by path, made absolute), stamped before it was read:
    a file changed while it is read shows as changed next time. Every thread's opening is
    heard: a file that was not the check's only makes the kept result checked again. What
    this process had opened before and keeps in memory (a zone already loaded, the entry
    points already scanned) is not opened again: the command checks once a process."""
    if not _listening:
        sys.addaudithook(_heard)
        _listening.append(True)
    opened: dict[str, Stamp] = {}
    _opening.append(opened)
    try:
        yield opened
    finally:
        _opening.remove(opened)


def _heard(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: Python raises "open" before opening any file (io.open, os.open,
    a zone's file in zoneinfo), whether it exists or not."""
    if event != "open" or not _opening or not args or isinstance(args[0], int):
        return
    try:
        where = os.path.abspath(os.fsdecode(args[0]))
    except (TypeError, ValueError):
        return
    if "__pycache__" in where:  # bytecode: its module's file is stamped
        return
    for opened in _opening:
        if where not in opened:
            opened[where] = _stamp(where)


def _network_and_stamps(
    path: Path,
) -> tuple[Network, str | None, tuple[tuple[str, Stamp], ...] | None]:
    """The network, and the digest and stamps it was kept under (None when it was not
    kept: edited while it was read)."""
    from hub.partners.network import Network

    resolved = path.resolve()
    kept_at = cache_directory() / f"network-{_digest(str(resolved))}.pickle"
    kept = _load(kept_at, _Kept)
    if kept is not None and _fresh(kept, resolved, _FORMAT):
        network = Network(kept.config, path)
        network._directions.update(kept.directions)
        return network, kept.digest, kept.stamps
    return _check_and_keep(path, resolved, kept_at)


def _check_and_keep(
    path: Path, resolved: Path, kept_at: Path
) -> tuple[Network, str | None, tuple[tuple[str, Stamp], ...] | None]:
    from hub.partners.network import open_network

    before = _content_digest(resolved)
    network = open_network(path)
    for spec in network.config.connectors:
        try:  # what `hub status` reads; a broken mapping is said when it is used
            network.direction(spec.name)
        except ConfigurationError:
            continue
    if before is None or _content_digest(resolved) != before:
        return network, None, None  # edited while it was read: keep nothing
    kept = _kept(resolved, before, network)
    _store(kept_at, kept)
    return network, kept.digest, kept.stamps


def _mapping_stamps(network: Network) -> tuple[tuple[str, Stamp], ...]:
    """Each connector's mapping file and its stamp now, taken before the outline reads
    the directions (a file edited meanwhile shows as changed next time), and the
    outline's own module, which a process that only checked the network had not loaded."""
    from hub.partners import network_outline
    from hub.partners.network import mapping_path

    paths = {str(mapping_path(network.path, spec)) for spec in network.config.connectors}
    paths.add(network_outline.__file__)
    return tuple((where, _stamp(where)) for where in sorted(paths))


def _kept(resolved: Path, digest: str, network: Network) -> _Kept:
    config = network.config.model_copy(deep=True)
    for ref in [spec.transport or spec.receiver for spec in config.connectors] + [
        drop.transport for drop in config.case_imports
    ]:
        if ref is not None and ref.__pydantic_private__ is not None:
            ref.__pydantic_private__["_settings"] = None  # validated again on first use
    return _Kept(
        format=_FORMAT,
        python=sys.version,
        import_path=tuple(sys.path),
        digest=digest,
        stamps=_environment_stamps(),
        config=config,
        directions=dict(network._directions),
    )


def _environment_stamps() -> tuple[tuple[str, Stamp], ...]:
    """The import path's directories and every loaded module's file: what the checking
    code and the installed packages were."""
    paths = {entry for entry in sys.path if entry}
    for module in list(sys.modules.values()):
        where = getattr(module, "__file__", None)
        if isinstance(where, str):
            paths.add(where)
    return tuple((where, _stamp(where)) for where in sorted(paths))


def _fresh(kept: _Kept | _Beside[Any], resolved: Path, expected: int) -> bool:
    """Whether nothing changed: the format, this Python and its import path,
    connectors.yaml's bytes, every stamp the network was checked under and, for an
    outline, its mappings' stamps, for a check, those of every file it read; a file of
    another shape (another release's) never is."""
    try:
        if kept.format != expected or kept.python != sys.version:
            return False
        if kept.import_path != tuple(sys.path) or _content_digest(resolved) != kept.digest:
            return False
        more = kept.files if isinstance(kept, _Beside) else ()
        return all(_stamp(where) == stamp for where, stamp in (*kept.stamps, *more))
    except (AttributeError, TypeError, ValueError):
        return False


def _load(kept_at: Path, shape: type[_T]) -> _T | None:
    """What was kept, or None: no file, another user's or a writable-by-others one, or
    one that does not unpickle into ``shape``."""
    try:
        with kept_at.open("rb") as file:
            status = os.fstat(file.fileno())
            if not _trusted(status) or not _trusted(kept_at.parent.stat()):
                return None
            kept = pickle.load(file)  # noqa: S301 - the user's own file, checked above
    except Exception:  # noqa: BLE001 - a file that cannot be read is no file
        return None
    return kept if isinstance(kept, shape) else None


def _trusted(status: os.stat_result) -> bool:
    own = not hasattr(os, "getuid") or status.st_uid == os.getuid()
    return own and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _store(kept_at: Path, kept: _Kept | _Beside[Any]) -> None:
    """Written whole under another name, then renamed: a command reading at the same
    time finds the old file or the new one. A directory that cannot be written to
    keeps nothing, and the command goes on."""
    try:
        kept_at.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=kept_at.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(kept, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, kept_at)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return


def _stamp(path: str) -> Stamp:
    """os.stat on the text: a kept network stamps some 500 files at each start."""
    try:
        status = os.stat(path)
    except OSError:
        return (-1, -1)
    return (status.st_mtime_ns, status.st_size)


def _content_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]
