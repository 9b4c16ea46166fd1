"""A real SFTP server (asyncssh) on loopback, in its own thread and event loop: the
partners' SFTP servers for the tests and the demo (`hub demo`).

The SFTP transport's promises (pinned host key, atomic renames, surviving dropped
sessions, bounded sessions) are about how it behaves against a server, so its tests run
against a real SSH implementation rather than mocks. The server records every file
operation and every session, and can drop connections on demand, so tests can check the
order of what happened on the server side, as a partner's administrator would see it.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # asyncssh 2.24 names DSA's key types as it is imported, which cryptography 51
    # deprecates: five lines about the simulators' library on every `hub demo` start.
    # Only that warning, only from asyncssh, only while it is imported.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"asyncssh\.")
    import asyncssh

__all__ = ["ClientKey", "SftpOp", "SftpServer", "generate_client_key"]

_T = TypeVar("_T")

# SFTP open flags (draft-ietf-secsh-filexfer-02, the version paramiko speaks).
_FXF_READ = 0x01
_FXF_WRITE = 0x02


@dataclass(frozen=True)
class ClientKey:
    """A client key pair in the formats a connector's secrets would hold."""

    private_openssh: str
    public_openssh: str
    fingerprint: str


def generate_client_key(passphrase: str | None = None) -> ClientKey:
    key = asyncssh.generate_private_key("ssh-ed25519")
    # One bcrypt round: the default (128) costs seconds to decrypt, and tests need no KDF.
    private = key.export_private_key(
        "openssh", passphrase=passphrase, rounds=1, ignore_few_rounds=True
    )
    return ClientKey(
        private_openssh=private.decode("ascii"),
        public_openssh=key.export_public_key("openssh").decode("ascii").strip(),
        fingerprint=key.get_fingerprint("sha256"),
    )


@dataclass(frozen=True)
class SftpOp:
    """One file operation as the server received it, with the client's own paths.

    `size` is the size on disk of `path` when the operation arrived (for renames: of
    the file being renamed; for closes: of the file just closed).
    """

    connection: int
    kind: str
    path: str
    target: str | None = None
    mode: str | None = None
    size: int | None = None


@dataclass
class _DropRule:
    kind: str
    name: str
    after: bool


