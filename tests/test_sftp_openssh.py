"""The SFTP transport against the real OpenSSH server, as partners actually run it.

tests/test_sftp_transport.py covers every branch against an asyncssh server that can
inject faults; this module checks that the core promises hold against the sshd most
partners use: Debian's own /usr/sbin/sshd with `internal-sftp`. One sshd is started for
the module, as the current user, on a free loopback port, with a throw-away host key
and authorized key; each test gets fresh directories, addressed by absolute paths
since there is no chroot. What sshd logs (LogLevel VERBOSE) tells what it saw of each
connection, and killing its per-connection processes stands in for a partner's server
dropping a session. Linux only: sessions are found in /proc, renames seen by inotify.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from adapters.transports.sftp.errors import HostKeyMismatch, SftpAuthenticationError
from adapters.transports.sftp.settings import SftpSettings
from adapters.transports.sftp.transport import SftpTransport
from hub.errors import ConfigurationError, FatalError, OutboundNameTaken
from hub.ports import MessageRef

SSHD = Path("/usr/sbin/sshd")  # sshd re-executes itself, so it must be run by absolute path
SSH_KEYGEN = shutil.which("ssh-keygen")
PRIVSEP_DIR = Path("/run/sshd")  # Debian's privilege separation directory

if not sys.platform.startswith("linux"):
    pytest.skip("the OpenSSH tests use /proc and inotify: Linux only", allow_module_level=True)
if not os.access(SSHD, os.X_OK):
    pytest.skip(
        f"OpenSSH server not installed ({SSHD} is missing; apt-get install openssh-server)",
        allow_module_level=True,
    )
if SSH_KEYGEN is None:
    pytest.skip("ssh-keygen not found (apt-get install openssh-client)", allow_module_level=True)

USER = pwd.getpwuid(os.getuid()).pw_name  # sshd not run as root can only log in its own user

# A status file as the workshop writes it: ISO-8859-1, CRLF, a quoted comment.
STATUS_FILE = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire\r\n"
    'AD-2026-004512;ME-000123;03/11/2026;14:05;DEV;Devis émis;"Carte mère HS; à voir"\r\n'
).encode("latin-1")

_START_TIMEOUT = 10.0
_LOG_TIMEOUT = 5.0


# -- keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key made by ssh-keygen, in the forms a partner or a secret would hold."""

    path: Path
    private_openssh: str
    public_openssh: str
    fingerprint: str  # as `ssh-keygen -l` prints it


def make_key(directory: Path, name: str) -> KeyPair:
    path = directory / name
    assert SSH_KEYGEN is not None
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [SSH_KEYGEN, "-l", "-E", "sha256", "-f", f"{path}.pub"],
        check=True,
        capture_output=True,
        text=True,
    )
    return KeyPair(
        path=path,
        private_openssh=path.read_text(),
        public_openssh=Path(f"{path}.pub").read_text().strip(),
        fingerprint=listed.stdout.split()[1],
    )


# -- processes, seen through /proc --------------------------------------------------------


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (command) state ppid ...": the command may itself contain spaces or ")".
    state, parent = stat.rpartition(")")[2].split()[:2]
    return state, int(parent)


def _alive(pid: int) -> bool:
    seen = _state_and_parent(pid)
    return seen is not None and seen[0] not in {"Z", "X"}


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        seen = _state_and_parent(int(entry.name))
        if seen is not None and seen[0] not in {"Z", "X"}:
            children.setdefault(seen[1], []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        kids = children.get(pending.pop(), [])
        found += kids
        pending += kids
    return found


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _openssh_version() -> tuple[int, int]:
    shown = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"OpenSSH_(\d+)\.(\d+)", shown.stdout + shown.stderr)
    return (int(found[1]), int(found[2])) if found else (0, 0)


# -- the server -------------------------------------------------------------------------


