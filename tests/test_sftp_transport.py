"""The SFTP transport against a real SFTP server (asyncssh, on loopback).

Each test starts its own server on a random port, serving a temporary directory laid
out like Atelier Dupont's (/out, /out/archive, /in), and checks both what the transport
returns and what the server saw, in order.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.transports.sftp.errors import (
    HostKeyMismatch,
    SftpAuthenticationError,
    SftpConnectionLost,
    SftpPathError,
    SftpSessionsBusy,
)
from adapters.transports.sftp.settings import SftpSettings
from adapters.transports.sftp.transport import SftpTransport
from hub.errors import ConfigurationError, FatalError, TransientError
from hub.ports import MessageRef, RawMessage, Transport
from simulators.sftp import ClientKey, SftpOp, SftpServer, generate_client_key

PASSWORD = "correct-horse-7f3c9a"  # the test server's own password

# A status file as the workshop writes it: ISO-8859-1, CRLF, a quoted comment.
STATUS_FILE = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire\r\n"
    'AD-2026-004512;ME-000123;03/11/2026;14:05;DEV;Devis émis;"Carte mère HS; à voir"\r\n'
).encode("latin-1")


@pytest.fixture
def server(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "root"
    (root / "out" / "archive").mkdir(parents=True)
    (root / "in").mkdir()
    with SftpServer(root, client_keys=[client_key.public_openssh], password=PASSWORD) as srv:
        yield srv


def settings_for(server: SftpServer, client_key: ClientKey, **overrides: Any) -> SftpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "hub",
        "host_key": server.host_key_openssh,
        "remote_dir": "/out",
        "outbound_dir": "/in",
        "archive_dir": "/out/archive",
        "pattern": "STATUTS_*.csv",
        "private_key": client_key.private_openssh,
        "connect_timeout": 5.0,
        "operation_timeout": 5.0,
    }
    values.update(overrides)
    return SftpSettings(**values)


@pytest.fixture
def transport(server: SftpServer, client_key: ClientKey) -> Iterator[SftpTransport]:
    with SftpTransport(settings_for(server, client_key)) as sftp:
        yield sftp


def drop_file(server: SftpServer, remote: str, content: bytes, mtime: int | None = None) -> Path:
    path = server.path(remote)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def chain_text(exc: BaseException) -> str:
    """Everything an operator could see of an error: message, repr, causes."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def ops_of(server: SftpServer, *kinds: str) -> list[SftpOp]:
    return [op for op in server.ops if op.kind in kinds]


# -- listing and fetching -------------------------------------------------------------


def test_is_a_hub_transport(transport: SftpTransport) -> None:
    assert isinstance(transport, Transport)


def test_connects_lazily(server: SftpServer, client_key: ClientKey) -> None:
    with SftpTransport(settings_for(server, client_key)):
        pass
    assert server.connections == 0


def test_lists_only_complete_matching_files_sorted_by_name(
    server: SftpServer, transport: SftpTransport
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE, mtime=1_793_714_700)
    drop_file(server, "/out/STATUTS_20261103_0900.csv", b"header\r\n", mtime=1_793_696_400)
    drop_file(server, "/out/STATUTS_20261103_1420.csv.tmp", b"half a fi")
    drop_file(server, "/out/STATUTS_20261103_1435.csv.part", b"half")
    drop_file(server, "/out/README.txt", b"not a status file")
    server.path("/out/STATUTS_old.csv").mkdir()

    refs = transport.list()

    assert [ref.name for ref in refs] == [
        "STATUTS_20261103_0900.csv",
        "STATUTS_20261103_1405.csv",
    ]
    assert refs[0] == MessageRef(
        name="STATUTS_20261103_0900.csv",
        size=8,
        modified_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
    )
    assert refs[1].size == len(STATUS_FILE)
    assert refs[1].modified_at == datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
    assert refs[1].modified_at is not None
    assert refs[1].modified_at.utcoffset() is not None


def test_partial_suffixes_are_skipped_even_with_a_catch_all_pattern(
    server: SftpServer, client_key: ClientKey
) -> None:
    drop_file(server, "/out/ANS_20261103101500_1.csv", b"order_id\n")
    drop_file(server, "/out/ANS_20261103101500_2.csv.part", b"order_")
    drop_file(server, "/out/ANS_20261103101500_3.csv.tmp", b"order_")
    with SftpTransport(settings_for(server, client_key, pattern="*")) as sftp:
        names = [ref.name for ref in sftp.list()]
    assert names == ["ANS_20261103101500_1.csv"]


