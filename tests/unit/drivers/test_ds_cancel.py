"""DRIVER_CANCEL of an image copy under way (nubo.drivers.ds): a download from a slow
HTTP server on 127.0.0.1 and a qemu-img clone are stopped, answer FAILURE "copy
cancelled" and leave no file (no ``.part`` either); the cancel answers SUCCESS."""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nubo.drivers.ds.__main__ import run
from nubo.drivers.ds.stopping import Running
from nubo.drivers.protocol import Request

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")

SIZE = 256 << 20  # announced; sent 256 KiB every 50 ms, so about 52 s for all of it
PIECE = 256 << 10


class Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        try:
            for _ in range(SIZE // PIECE):
                self.wfile.write(b"\0" * PIECE)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the driver hung up: cancelled

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/disk.raw"
    server.shutdown()
    server.server_close()


def payload(base: Path, **image: str) -> bytes:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in {"REGTIME": "7", **image}.items())
    return (f"<DS_DRIVER_ACTION_DATA><IMAGE>{fields}</IMAGE><DATASTORE><ID>9</ID>"
            f"<DS_MAD>fs</DS_MAD><BASE_PATH>{base}</BASE_PATH><TEMPLATE></TEMPLATE>"
            "</DATASTORE></DS_DRIVER_ACTION_DATA>").encode()


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def wait_for(probe, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def part_files(base: Path) -> list[Path]:
    return list(base.glob(".*.part")) if base.exists() else []


class Driver:
    """``python -m nubo.drivers.ds`` on pipes."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nubo.drivers.ds"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        assert self.say("INIT") is None and self.line() == "INIT SUCCESS -"

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.say("FINALIZE")
        assert self.proc.wait(30) == 0


def test_a_download_under_way_is_stopped_and_leaves_nothing(tmp_path, slow_url):
    base = tmp_path / "ds"
    driver = Driver()
    try:
        driver.say(f"CP 4 - {b64(payload(base, PATH=slow_url))}")
        wait_for(lambda: any(p.stat().st_size > 0 for p in part_files(base)))
        started = time.monotonic()
        driver.say(f"DRIVER_CANCEL 4 - {b64('CP')}")
        answers = sorted([driver.line(), driver.line()])
        assert time.monotonic() - started < 20  # within a chunk, not at the copy's end
    finally:
        driver.close()
    assert answers == ["CP FAILURE 4 copy cancelled", "DRIVER_CANCEL SUCCESS 4 copy cancelled"]
    assert list(base.iterdir()) == []


def test_a_cancel_with_no_copy_under_way_fails_and_others_go_on(tmp_path):
    base = tmp_path / "ds"
    src = tmp_path / "a.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(src), "2M"], check=True)
    driver = Driver()
    try:
        driver.say(f"DRIVER_CANCEL 5 - {b64('CP')}")
        assert driver.line() == "DRIVER_CANCEL FAILURE 5 no copy of image 5 under way"
        driver.say(f"CLONE 5 - {b64(payload(base, PATH=str(src)))}")
        assert driver.line().startswith("CLONE SUCCESS 5 ")
    finally:
        driver.close()


def test_a_qemu_img_clone_is_killed(tmp_path):
    """qemu-img convert, slowed by a wrapper first in PATH, is killed by the cancel."""
    base, bin_dir = tmp_path / "ds", tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("qemu-img")
    wrapper = bin_dir / "qemu-img"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = convert ] && touch "$6" && exec sleep 60\n'
                       f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    src = tmp_path / "a.raw"
    subprocess.run([real, "create", "-q", "-f", "raw", str(src), "2M"], check=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    driver = Driver(env)
    try:
        driver.say(f"CLONE 6 - {b64(payload(base, PATH=str(src)))}")
        wait_for(lambda: part_files(base) != [])
        driver.say(f"DRIVER_CANCEL 6 - {b64('CLONE')}")
        answers = sorted([driver.line(), driver.line()])
    finally:
        driver.close()
    assert answers == ["CLONE FAILURE 6 copy cancelled",
                       "DRIVER_CANCEL SUCCESS 6 copy cancelled"]
    assert list(base.iterdir()) == []


def test_the_switch_stops_a_copy_called_directly(tmp_path, slow_url):
    base = tmp_path / "ds"
    running = Running()
    got: list[tuple[bool, str]] = []

    def copy() -> None:
        with running.copy(7) as stop:
            got.append(run(Request("CP", 7, None, payload(base, PATH=slow_url)), stop))

    thread = threading.Thread(target=copy)
    thread.start()
    wait_for(lambda: part_files(base) != [])
    assert running.cancel(7)
    thread.join(30)
    assert got == [(False, "copy cancelled")] and list(base.iterdir()) == []
    assert not running.cancel(7)  # finished: nothing left to stop