class OpenSshServer:
    """The distribution's sshd on 127.0.0.1, serving SFTP to one client key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.host_key = make_key(directory, "ssh_host_ed25519_key")
        self.client_key = make_key(directory, "client_ed25519")
        self.authorized_keys = directory / "authorized_keys"
        self.authorized_keys.write_text(self.client_key.public_openssh + "\n")
        self.log_path = directory / "sshd.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle

    def start(self) -> OpenSshServer:
        if os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        for _ in range(5):
            self.port = _free_port()
            config = self._write_config()
            with self.log_path.open("wb") as log:  # sshd keeps its own descriptor
                self._process = subprocess.Popen(
                    [str(SSHD), "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if self._wait_until_serving():
                return self
            self.stop()
            if "Address already in use" not in self.log():
                raise RuntimeError(f"sshd exited at start:\n{self.log()}")
        raise RuntimeError("sshd found no free port in 5 attempts")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            for pid in _descendants(process.pid):
                _kill(pid)
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _write_config(self) -> Path:
        lines = [
            "ListenAddress 127.0.0.1",
            f"Port {self.port}",
            f'HostKey "{self.host_key.path}"',
            f'PidFile "{self.directory / "sshd.pid"}"',
            f'AuthorizedKeysFile "{self.authorized_keys}"',
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PrintMotd no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
        ]
        if _openssh_version() >= (9, 8):
            # Otherwise the failed logins tested here would lock 127.0.0.1 out for a while.
            lines.append("PerSourcePenalties no")
        config = self.directory / "sshd_config"
        config.write_text("\n".join(lines) + "\n")
        return config

    def _wait_until_serving(self) -> bool:
        """True once the port answers with an SSH banner; False if sshd exited."""
        process = self._process
        assert process is not None
        listening = f"Server listening on 127.0.0.1 port {self.port}"
        deadline = time.monotonic() + _START_TIMEOUT
        while process.poll() is None:
            # The log line first, so that the banner cannot come from another program.
            if listening in self.log() and self._answers():
                return True
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"sshd did not answer within {_START_TIMEOUT:g} s:\n{self.log()}"
                )
            time.sleep(0.02)
        return False

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as probe:
                return probe.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    # -- what tests look at

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", errors="replace")

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        return self.log_path.read_bytes()[mark:].decode("utf-8", errors="replace")

    def wait_for_log(self, mark: int, done: Callable[[str], bool]) -> str:
        """sshd's processes log on their own time: wait until `done` holds for the log."""
        if not _wait_until(lambda: done(self.log_since(mark)), _LOG_TIMEOUT):
            raise AssertionError(f"sshd never logged what was expected:\n{self.log_since(mark)}")
        return self.log_since(mark)

    def session_pids(self) -> list[int]:
        """The processes sshd forked for the connections it is serving."""
        assert self._process is not None
        return _descendants(self._process.pid)

    # -- faults

    def kill_sessions(self) -> int:
        """Kill every connection's processes, as a crash or an admin would; wait until gone."""
        pids = self.session_pids()
        for pid in pids:
            _kill(pid)
        if not _wait_until(lambda: not any(_alive(pid) for pid in pids), 5.0):
            raise AssertionError(f"sshd session processes {pids} survived SIGKILL")
        return len(pids)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# -- what sshd logged about each connection ----------------------------------------------------


def connections_in(log: str) -> list[int]:
    """Client ports of the connections that sshd accepted within this piece of log."""
    return [int(port) for port in re.findall(r"^Connection from \S+ port (\d+) ", log, re.M)]


def lines_about(log: str, port: int) -> list[str]:
    return [line for line in log.splitlines() if re.search(rf"\bport {port}\b", line)]


def ended(log: str, port: int) -> bool:
    return any(
        re.search(r"^Connection (closed|reset) by ", line) for line in lines_about(log, port)
    )


# -- inotify, to see what reaches a directory and in which order ------------------------------

_INOTIFY_EVENTS = {
    0x100: "create",  # IN_CREATE
    0x008: "close_write",  # IN_CLOSE_WRITE
    0x040: "moved_from",  # IN_MOVED_FROM
    0x080: "moved_to",  # IN_MOVED_TO
    0x200: "delete",  # IN_DELETE
}
_INOTIFY_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class DirectoryEvents:
    """The names created, written, moved and deleted in one directory, in order."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd: int = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        mask = sum(_INOTIFY_EVENTS)
        if libc.inotify_add_watch(self._fd, os.fsencode(directory), mask) < 0:
            errno = ctypes.get_errno()
            os.close(self._fd)
            raise OSError(errno, f"inotify_add_watch failed on {directory}")

    def __enter__(self) -> DirectoryEvents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        os.close(self._fd)

    def take(self) -> list[tuple[str, str]]:
        """Events so far; the kernel queues them as the server's system calls return."""
        events: list[tuple[str, str]] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return events
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, length = _INOTIFY_HEADER.unpack_from(data, offset)
                start = offset + _INOTIFY_HEADER.size
                name = os.fsdecode(data[start : start + length].rstrip(b"\0"))
                offset = start + length
                kinds = [kind for bit, kind in _INOTIFY_EVENTS.items() if mask & bit]
                events += [(kind, name) for kind in kinds]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSshServer]:
    server = OpenSshServer(tmp_path_factory.mktemp("sshd"))
    try:
        server.start()
        _check_login(server)
        yield server
    finally:
        server.stop()