def test_fetch_returns_the_bytes_exactly(server: SftpServer, transport: SftpTransport) -> None:
    binary = bytes(range(256)) * 4096  # 1 MiB: several SFTP reads, every byte value
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE, mtime=1_793_714_700)
    drop_file(server, "/out/STATUTS_20261103_1500.csv", binary)
    drop_file(server, "/out/STATUTS_20261103_1515.csv", b"")

    messages = {ref.name: transport.fetch(ref) for ref in transport.list()}

    status = messages["STATUTS_20261103_1405.csv"]
    assert isinstance(status, RawMessage)
    assert status.content == STATUS_FILE
    assert status.content.decode("latin-1").startswith("N° dossier;Réf. client")
    assert status.ref.name == "STATUTS_20261103_1405.csv"
    assert dict(status.metadata) == {
        "host": "127.0.0.1",
        "port": str(server.port),
        "path": "/out/STATUTS_20261103_1405.csv",
        "size": str(len(STATUS_FILE)),
        "mtime": "2026-11-03T14:05:00+00:00",
    }
    assert messages["STATUTS_20261103_1500.csv"].content == binary
    assert messages["STATUTS_20261103_1515.csv"].content == b""
    # Fetching reads only: nothing was moved, removed or written.
    assert ops_of(server, "rename", "posix_rename", "remove") == []
    assert {op.mode for op in ops_of(server, "open")} == {"r"}


def test_missing_inbound_directory_is_a_configuration_error(
    server: SftpServer, client_key: ClientKey
) -> None:
    settings = settings_for(server, client_key, remote_dir="/nowhere")
    with SftpTransport(settings) as sftp, pytest.raises(SftpPathError, match="/nowhere") as caught:
        sftp.list()
    assert isinstance(caught.value, ConfigurationError)


def test_refuses_names_outside_the_directory(transport: SftpTransport) -> None:
    with pytest.raises(ConfigurationError):
        transport.fetch(MessageRef(name="../in/ORDRES.csv"))
    with pytest.raises(ConfigurationError):
        transport.put("../out/STATUTS_forged.csv", b"x")


# -- acknowledging ----------------------------------------------------------------------


