"""``nubo serve``'s scheduler: a ``nubo sched`` child process, restarted if it dies.

It authenticates as oneadmin with DATA_DIR/one_auth (written by the core on its
first start). Its stderr is read line by line into the core's own log (nubo.log and
the core's stderr), each record at the level and under the logger name the child
gave it, so what the scheduler reports (a VM it had to skip, a failed cycle, a
crash's traceback) is where the operator looks. A child that keeps dying is
restarted with a back-off of 1 s doubling up to 30 s.
"""
from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

from nubo.config import Config
from nubo.drivers.pipes import describe_exit
from nubo.sched.cli import child_args

log = logging.getLogger("nubo.sched")

#: A record as ``nubo sched`` writes it: "<date> <time>,<ms> LEVEL   name: message".
_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ "
                     r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) +([\w.]+): (.*)")


def forward(stream: IO[bytes]) -> None:
    """Log the child's stderr lines in this process until it closes.

    A line that is not a record (a traceback's lines, an interpreter's fatal error)
    is logged at the level of the record before it, WARNING if none.
    """
    level = logging.WARNING
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            m = _RECORD.fullmatch(line)
            if m is None:
                log.log(level, "%s", line)
                continue
            level = logging.getLevelName(m.group(1))
            logging.getLogger(m.group(2)).log(level, "%s", m.group(3))


class SchedulerProcess:
    def __init__(self, cfg: Config, endpoint: str) -> None:
        self.command = child_args(cfg, endpoint, Path(cfg.data_dir) / "one_auth")
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="sched-supervisor",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _supervise(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            # Its stdin is a pipe only this process writes to: when the core dies, even by
            # SIGKILL, the pipe closes and the child stops (--exit-with-stdin), as the
            # drivers do; no orphaned scheduler outlives its core.
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
            reader = threading.Thread(target=forward, args=(self.proc.stderr,),
                                      name="sched-log", daemon=True)
            reader.start()
            if self._stop.is_set():  # stopped while it was starting
                self.proc.terminate()
            log.info("scheduler started (pid %d)", self.proc.pid)
            code = self.proc.wait()
            reader.join(5.0)  # its last lines (why it exited) before what follows
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            if self._stop.is_set():
                return
            log.warning("scheduler (pid %d) exited (%s); restarting in %.0f s",
                        self.proc.pid, describe_exit(code), delay)
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 30.0)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child and wait; an unclean exit is logged (nubo.log), not hidden."""
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("scheduler (pid %d) did not stop within %.0f s: killing it",
                            proc.pid, timeout)
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGKILL):
                log.warning("scheduler (pid %d) stopped with %s", proc.pid,
                            describe_exit(proc.returncode))
        self._thread.join(timeout)
