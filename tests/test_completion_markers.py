"""Completion markers (`complete_when`) on the SFTP transport, against the real asyncssh
server of simulators/sftp.py, and on a local folder: only complete files are listed, and
acknowledging moves (or deletes) the file and then its marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.transports.completion import CompleteWhen, CompletionWatch
from adapters.transports.local_dir import LocalDirTransport, LocalDirTransportSpec
from adapters.transports.sftp.settings import SftpSettings
from adapters.transports.sftp.spec import SftpTransportSpec
from adapters.transports.sftp.transport import SftpTransport
from simulators.sftp import ClientKey, SftpServer


@pytest.fixture
def server(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "root"
    (root / "sortie" / "lu").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as srv:
        yield srv


def sftp(server: SftpServer, client_key: ClientKey, **overrides: Any) -> SftpTransport:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "hub",
        "host_key": server.host_key_openssh,
        "remote_dir": "/sortie",
        "archive_dir": "/sortie/lu",
        "pattern": "RO_STAT_*",
        "private_key": client_key.private_openssh,
        "connect_timeout": 5.0,
        "operation_timeout": 5.0,
    }
    values.update(overrides)
    return SftpTransport(SftpSettings(**values))


def names_in(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file())


DONE = CompleteWhen(marker="{name}.done")


def test_sftp_lists_a_file_only_once_its_marker_exists(
    server: SftpServer, client_key: ClientKey
) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_20261104_0017.txt").write_bytes(b"half writ")
    (out / "RO_STAT_20261104_0016.txt").write_bytes(b"complete\n")
    (out / "RO_STAT_20261104_0016.txt.done").write_bytes(b"")
    with sftp(server, client_key, complete_when=DONE) as transport:
        assert [ref.name for ref in transport.list()] == ["RO_STAT_20261104_0016.txt"]
        (out / "RO_STAT_20261104_0017.txt.done").write_bytes(b"")
        assert [ref.name for ref in transport.list()] == [
            "RO_STAT_20261104_0016.txt",
            "RO_STAT_20261104_0017.txt",
        ]


def test_sftp_acknowledge_moves_the_file_then_its_marker(
    server: SftpServer, client_key: ClientKey
) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_20261104_0016.txt").write_bytes(b"complete\n")
    (out / "RO_STAT_20261104_0016.txt.done").write_bytes(b"")
    with sftp(server, client_key, complete_when=DONE) as transport:
        (ref,) = transport.list()
        transport.acknowledge(ref)
        assert transport.list() == []
    assert names_in(out) == []
    assert names_in(out / "lu") == ["RO_STAT_20261104_0016.txt", "RO_STAT_20261104_0016.txt.done"]
    renames = [op.path for op in server.ops if op.kind == "rename"]
    assert renames == [
        "/sortie/RO_STAT_20261104_0016.txt",
        "/sortie/RO_STAT_20261104_0016.txt.done",
    ]


def test_sftp_a_marker_with_another_extension(server: SftpServer, client_key: ClientKey) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_1.csv").write_bytes(b"a\n")
    (out / "RO_STAT_1.ok").write_bytes(b"")
    (out / "RO_STAT_2.csv").write_bytes(b"b\n")
    rule = CompleteWhen(marker="{stem}.ok")
    with sftp(
        server, client_key, complete_when=rule, archive_dir=None, delete_acknowledged=True
    ) as t:
        (ref,) = t.list()
        assert ref.name == "RO_STAT_1.csv"  # the marker itself is never a message
        t.acknowledge(ref)
    assert names_in(out) == ["RO_STAT_2.csv"]
    assert names_in(out / "lu") == []


def test_sftp_a_temporary_suffix(server: SftpServer, client_key: ClientKey) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_1.edi").write_bytes(b"UNA")
    (out / "RO_STAT_2.edi.inprogress").write_bytes(b"UN")
    rule = CompleteWhen(partial_suffix=".inprogress")
    with sftp(server, client_key, complete_when=rule) as transport:
        assert [ref.name for ref in transport.list()] == ["RO_STAT_1.edi"]


def test_sftp_a_size_that_stopped_changing(server: SftpServer, client_key: ClientKey) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_1.txt").write_bytes(b"steady\n")
    rule = CompleteWhen(stable_for="1s")
    with sftp(server, client_key, complete_when=rule) as transport:
        # The first listing waits once and looks again: nothing changed, so it is listed.
        assert [ref.name for ref in transport.list()] == ["RO_STAT_1.txt"]


def test_sftp_a_retried_acknowledge_finds_its_marker_already_moved(
    server: SftpServer, client_key: ClientKey
) -> None:
    out = server.path("/sortie")
    (out / "RO_STAT_1.txt").write_bytes(b"x\n")
    (out / "RO_STAT_1.txt.done").write_bytes(b"")
    with sftp(server, client_key, complete_when=DONE) as transport:
        (ref,) = transport.list()
        (out / "RO_STAT_1.txt.done").rename(out / "lu" / "RO_STAT_1.txt.done")
        transport.acknowledge(ref)  # the marker is gone: nothing to do for it
    assert names_in(out / "lu") == ["RO_STAT_1.txt", "RO_STAT_1.txt.done"]


# -- a local folder -------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the watch sleeps, and what to do meanwhile."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.meanwhile: list[Path] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        for growing in self.meanwhile:
            with growing.open("ab") as handle:
                handle.write(b"345")


def test_local_folder_marker_and_archive(tmp_path: Path) -> None:
    inbox, archive = tmp_path / "in", tmp_path / "archive"
    inbox.mkdir()
    (inbox / "A.txt").write_bytes(b"a")
    (inbox / "A.txt.done").write_bytes(b"")
    (inbox / "B.txt").write_bytes(b"b")
    folder = LocalDirTransport(inbox, archive_dir=archive, complete_when=DONE)
    (ref,) = folder.list()
    assert ref.name == "A.txt"
    folder.acknowledge(ref)
    assert names_in(inbox) == ["B.txt"]
    assert names_in(archive) == ["A.txt", "A.txt.done"]


def test_local_folder_delete_removes_file_and_marker(tmp_path: Path) -> None:
    (tmp_path / "A.csv").write_bytes(b"a")
    (tmp_path / "A.ok").write_bytes(b"")
    folder = LocalDirTransport(
        tmp_path, complete_when=CompleteWhen(marker="{stem}.ok"), delete_acknowledged=True
    )
    (ref,) = folder.list()
    folder.acknowledge(ref)
    assert names_in(tmp_path) == []


def test_local_folder_waits_for_a_size_that_stopped_changing(tmp_path: Path) -> None:
    fake = FakeTime()
    rule = CompleteWhen(stable_for="5s")
    watch = CompletionWatch(rule, clock=fake.clock, sleep=fake.sleep)
    folder = LocalDirTransport(tmp_path, complete_when=rule, watch=watch)
    growing = tmp_path / "G.txt"
    growing.write_bytes(b"12")
    (tmp_path / "S.txt").write_bytes(b"steady")
    fake.meanwhile = [growing]  # still being written during the pause
    assert [ref.name for ref in folder.list()] == ["S.txt"]
    assert fake.slept == [5.0]
    # It stops growing: the next listing waits once more, then takes it.
    fake.meanwhile = []
    assert [ref.name for ref in folder.list()] == ["G.txt", "S.txt"]
    assert fake.slept == [5.0, 5.0]
    # A watch kept between runs does not wait for files it already saw stable.
    assert [ref.name for ref in folder.list()] == ["G.txt", "S.txt"]
    assert fake.slept == [5.0, 5.0]


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        CompleteWhen(marker="{nom}.done")
    with pytest.raises(ValidationError, match="name its file"):
        CompleteWhen(marker="ready.flag")
    with pytest.raises(ValidationError):
        CompleteWhen(stable_for="5 seconds")
    with pytest.raises(ValidationError, match="choose one"):
        SftpTransportSpec(
            host="h",
            username="u",
            host_key="SHA256:x",
            password_env="PW",
            remote_dir="/out",
            archive_dir="/out/lu",
            delete_acknowledged=True,
        )


def test_the_yaml_shape() -> None:
    spec = LocalDirTransportSpec.model_validate(
        {"path": "/tmp", "complete_when": {"marker": "{name}.done", "partial_suffix": ".tmp"}}
    )
    assert spec.complete_when == CompleteWhen(marker="{name}.done", partial_suffix=[".tmp"])
    assert spec.complete_when.marker_for("RO.txt") == "RO.txt.done"
    assert CompleteWhen(marker="{stem}.ok").marker_for("IFTSTA_1.edi") == "IFTSTA_1.ok"