class SftpServer:
    """An SFTP server on 127.0.0.1, random port, serving `root` as "/".

    Accepts `username` with `password` and/or any of `client_keys` (OpenSSH public
    key lines). With `posix_rename=False` it refuses the posix-rename extension, as
    some partner servers do; with `rename_overwrites=True` a plain rename replaces an
    existing target instead of refusing it, as other servers do. `host_key_types` lists
    the host keys it holds, the first being `host_key_openssh` / `host_key_fingerprint`.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str = "hub",
        password: str | None = None,
        client_keys: Sequence[str] = (),
        posix_rename: bool = True,
        rename_overwrites: bool = False,
        host_key_types: Sequence[str] = ("ssh-ed25519",),
    ) -> None:
        self.root = root.resolve()
        self.username = username
        self.password = password
        self.posix_rename_supported = posix_rename
        self.rename_overwrites = rename_overwrites
        self._client_blobs = {asyncssh.import_public_key(line).public_data for line in client_keys}
        self._host_keys = [asyncssh.generate_private_key(kind) for kind in host_key_types]
        self.host_keys_openssh = {
            kind: key.export_public_key("openssh").decode().strip()
            for kind, key in zip(host_key_types, self._host_keys, strict=True)
        }
        self.host_key_openssh = self.host_keys_openssh[host_key_types[0]]
        self.host_key_fingerprint: str = self._host_keys[0].get_fingerprint("sha256")
        self.port = 0

        self._lock = threading.Lock()
        self._ops: list[SftpOp] = []
        self._rules: list[_DropRule] = []
        self._live: dict[asyncssh.SSHServerConnection, int] = {}
        self._authenticated: set[int] = set()
        self._numbers = itertools.count(1)
        self._connections = 0
        self._authentications = 0
        self._max_authenticated = 0

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sftp-server", daemon=True
        )
        self._acceptor: asyncssh.SSHAcceptor | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> SftpServer:
        self._thread.start()
        self._acceptor = self._call(self._listen())
        self.port = self._acceptor.get_port()
        return self

    def stop(self) -> None:
        if self._acceptor is not None:
            acceptor, self._acceptor = self._acceptor, None
            self._call(self._shutdown(acceptor))
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def __enter__(self) -> SftpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=self._host_keys,
            server_factory=lambda: _Gate(self),
            sftp_factory=lambda chan: _RecordingSFTPServer(chan, self),
            allow_scp=False,
        )

    async def _shutdown(self, acceptor: asyncssh.SSHAcceptor) -> None:
        acceptor.close()
        await acceptor.wait_closed()
        await self._abort_all()

    def _call(self, coroutine: Awaitable[_T]) -> _T:
        async def run() -> _T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    # -- what tests look at ----------------------------------------------------------

    @property
    def ops(self) -> list[SftpOp]:
        with self._lock:
            return list(self._ops)

    @property
    def connections(self) -> int:
        """SSH connections accepted so far, whether or not they authenticated."""
        with self._lock:
            return self._connections

    @property
    def authentications(self) -> int:
        with self._lock:
            return self._authentications

    @property
    def live_sessions(self) -> int:
        with self._lock:
            return len(self._authenticated)

    @property
    def max_concurrent_sessions(self) -> int:
        """The most authenticated connections ever open at the same time."""
        with self._lock:
            return self._max_authenticated

    def path(self, remote: str) -> Path:
        """The local file behind a path as the client sees it."""
        return self.root / remote.lstrip("/")

    # -- faults ----------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Abort every live connection, as a partner's idle timeout does; wait until gone."""
        return self._call(self._abort_all())

    async def _abort_all(self) -> int:
        with self._lock:
            connections = list(self._live)
        for connection in connections:
            connection.abort()
        for _ in range(500):
            with self._lock:
                if not any(c in self._live for c in connections):
                    break
            await asyncio.sleep(0.01)
        return len(connections)

    def drop_on(self, kind: str, name: str, *, after: bool = False) -> None:
        """Abort the connection the next time `kind` ("open", "rename", "posix_rename")
        touches a file called `name`: before doing it, or after doing it but before
        answering (the client then never learns that it succeeded)."""
        with self._lock:
            self._rules.append(_DropRule(kind, name, after))

    # -- called from the server's loop ------------------------------------------------

    def _record(self, op: SftpOp) -> None:
        with self._lock:
            self._ops.append(op)

    def _take_rule(self, kind: str, path: str, after: bool) -> bool:
        name = path.rsplit("/", 1)[-1]
        with self._lock:
            for rule in self._rules:
                if (rule.kind, rule.name, rule.after) == (kind, name, after):
                    self._rules.remove(rule)
                    return True
        return False

    def _connected(self, connection: asyncssh.SSHServerConnection) -> int:
        with self._lock:
            number = next(self._numbers)
            self._live[connection] = number
            self._connections += 1
            return number

    def _authenticated_as(self, number: int) -> None:
        with self._lock:
            self._authentications += 1
            self._authenticated.add(number)
            self._max_authenticated = max(self._max_authenticated, len(self._authenticated))

    def _disconnected(self, connection: asyncssh.SSHServerConnection | None) -> None:
        with self._lock:
            number = self._live.pop(connection, None) if connection is not None else None
            if number is not None:
                self._authenticated.discard(number)

    def _number_of(self, connection: asyncssh.SSHServerConnection) -> int:
        with self._lock:
            return self._live.get(connection, 0)

    def _password_ok(self, username: str, password: str) -> bool:
        if self.password is None or username != self.username:
            return False
        return hmac.compare_digest(password.encode(), self.password.encode())

    def _key_ok(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self.username and key.public_data in self._client_blobs


class _Gate(asyncssh.SSHServer):
    """Authentication and session bookkeeping for one connection."""

    def __init__(self, owner: SftpServer) -> None:
        self._owner = owner
        self._connection: asyncssh.SSHServerConnection | None = None
        self._number = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._number = self._owner._connected(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._disconnected(self._connection)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self._owner.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        return self._owner._password_ok(username, password)

    def public_key_auth_supported(self) -> bool:
        return bool(self._owner._client_blobs)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._owner._key_ok(username, key)

    def auth_completed(self) -> None:
        self._owner._authenticated_as(self._number)


class _RecordingSFTPServer(asyncssh.SFTPServer):
    """The stock chrooted SFTP server, recording each operation and dropping on demand."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], owner: SftpServer) -> None:
        super().__init__(chan, chroot=os.fsencode(owner.root))
        self._owner = owner
        self._number = owner._number_of(self.connection)
        self._open_paths: dict[int, str] = {}

    def _size(self, path: str) -> int | None:
        try:
            return self._owner.path(path).stat().st_size
        except OSError:
            return None

    def _record(
        self, kind: str, path: str, target: str | None = None, mode: str | None = None
    ) -> None:
        self._owner._record(
            SftpOp(self._number, kind, path, target=target, mode=mode, size=self._size(path))
        )

    def _maybe_drop(self, kind: str, path: str, *, after: bool) -> None:
        if self._owner._take_rule(kind, path, after):
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("dropped on purpose")

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        name = path.decode()
        mode = "w" if pflags & _FXF_WRITE else "r" if pflags & _FXF_READ else "?"
        self._record("open", name, mode=mode)
        self._maybe_drop("open", name, after=False)
        handle = super().open(path, pflags, attrs)
        self._open_paths[id(handle)] = name
        return handle

    async def close(self, file_obj: object) -> None:
        super().close(file_obj)
        name = self._open_paths.pop(id(file_obj), None)
        if name is not None:
            self._record("close", name)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = oldpath.decode(), newpath.decode()
        self._record("rename", old, target=new)
        self._maybe_drop("rename", old, after=False)
        if self._owner.rename_overwrites:
            super().posix_rename(oldpath, newpath)
        else:
            super().rename(oldpath, newpath)
        self._maybe_drop("rename", old, after=True)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = oldpath.decode(), newpath.decode()
        self._record("posix_rename", old, target=new)
        if not self._owner.posix_rename_supported:
            raise asyncssh.SFTPOpUnsupported("posix-rename is not supported here")
        self._maybe_drop("posix_rename", old, after=False)
        super().posix_rename(oldpath, newpath)
        self._maybe_drop("posix_rename", old, after=True)

    async def remove(self, path: bytes) -> None:
        self._record("remove", path.decode())
        super().remove(path)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        self._record("list", path.decode())
        async for entry in super().scandir(path):
            yield entry