def _check_login(server: OpenSshServer) -> None:
    """Skip, rather than fail every test, where sshd may not log this user in at all."""
    settings = SftpSettings(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        host_key=server.host_key.public_openssh,
        remote_dir=str(server.directory),
        private_key=server.client_key.private_openssh,
        connect_timeout=5.0,
    )
    try:
        with SftpTransport(settings) as probe:
            probe.list()
    except SftpAuthenticationError:
        # e.g. "User hub not allowed because account is locked" (UsePAM no, password "!")
        _wait_until(lambda: "not allowed because" in server.log(), 2.0)
        refusals = [line for line in server.log().splitlines() if "not allowed because" in line]
        if refusals:
            pytest.skip(f"sshd will not log {USER} in here: {refusals[0]}")
        raise


@dataclass(frozen=True)
class Dirs:
    inbound: Path  # where the partner drops files for us (their "out")
    archive: Path
    outbound: Path  # where we upload for the partner (their "in")


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    made = Dirs(
        inbound=tmp_path / "out",
        archive=tmp_path / "out" / "archive",
        outbound=tmp_path / "in",
    )
    made.archive.mkdir(parents=True)
    made.outbound.mkdir()
    return made


def settings_for(server: OpenSshServer, dirs: Dirs, **overrides: Any) -> SftpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "host_key": server.host_key.public_openssh,
        "remote_dir": str(dirs.inbound),
        "outbound_dir": str(dirs.outbound),
        "archive_dir": str(dirs.archive),
        "pattern": "STATUTS_*.csv",
        "private_key": server.client_key.private_openssh,
        "connect_timeout": 5.0,
        "operation_timeout": 5.0,
    }
    values.update(overrides)
    return SftpSettings(**values)


def drop(path: Path, content: bytes, mtime: int | None = None) -> Path:
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def everything_shown(exc: BaseException) -> str:
    """All an operator could read of an error: messages, reprs and causes."""
    shown: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        shown += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(shown)


# -- listing, fetching, acknowledging ------------------------------------------------------------


def test_lists_only_complete_files(sshd: OpenSshServer, dirs: Dirs, tmp_path: Path) -> None:
    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE, mtime=1_793_714_700)
    drop(dirs.inbound / "STATUTS_20261103_0900.csv", b"header\r\n", mtime=1_793_696_400)
    drop(dirs.inbound / "STATUTS_20261103_1420.csv.tmp", b"half a fi")
    drop(dirs.inbound / "STATUTS_20261103_1435.csv.part", b"half")
    drop(dirs.inbound / "README.txt", b"not a status file")
    (dirs.inbound / "STATUTS_old.csv").mkdir()
    elsewhere = drop(tmp_path / "shared.csv", b"linked\r\n")
    (dirs.inbound / "STATUTS_20261103_1500.csv").symlink_to(elsewhere)
    (dirs.inbound / "STATUTS_20261103_1515.csv").symlink_to(tmp_path / "gone.csv")

    with SftpTransport(settings_for(sshd, dirs)) as sftp:
        refs = sftp.list()
    with SftpTransport(settings_for(sshd, dirs, pattern="*")) as sftp:
        everything = [ref.name for ref in sftp.list()]

    assert [ref.name for ref in refs] == [
        "STATUTS_20261103_0900.csv",
        "STATUTS_20261103_1405.csv",
        "STATUTS_20261103_1500.csv",
    ]
    assert refs[0] == MessageRef(
        name="STATUTS_20261103_0900.csv",
        size=8,
        modified_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
    )
    assert refs[1].size == len(STATUS_FILE)
    assert refs[1].modified_at == datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
    assert refs[2].size == len(b"linked\r\n")  # the file linked to, not the link
    assert everything == [
        "README.txt",
        "STATUTS_20261103_0900.csv",
        "STATUTS_20261103_1405.csv",
        "STATUTS_20261103_1500.csv",
    ]