def test_acknowledge_moves_the_file_into_the_archive(
    server: SftpServer, transport: SftpTransport
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    (ref,) = transport.list()

    transport.acknowledge(ref)

    assert not server.path("/out/STATUTS_20261103_1405.csv").exists()
    assert server.path("/out/archive/STATUTS_20261103_1405.csv").read_bytes() == STATUS_FILE
    assert transport.list() == []
    assert [(op.path, op.target) for op in ops_of(server, "rename", "posix_rename")] == [
        ("/out/STATUTS_20261103_1405.csv", "/out/archive/STATUTS_20261103_1405.csv")
    ]


def test_acknowledge_never_overwrites_an_archived_file_of_the_same_name(
    server: SftpServer, transport: SftpTransport
) -> None:
    drop_file(server, "/out/archive/STATUTS_20261103_1405.csv", b"first export\r\n")
    drop_file(server, "/out/archive/STATUTS_20261103_1405.1.csv", b"second export\r\n")
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    (ref,) = transport.list()

    transport.acknowledge(ref)

    archive = server.path("/out/archive")
    assert sorted(p.name for p in archive.iterdir()) == [
        "STATUTS_20261103_1405.1.csv",
        "STATUTS_20261103_1405.2.csv",
        "STATUTS_20261103_1405.csv",
    ]
    assert (archive / "STATUTS_20261103_1405.csv").read_bytes() == b"first export\r\n"
    assert (archive / "STATUTS_20261103_1405.1.csv").read_bytes() == b"second export\r\n"
    assert (archive / "STATUTS_20261103_1405.2.csv").read_bytes() == STATUS_FILE
    assert not server.path("/out/STATUTS_20261103_1405.csv").exists()


def test_acknowledge_checks_for_a_clash_where_rename_would_overwrite(
    tmp_path: Path, client_key: ClientKey
) -> None:
    root = tmp_path / "root"
    (root / "out" / "archive").mkdir(parents=True)
    (root / "out" / "archive" / "STATUTS_20261103_1405.csv").write_bytes(b"first export\r\n")
    (root / "out" / "STATUTS_20261103_1405.csv").write_bytes(STATUS_FILE)
    with (
        SftpServer(root, client_keys=[client_key.public_openssh], rename_overwrites=True) as srv,
        SftpTransport(settings_for(srv, client_key)) as sftp,
    ):
        (ref,) = sftp.list()
        sftp.acknowledge(ref)
    archive = root / "out" / "archive"
    assert (archive / "STATUTS_20261103_1405.csv").read_bytes() == b"first export\r\n"
    assert (archive / "STATUTS_20261103_1405.1.csv").read_bytes() == STATUS_FILE


def test_missing_archive_directory_is_a_configuration_error(
    server: SftpServer, client_key: ClientKey
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    with SftpTransport(settings_for(server, client_key, archive_dir="/out/old")) as sftp:
        (ref,) = sftp.list()
        with pytest.raises(SftpPathError, match="/out/old"):
            sftp.acknowledge(ref)
    assert server.path("/out/STATUTS_20261103_1405.csv").read_bytes() == STATUS_FILE


def test_without_archive_the_server_is_never_touched(
    server: SftpServer, client_key: ClientKey
) -> None:
    """PiècesPlus: the hub must not move or delete answers; its store remembers them."""
    root = server.path("/orders/out")
    drop_file(server, "/orders/out/ANS_20261103101500_1.csv", b"\xef\xbb\xbforder_id\n")
    drop_file(server, "/orders/out/ANS_20261103164000_2.csv", b"\xef\xbb\xbforder_id\n")
    settings = settings_for(
        server,
        client_key,
        remote_dir="/orders/out",
        outbound_dir="/orders/in",
        archive_dir=None,
        pattern="ANS_*.csv",
    )
    with SftpTransport(settings) as sftp:
        sftp.acknowledge(MessageRef(name="ANS_20261103101500_1.csv"))
        assert server.connections == 0  # acknowledging alone does not even connect
        refs = sftp.list()
        for ref in refs:
            sftp.fetch(ref)
            sftp.acknowledge(ref)
        assert [ref.name for ref in sftp.list()] == [ref.name for ref in refs]

    assert sorted(p.name for p in root.iterdir()) == [
        "ANS_20261103101500_1.csv",
        "ANS_20261103164000_2.csv",
    ]
    assert ops_of(server, "rename", "posix_rename", "remove") == []
    assert all(op.mode == "r" for op in ops_of(server, "open"))


# -- uploading ---------------------------------------------------------------------------


def test_put_writes_a_temporary_name_then_renames(
    server: SftpServer, transport: SftpTransport
) -> None:
    content = "Réf. client;Enseigne\r\nME-000123;Maison Électro\r\n".encode("latin-1")

    transport.put("ORDRES_20261103_141500.csv", content)

    final = "/in/ORDRES_20261103_141500.csv"
    partial = final + ".tmp"
    assert server.path(final).read_bytes() == content
    assert not server.path(partial).exists()
    writes = [op for op in server.ops if op.kind != "list"]
    assert [(op.kind, op.path, op.target) for op in writes] == [
        ("open", partial, None),
        ("close", partial, None),
        ("posix_rename", partial, final),
    ]
    assert writes[0].mode == "w"
    # When the final name appeared, the file behind it was already complete.
    assert writes[2].size == len(content)
    assert not any(op.path == final for op in server.ops)


def test_put_uses_the_partners_suffix(server: SftpServer, client_key: ClientKey) -> None:
    server.path("/orders/in").mkdir(parents=True)
    settings = settings_for(
        server, client_key, outbound_dir="/orders/in", upload_suffix=".part", archive_dir=None
    )
    with SftpTransport(settings) as sftp:
        sftp.put("PO_PO-2026-00017.xml", b"<PurchaseOrder/>")
    (rename,) = ops_of(server, "posix_rename")
    assert (rename.path, rename.target) == (
        "/orders/in/PO_PO-2026-00017.xml.part",
        "/orders/in/PO_PO-2026-00017.xml",
    )
    assert server.path("/orders/in/PO_PO-2026-00017.xml").read_bytes() == b"<PurchaseOrder/>"


def test_put_falls_back_to_plain_rename_without_posix_rename(
    tmp_path: Path, client_key: ClientKey
) -> None:
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (root / "out").mkdir()
    with SftpServer(root, client_keys=[client_key.public_openssh], posix_rename=False) as srv:
        with SftpTransport(settings_for(srv, client_key)) as sftp:
            sftp.put("ORDRES_20261103_141500.csv", b"payload")
        assert [(op.kind, op.target) for op in srv.ops if op.kind.endswith("rename")] == [
            ("posix_rename", "/in/ORDRES_20261103_141500.csv"),
            ("rename", "/in/ORDRES_20261103_141500.csv"),
        ]
        assert (root / "in" / "ORDRES_20261103_141500.csv").read_bytes() == b"payload"
        assert sorted(p.name for p in (root / "in").iterdir()) == ["ORDRES_20261103_141500.csv"]


def test_missing_outbound_directory_is_a_configuration_error(
    server: SftpServer, client_key: ClientKey
) -> None:
    settings = settings_for(server, client_key, outbound_dir="/inbox")
    with SftpTransport(settings) as sftp, pytest.raises(SftpPathError, match="/inbox"):
        sftp.put("ORDRES_20261103_141500.csv", b"payload")


def test_an_upload_that_cannot_finish_never_shows_the_final_name(
    server: SftpServer, transport: SftpTransport
) -> None:
    server.drop_on("posix_rename", "ORDRES_20261103_141500.csv.tmp")
    server.drop_on("posix_rename", "ORDRES_20261103_141500.csv.tmp")

    with pytest.raises(SftpConnectionLost):
        transport.put("ORDRES_20261103_141500.csv", b"payload")

    assert not server.path("/in/ORDRES_20261103_141500.csv").exists()
    assert server.connections == 2


# -- trust and credentials ---------------------------------------------------------------


@pytest.mark.parametrize("pin_as", ["openssh", "fingerprint"])
def test_a_server_with_another_host_key_is_refused_before_anything_is_sent(
    server: SftpServer, client_key: ClientKey, pin_as: str
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    impostor_pin = generate_client_key()  # any other ed25519 key will do
    pinned = impostor_pin.public_openssh if pin_as == "openssh" else impostor_pin.fingerprint
    settings = settings_for(server, client_key, host_key=pinned, password=PASSWORD)

    with SftpTransport(settings) as sftp, pytest.raises(HostKeyMismatch) as caught:
        sftp.list()

    message = str(caught.value)
    assert isinstance(caught.value, FatalError)
    assert f"127.0.0.1:{server.port}" in message
    assert impostor_pin.fingerprint in message
    assert server.host_key_fingerprint in message
    assert server.authentications == 0
    assert server.ops == []


def test_the_pin_may_be_a_sha256_fingerprint(server: SftpServer, client_key: ClientKey) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    settings = settings_for(server, client_key, host_key=server.host_key_fingerprint)
    with SftpTransport(settings) as sftp:
        assert [ref.name for ref in sftp.list()] == ["STATUTS_20261103_1405.csv"]


def test_the_pinned_key_type_is_asked_for_when_the_server_has_several(
    tmp_path: Path, client_key: ClientKey
) -> None:
    root = tmp_path / "root"
    (root / "out").mkdir(parents=True)
    with SftpServer(
        root, client_keys=[client_key.public_openssh], host_key_types=("ssh-ed25519", "ssh-rsa")
    ) as srv:
        rsa_pin = srv.host_keys_openssh["ssh-rsa"]
        with SftpTransport(settings_for(srv, client_key, host_key=rsa_pin)) as sftp:
            assert sftp.list() == []
        assert srv.authentications == 1


def test_password_authentication(server: SftpServer, client_key: ClientKey) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    settings = settings_for(server, client_key, private_key=None, password=PASSWORD)
    with SftpTransport(settings) as sftp:
        assert len(sftp.list()) == 1


def test_private_key_from_a_file(server: SftpServer, client_key: ClientKey, tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(client_key.private_openssh)
    key_file.chmod(0o600)
    with SftpTransport(settings_for(server, client_key, private_key=str(key_file))) as sftp:
        assert sftp.list() == []


def test_a_wrong_password_is_a_configuration_error_that_does_not_leak_it(
    server: SftpServer, client_key: ClientKey
) -> None:
    wrong = "hunter2-wrong-9d1e"
    settings = settings_for(server, client_key, private_key=None, password=wrong)

    with SftpTransport(settings) as sftp, pytest.raises(SftpAuthenticationError) as caught:
        sftp.list()

    assert isinstance(caught.value, ConfigurationError)
    assert "hub@127.0.0.1" in str(caught.value)
    assert "password refused" in str(caught.value)
    assert wrong not in chain_text(caught.value)
    assert wrong not in repr(settings)
    assert server.ops == []


def test_a_key_the_server_does_not_know_is_refused_without_leaking_it(
    server: SftpServer, client_key: ClientKey
) -> None:
    stranger = generate_client_key()
    settings = settings_for(server, client_key, private_key=stranger.private_openssh)

    with SftpTransport(settings) as sftp, pytest.raises(SftpAuthenticationError) as caught:
        sftp.list()

    text = chain_text(caught.value)
    assert stranger.fingerprint in str(caught.value)  # public: tells which key to check
    secret_lines = stranger.private_openssh.strip().splitlines()[1:-1]
    assert secret_lines
    assert not any(line in text for line in secret_lines)
    assert "PRIVATE KEY" not in text
    assert "PRIVATE KEY" not in repr(settings)
    assert server.ops == []


def test_an_encrypted_key_needs_its_passphrase(server: SftpServer, client_key: ClientKey) -> None:
    passphrase = "open-sesame-41c2"
    locked = generate_client_key(passphrase=passphrase)
    with (
        SftpTransport(settings_for(server, client_key, private_key=locked.private_openssh)) as sftp,
        pytest.raises(SftpAuthenticationError, match="passphrase"),
    ):
        sftp.list()
    wrong = settings_for(
        server, client_key, private_key=locked.private_openssh, private_key_passphrase="nope-7"
    )
    with SftpTransport(wrong) as sftp, pytest.raises(SftpAuthenticationError) as caught:
        sftp.list()
    assert "nope-7" not in chain_text(caught.value)
    assert passphrase not in chain_text(caught.value)


# -- failures of the network ---------------------------------------------------------------


def test_a_dropped_session_is_resumed_without_loss_or_duplicates(
    server: SftpServer, transport: SftpTransport
) -> None:
    contents = {
        f"STATUTS_20261103_{hhmm}.csv": STATUS_FILE + hhmm.encode()
        for hhmm in ("0900", "0915", "0930", "0945", "1000")
    }
    for name, content in contents.items():
        drop_file(server, f"/out/{name}", content)

    refs = transport.list()
    # The partner closes the idle session between the listing and the first fetch...
    assert server.drop_connections() == 1
    # ...a session dies while the server is opening a file...
    server.drop_on("open", "STATUTS_20261103_0930.csv")
    # ...and another after it archived a file but before it could say so.
    server.drop_on("rename", "STATUTS_20261103_0945.csv", after=True)

    fetched: dict[str, bytes] = {}
    for ref in refs:
        message = transport.fetch(ref)
        assert ref.name not in fetched
        fetched[ref.name] = message.content
        transport.acknowledge(ref)

    assert fetched == contents
    archive = server.path("/out/archive")
    assert sorted(p.name for p in archive.iterdir()) == sorted(contents)
    assert all((archive / name).read_bytes() == content for name, content in contents.items())
    assert sorted(p.name for p in server.path("/out").iterdir()) == ["archive"]
    assert transport.list() == []
    assert server.connections == 4  # the first session and three transparent reconnects
    served = [op.path for op in ops_of(server, "close")]
    assert sorted(served) == sorted(f"/out/{name}" for name in contents)


def test_a_put_whose_reply_was_lost_is_not_uploaded_twice(
    server: SftpServer, transport: SftpTransport
) -> None:
    server.drop_on("posix_rename", "ORDRES_20261103_141500.csv.tmp", after=True)

    transport.put("ORDRES_20261103_141500.csv", b"payload")

    assert server.path("/in/ORDRES_20261103_141500.csv").read_bytes() == b"payload"
    assert sorted(p.name for p in server.path("/in").iterdir()) == ["ORDRES_20261103_141500.csv"]
    assert len(ops_of(server, "posix_rename")) == 1
    assert server.connections == 2


def test_a_session_that_drops_twice_gives_up_with_a_transient_error(
    server: SftpServer, transport: SftpTransport
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    (ref,) = transport.list()
    server.drop_on("open", ref.name)
    server.drop_on("open", ref.name)

    with pytest.raises(SftpConnectionLost) as caught:
        transport.fetch(ref)

    assert isinstance(caught.value, TransientError)
    assert server.connections == 2
    # The transport is still usable once the network is back.
    assert transport.fetch(ref).content == STATUS_FILE


def test_an_unreachable_server_is_a_transient_error(client_key: ClientKey) -> None:
    settings = SftpSettings(
        host="127.0.0.1",
        port=free_port(),
        username="hub",
        host_key=generate_client_key().public_openssh,
        remote_dir="/out",
        private_key=client_key.private_openssh,
        connect_timeout=2.0,
    )
    started = time.monotonic()
    with SftpTransport(settings) as sftp, pytest.raises(TransientError) as caught:
        sftp.list()
    assert isinstance(caught.value, SftpConnectionLost)
    assert f"127.0.0.1:{settings.port}" in str(caught.value)
    assert time.monotonic() - started < 2.0


def test_a_server_that_never_answers_times_out_as_a_transient_error(
    client_key: ClientKey,
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = SftpSettings(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            username="hub",
            host_key=generate_client_key().public_openssh,
            remote_dir="/out",
            private_key=client_key.private_openssh,
            connect_timeout=0.5,
        )
        started = time.monotonic()
        with SftpTransport(settings) as sftp, pytest.raises(SftpConnectionLost):
            sftp.list()
        assert time.monotonic() - started < 3.0


# -- sessions --------------------------------------------------------------------------------


def test_sessions_per_account_never_exceed_max_sessions(
    server: SftpServer, client_key: ClientKey
) -> None:
    drop_file(server, "/out/STATUTS_20261103_1405.csv", STATUS_FILE)
    settings = settings_for(server, client_key, max_sessions=2)
    failures: list[BaseException] = []
    results: list[bytes] = []
    start = threading.Barrier(6)

    def one_run() -> None:
        try:
            start.wait()
            with SftpTransport(settings) as sftp:
                (ref,) = sftp.list()
                time.sleep(0.15)  # hold the session, as a run parsing a file does
                results.append(sftp.fetch(ref).content)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert failures == []
    assert results == [STATUS_FILE] * 6
    assert server.connections == 6
    assert server.max_concurrent_sessions == 2


def test_a_busy_account_is_a_transient_error_and_close_frees_the_session(
    server: SftpServer, client_key: ClientKey
) -> None:
    settings = settings_for(server, client_key, max_sessions=1, session_wait_timeout=0.3)
    holder = SftpTransport(settings)
    holder.list()
    with SftpTransport(settings) as waiting:
        with pytest.raises(SftpSessionsBusy) as caught:
            waiting.list()
        assert isinstance(caught.value, TransientError)
        holder.close()
        assert waiting.list() == []
    assert server.max_concurrent_sessions == 1


# -- settings ----------------------------------------------------------------------------------


def test_settings_refuse_what_cannot_work() -> None:
    base: dict[str, Any] = {
        "host": "sftp.atelier-dupont.example",
        "username": "hub-me",
        "host_key": "SHA256:" + "A" * 43,
        "remote_dir": "/out",
        "password": PASSWORD,
    }
    SftpSettings(**base)
    for broken in (
        {"password": None},
        {"host_key": "ab:cd:ef"},
        {"host_key": "ssh-ed25519 not-base64!"},
        {"upload_suffix": ""},
        {"max_sessions": 0},
        {"port": 0},
    ):
        with pytest.raises(ConfigurationError):
            SftpSettings(**{**base, **broken})


def test_settings_never_show_secrets() -> None:
    key = generate_client_key()
    settings = SftpSettings(
        host="sftp.piecesplus.example",
        port=2222,
        username="hub",
        host_key=key.fingerprint,
        remote_dir="/orders/out",
        private_key=key.private_openssh,
        private_key_passphrase="passphrase-3e8b",
        password=PASSWORD,
    )
    shown = repr(settings)
    assert PASSWORD not in shown
    assert "passphrase-3e8b" not in shown
    assert "PRIVATE" not in shown
    assert "sftp.piecesplus.example" in repr(SftpTransport(settings))
