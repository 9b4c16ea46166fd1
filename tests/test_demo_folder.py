"""The demo's working folder is held by the demo that runs in it: a second `hub demo`
on the same folder is refused, naming the process that holds it, and empties nothing;
a lock left by a demo that died is taken over. Real processes, as a user starts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from demo.session import LOCK, MARKER
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent

HOLD = """
import sys
from pathlib import Path
from demo.session import fresh_folder
folder = Path(sys.argv[1])
lock = fresh_folder(folder)
(folder / "story.txt").write_text("a live demo's files", encoding="utf-8")
print("held", flush=True)
sys.stdin.read()
lock.release()
"""
"""A demo session's hold on its folder, in its own process, until its stdin closes."""


def _holder(folder: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_demo_on_a_held_folder_is_refused_and_empties_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    live = _holder(folder)
    try:
        second = run("demo", "--once", "--dir", str(folder), cwd=tmp_path)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"in use by the demo of process {live.pid}" in second.stderr
        assert "--dir" in second.stderr
        assert "Traceback" not in second.stderr
        assert (folder / "story.txt").read_text(encoding="utf-8") == "a live demo's files"
        assert (folder / MARKER).exists()
    finally:
        assert live.stdin is not None
        live.stdin.close()
        assert live.wait() == 0


def test_a_lock_left_by_a_demo_that_died_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    dead = _holder(folder)
    os.kill(dead.pid, signal.SIGKILL)  # no clean-up: its lock file stays, naming it
    assert dead.wait() == -signal.SIGKILL
    assert f"process {dead.pid}" in (folder / LOCK).read_text(encoding="utf-8")
    (folder / "left-by-the-dead.txt").write_text("stale", encoding="utf-8")

    taking_over = _holder(folder)
    try:
        assert f"process {taking_over.pid}" in (folder / LOCK).read_text(encoding="utf-8")
        left = sorted(p.name for p in folder.iterdir())
        assert left == sorted([LOCK, MARKER, "story.txt"]), "emptied for the new session"
    finally:
        assert taking_over.stdin is not None
        taking_over.stdin.close()
        assert taking_over.wait() == 0
    assert (folder / LOCK).read_text(encoding="utf-8") == "", "released: nobody named"


def test_a_folder_the_demo_did_not_make_is_still_refused(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    refused = run("demo", "--once", "--dir", str(folder), cwd=tmp_path)
    assert refused.returncode == 2
    assert "was not made by `hub demo`" in refused.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