def test_fetch_returns_the_bytes_exactly(sshd: OpenSshServer, dirs: Dirs) -> None:
    binary = bytes(range(256)) * 4096  # 1 MiB: many SFTP reads, every byte value
    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE, mtime=1_793_714_700)
    drop(dirs.inbound / "STATUTS_20261103_1500.csv", binary)
    drop(dirs.inbound / "STATUTS_20261103_1515.csv", b"")
    before = {path.name: path.stat().st_mtime_ns for path in dirs.inbound.iterdir()}

    with SftpTransport(settings_for(sshd, dirs)) as sftp:
        messages = {ref.name: sftp.fetch(ref) for ref in sftp.list()}

    status = messages["STATUTS_20261103_1405.csv"]
    assert status.content == STATUS_FILE
    assert status.content.decode("latin-1").startswith("N° dossier;Réf. client")
    path = str(dirs.inbound / "STATUTS_20261103_1405.csv")
    assert dict(status.metadata) == {
        "host": "127.0.0.1",
        "port": str(sshd.port),
        "path": path,
        "size": str(len(STATUS_FILE)),
        "mtime": "2026-11-03T14:05:00+00:00",
    }
    assert messages["STATUTS_20261103_1500.csv"].content == binary
    assert messages["STATUTS_20261103_1515.csv"].content == b""
    # Reading changed nothing on the server.
    assert {path.name: path.stat().st_mtime_ns for path in dirs.inbound.iterdir()} == before


def test_acknowledge_moves_files_into_the_archive(sshd: OpenSshServer, dirs: Dirs) -> None:
    drop(dirs.inbound / "STATUTS_20261103_0900.csv", b"morning\r\n")
    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE)
    drop(dirs.archive / "STATUTS_20261103_1405.csv", b"yesterday's export\r\n")

    with SftpTransport(settings_for(sshd, dirs)) as sftp:
        for ref in sftp.list():
            sftp.acknowledge(ref)
        assert sftp.list() == []

    assert sorted(path.name for path in dirs.inbound.iterdir()) == ["archive"]
    archived = {path.name: path.read_bytes() for path in dirs.archive.iterdir()}
    # OpenSSH's rename refuses to replace a file: a clash gets the next free name.
    assert archived == {
        "STATUTS_20261103_0900.csv": b"morning\r\n",
        "STATUTS_20261103_1405.csv": b"yesterday's export\r\n",
        "STATUTS_20261103_1405.1.csv": STATUS_FILE,
    }


def test_without_an_archive_dir_files_stay_where_they_are(sshd: OpenSshServer, dirs: Dirs) -> None:
    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE)

    with SftpTransport(settings_for(sshd, dirs, archive_dir=None)) as sftp:
        (ref,) = sftp.list()
        sftp.acknowledge(ref)
        assert sftp.list() == [ref]

    assert (dirs.inbound / "STATUTS_20261103_1405.csv").read_bytes() == STATUS_FILE
    assert list(dirs.archive.iterdir()) == []


# -- uploading ---------------------------------------------------------------------------------


def test_put_writes_a_temporary_name_then_renames_it(sshd: OpenSshServer, dirs: Dirs) -> None:
    name = "ORDRES_20261103_141500.csv"
    partial = name + ".tmp"
    first = bytes(range(256)) * 2048  # 512 KiB: several pipelined writes
    second = "ME-000123;Réparation acceptée\r\n".encode("latin-1")

    with DirectoryEvents(dirs.outbound) as events, SftpTransport(settings_for(sshd, dirs)) as sftp:
        sftp.put(name, first)
        assert (dirs.outbound / name).read_bytes() == first
        with pytest.raises(OutboundNameTaken, match="not overwritten"):
            sftp.put(name, second)  # the partner has not picked the first one up yet
        seen = events.take()

    assert (dirs.outbound / name).read_bytes() == first, "an unread order is never replaced"
    assert sorted(path.name for path in dirs.outbound.iterdir()) == [name]
    # What the partner's directory went through: the final name only ever appears
    # by a rename of a file already complete and closed; the second upload never began.
    assert seen == [
        ("create", partial),
        ("close_write", partial),
        ("moved_from", partial),
        ("moved_to", name),
    ]


# -- trust and credentials -----------------------------------------------------------------------


@pytest.mark.parametrize("pin_as", ["public-key-file", "ssh-keygen-fingerprint", "ssh-keyscan"])
def test_the_host_key_pin_as_a_partner_would_send_it(
    sshd: OpenSshServer, dirs: Dirs, pin_as: str
) -> None:
    if pin_as == "public-key-file":
        pin = Path(f"{sshd.host_key.path}.pub").read_text()
    elif pin_as == "ssh-keygen-fingerprint":
        pin = sshd.host_key.fingerprint
    else:
        keyscan = shutil.which("ssh-keyscan")
        if keyscan is None:
            pytest.skip("ssh-keyscan not found (apt-get install openssh-client)")
        scanned = subprocess.run(
            [keyscan, "-T", "5", "-t", "ed25519", "-p", str(sshd.port), "127.0.0.1"],
            capture_output=True,
            text=True,
            check=True,
        )
        (pin,) = [line for line in scanned.stdout.splitlines() if not line.startswith("#")]
        assert pin.startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")

    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE)
    with SftpTransport(settings_for(sshd, dirs, host_key=pin)) as sftp:
        assert [ref.name for ref in sftp.list()] == ["STATUTS_20261103_1405.csv"]


