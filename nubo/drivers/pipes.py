"""One run of a driver's command: the process, its pipes and their threads.

Threads, not asyncio: the core is a threaded synchronous program (its callers
block on futures or hand callbacks to worker queues) and a pipe wants a blocking
reader. Each run gets three small daemon threads -- a reader for stdout
(answers), a writer for stdin (requests, batched into one write per burst) and a
drain for stderr -- so a driver that stops reading its stdin never blocks a
caller, one that floods stdout never blocks the writer, and one that writes to
stderr never stalls on a full pipe. What the lines mean is the listener's
business (``process.DriverProcess``).
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Protocol

from nubo.drivers import protocol as p

log = logging.getLogger("nubo.drivers")


class Listener(Protocol):
    def on_message(self, run: Run, msg: p.DriverMessage) -> None: ...
    def on_garbage(self, run: Run, line: bytes, err: p.ProtocolError) -> None: ...
    def on_exit(self, run: Run) -> None: ...


def describe_exit(code: int | None) -> str:
    """'exit code 3' or 'killed by SIGKILL', for the messages of failed actions."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Run:
    """A started driver process. ``Popen`` errors (OSError) propagate from the constructor."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str] | None,
                 listener: Listener) -> None:
        self.name = name
        # Its own session: a Ctrl-C on the core's terminal reaches only the core, which
        # then finalizes its drivers; and killpg() also ends what the driver spawned.
        self.proc = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=None if env is None else {**os.environ, **env}, start_new_session=True)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.ready = False  # INIT answered
        self.garbage = 0
        self.exit_code: int | None = None
        self._listener = listener
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=fn, daemon=True, name=f"driver-{name}-{what}")
            for fn, what in ((self._reader, "out"), (self._writer, "in"), (self._stderr, "err"))]
        for t in self.threads:
            t.start()

    def send(self, line: bytes) -> None:
        """Queue a line for the driver's stdin (never blocks)."""
        self._out.put(line)

    def close_input(self) -> None:
        """Write what is queued, then close stdin (the driver sees EOF)."""
        self._out.put(None)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def join(self, timeout: float) -> None:
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(timeout)

    # ------------------------------------------------------------------ threads
    def _reader(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        listener = self._listener
        try:
            while line := stdout.readline(p.MAX_LINE + 2):
                if not line.endswith(b"\n"):
                    if len(line) > p.MAX_LINE:  # skip the rest of the runaway line
                        while (rest := stdout.readline(1 << 20)) and not rest.endswith(b"\n"):
                            pass
                    listener.on_garbage(self, line[:200], p.ProtocolError(
                        "line too long" if len(line) > p.MAX_LINE else "unterminated last line",
                        line[:200]))
                    continue
                try:
                    msg = p.parse_reply(line)
                except p.ProtocolError as e:
                    listener.on_garbage(self, line, e)
                    continue
                listener.on_message(self, msg)
        except Exception:  # never die silently: a broken reader is a dead driver
            log.exception("driver %s: reader failed; killing the driver", self.name)
            self.kill()
        finally:
            code = self.wait(2.0)
            if code is None:  # closed its stdout but lives on: end it
                self.kill()
                code = self.proc.wait()
            self.exit_code = code
            stdout.close()
            self._out.put(None)  # wake the writer so that it ends too
            listener.on_exit(self)

    def _writer(self) -> None:
        stdin, out = self.proc.stdin, self._out
        assert stdin is not None
        stop = False
        while not stop:
            first = out.get()
            if first is None:
                break
            chunk = [first]
            while len(chunk) < 4096:  # batch what is queued: one write, one flush
                try:
                    item = out.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                chunk.append(item)
            try:
                stdin.write(b"".join(chunk))
                stdin.flush()
            except (OSError, ValueError):
                break  # the driver is gone; the reader sees EOF and reports it
        try:
            stdin.close()
        except (OSError, ValueError):
            pass

    def _stderr(self) -> None:
        err = self.proc.stderr
        assert err is not None
        for raw in iter(partial(err.readline, 8192), b""):
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                log.warning("driver %s stderr: %s", self.name, text)
        err.close()
