"""Real image files for image tests: disks under /var/tmp (the default datastores'
SAFE_DIRS) and an http server on 127.0.0.1 that serves them, 404s, breaks off
(/broken/NAME) or serves slowly (/slow/NAME)."""
from __future__ import annotations

import http.server
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

VAR_TMP = Path("/var/tmp")


def make_disk(path: Path, size_mb: int = 16, fmt: str = "qcow2") -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), f"{size_mb}M"], check=True)
    return path


@pytest.fixture
def var_tmp_disk():
    """Make disks under /var/tmp (removed after the test): make(size_mb, fmt) -> path."""
    made: list[Path] = []

    def make(size_mb: int = 16, fmt: str = "qcow2") -> Path:
        path = make_disk(VAR_TMP / f"nubo-test-{uuid.uuid4().hex[:10]}.{fmt}", size_mb, fmt)
        made.append(path)
        return path
    yield make
    for path in made:
        path.unlink(missing_ok=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path

    def log_message(self, *args) -> None:  # quiet
        pass

    def _file(self) -> Path | None:
        path = self.root / self.path.lstrip("/").split("?")[0]
        return path if path.is_file() else None

    def do_HEAD(self) -> None:
        if self.path.startswith("/slow/"):
            self.path = self.path[len("/slow"):]
        path = self._file()
        if path is None and not self.path.startswith("/broken/"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size if path else 64 << 20))
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/broken/"):  # promises 64 MB, sends 1 MB, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(64 << 20))
            self.end_headers()
            self.wfile.write(b"\0" * (1 << 20))
            self.wfile.flush()
            self.close_connection = True
            return
        slow = self.path.startswith("/slow/")
        if slow:
            self.path = self.path[len("/slow"):]
        path = self._file()
        if path is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        with open(path, "rb") as f:
            while chunk := f.read(64 << 10 if slow else 1 << 20):
                self.wfile.write(chunk)
                if slow:  # a slow mirror: 64 KB every 50 ms (the download takes a while)
                    self.wfile.flush()
                    time.sleep(0.05)


class FileServer:
    """An http server of a directory's files on 127.0.0.1 (a thread)."""

    def __init__(self, root: Path) -> None:
        handler = type("Handler", (_Handler,), {"root": root})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_files(tmp_path):
    """(base URL, directory it serves); /broken/NAME breaks off mid-download."""
    served = FileServer(tmp_path)
    yield served.url, tmp_path
    served.close()