def test_another_host_key_is_refused_before_authenticating(
    sshd: OpenSshServer, dirs: Dirs, tmp_path: Path
) -> None:
    impostor = make_key(tmp_path, "impostor_ed25519")
    drop(dirs.inbound / "STATUTS_20261103_1405.csv", STATUS_FILE)
    mark = sshd.log_mark()

    settings = settings_for(sshd, dirs, host_key=impostor.public_openssh)
    with SftpTransport(settings) as sftp, pytest.raises(HostKeyMismatch) as caught:
        sftp.list()

    message = str(caught.value)
    assert isinstance(caught.value, FatalError)
    assert f"127.0.0.1:{sshd.port}" in message
    assert impostor.fingerprint in message
    assert sshd.host_key.fingerprint in message
    # sshd saw one connection, which ended before any user or key was named.
    log = sshd.wait_for_log(mark, lambda log: any(ended(log, port) for port in connections_in(log)))
    (port,) = connections_in(log)
    about = lines_about(log, port)
    assert about[-1].endswith("[preauth]")
    assert not [line for line in about if re.search(r"publickey|user|Accepted|Failed", line)]


def test_an_unknown_client_key_is_refused_without_leaking_it(
    sshd: OpenSshServer, dirs: Dirs, tmp_path: Path
) -> None:
    stranger = make_key(tmp_path, "stranger_ed25519")
    mark = sshd.log_mark()

    settings = settings_for(sshd, dirs, private_key=stranger.private_openssh)
    with SftpTransport(settings) as sftp, pytest.raises(SftpAuthenticationError) as caught:
        sftp.list()

    assert isinstance(caught.value, ConfigurationError)
    assert f"{USER}@127.0.0.1:{sshd.port}" in str(caught.value)
    assert stranger.fingerprint in str(caught.value)  # public: says which key to check
    shown = everything_shown(caught.value)
    secret_lines = stranger.private_openssh.strip().splitlines()[1:-1]
    assert secret_lines
    assert not any(line in shown for line in secret_lines)
    assert "PRIVATE KEY" not in shown
    assert "PRIVATE KEY" not in repr(settings)

    failed = f"Failed publickey for {USER} from 127.0.0.1 port "

    def refused_and_ended(log: str) -> bool:
        return any(failed in line for line in log.splitlines()) and any(
            ended(log, port) for port in connections_in(log)
        )

    log = sshd.wait_for_log(mark, refused_and_ended)
    (port,) = connections_in(log)
    about = lines_about(log, port)
    assert any(
        line.startswith(f"{failed}{port} ") and stranger.fingerprint in line for line in about
    )
    assert not [line for line in about if "Accepted" in line]


# -- sessions the server drops ------------------------------------------------------------------


def test_a_session_killed_on_the_server_is_resumed_transparently(
    sshd: OpenSshServer, dirs: Dirs
) -> None:
    contents = {
        f"STATUTS_20261103_{hhmm}.csv": STATUS_FILE + hhmm.encode()
        for hhmm in ("0900", "0915", "0930")
    }
    for name, content in contents.items():
        drop(dirs.inbound / name, content)

    fetched: dict[str, bytes] = {}
    with SftpTransport(settings_for(sshd, dirs)) as sftp:
        refs = sftp.list()
        mark = sshd.log_mark()
        for ref in refs:
            assert sshd.kill_sessions() > 0  # between listing (or archiving) and reading...
            message = sftp.fetch(ref)
            assert ref.name not in fetched
            fetched[ref.name] = message.content
            assert sshd.kill_sessions() > 0  # ...and between reading and archiving
            sftp.acknowledge(ref)
        assert sftp.list() == []

    assert fetched == contents
    assert {path.name: path.read_bytes() for path in dirs.archive.iterdir()} == contents
    assert sorted(path.name for path in dirs.inbound.iterdir()) == ["archive"]
    # One new login per killed session, no more: each was resumed once, transparently.
    accepted = f"Accepted publickey for {USER} from 127.0.0.1 port "

    def logged_in(log: str) -> list[int]:
        ports = connections_in(log)
        return [port for port in ports if any(accepted in line for line in lines_about(log, port))]

    log = sshd.wait_for_log(mark, lambda log: len(logged_in(log)) >= 2 * len(contents))
    assert len(connections_in(log)) == len(logged_in(log)) == 2 * len(contents)
