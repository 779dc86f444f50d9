"""The hook manager: runs the hooks that match a committed event, as subprocesses.

Events come from the hook points (nubo.hooks.events, nubo.hooks.api_called) once the
change they report is committed: a VM's STATE/LCM_STATE moved (life-cycle manager), a
host went to a state (monitoring, one.host.status), an API call succeeded (request
manager). Each event answers the jobs it matches; the caller stores them where its
change is (``store``, or ``submit`` in a transaction of their own), never through
state hidden in the manager.
Matching is done in memory against a cached copy of the hook table (reloaded after
one.hook.* changes it, or after another core process sharing the database did), so an
event with no hook costs a few comparisons; a match is stored in ``hook_queue`` and
queued for a small pool of daemon worker threads (bounded concurrency) that claim it in
the database (a job runs once, whichever core processes see it), run the command with
its TIMEOUT and record the execution in ``hook_log`` (the last ``keep`` per hook).
Nothing here ever blocks or fails its caller.
"""
from __future__ import annotations

import base64
import logging
import os
import queue
import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import delete, func, insert, or_, select, update

from nubo.model import xmlobj
from nubo.model.hook import Hook, HookSpec, execution_record, spec_of
from nubo.store.duties import gone, holder_name
from nubo.store.schema import hook_log, hook_pool, hook_queue

log = logging.getLogger("nubo.hooks")

OUTPUT_LIMIT = 4096  # characters of stdout/stderr kept per execution
KEEP = 20            # executions kept per hook
WORKERS = 4          # hooks running at once
#: Seconds a claimed job stays its process's beyond its TIMEOUT: past that, the process
#: is taken for dead and the next core to start runs the job.
CLAIM_MARGIN = 300
#: Seconds between two checks of the hook table for changes made by another process.
RECHECK = 1.0

_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Job:
    hook_id: int
    spec: HookSpec
    arguments: str        # expanded: what the record shows and a retry reuses
    retry: bool = False
    host: str = ""        # REMOTE hooks: where they run
    qid: int = -1         # its hook_queue row, deleted when its execution is recorded


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _clean(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    if len(text) > OUTPUT_LIMIT:
        text = text[:OUTPUT_LIMIT] + "\n[truncated]"
    return _NOT_XML.sub("?", text)


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return xmlobj.escape(",".join(str(v) for v in value))
    return xmlobj.escape(str(value))


#: Parameters never shown in an API hook's message, by position (the session is 1):
#: oned's ``hidden_params`` (passwords and login tokens), which it writes as ``****``.
HIDDEN = "****"
HIDDEN_PARAMETERS: dict[str, frozenset[int]] = {
    "one.user.allocate": frozenset({3}),   # (session, name, password, driver, groups)
    "one.user.passwd": frozenset({3}),     # (session, id, password)
    "one.user.chauth": frozenset({4}),     # (session, id, driver, password)
    "one.user.login": frozenset({3}),      # (session, name, token, valid, egid)
}
#: Calls whose result is a secret too: one.user.login answers the token (oned shows it).
HIDDEN_RESULT = frozenset({"one.user.login"})


def api_message(call: str, args: list[Any], value: Any) -> str:
    """hook_message_api.xsd's HOOK_MESSAGE for a successful call (params IN, result OUT);
    passwords and tokens are replaced by ``****`` as oned does."""
    hidden = HIDDEN_PARAMETERS.get(call, frozenset())
    params = "".join(f"<PARAMETER><POSITION>{i}</POSITION><TYPE>IN</TYPE>"
                     f"<VALUE>{HIDDEN if i in hidden else _xml_value(a)}</VALUE></PARAMETER>"
                     for i, a in enumerate(args, start=2))  # position 1 is the session
    result = HIDDEN if call in HIDDEN_RESULT else _xml_value(value)
    params += (f"<PARAMETER><POSITION>{len(args) + 2}</POSITION><TYPE>OUT</TYPE>"
               f"<VALUE>{result}</VALUE></PARAMETER>")
    return (f"<HOOK_MESSAGE><HOOK_TYPE>API</HOOK_TYPE><CALL>{xmlobj.escape(call)}</CALL>"
            f"<CALL_INFO><RESULT>1</RESULT><PARAMETERS>{params}</PARAMETERS></CALL_INFO>"
            "</HOOK_MESSAGE>")


def expand(arguments: str, values: dict[str, str]) -> str:
    """$ID, $TEMPLATE, $API (longest names first) replaced in ARGUMENTS."""
    for name in sorted(values, key=len, reverse=True):
        arguments = arguments.replace(f"${name}", values[name])
    return arguments


class HookManager:
    def __init__(self, cloud: Any, *, workers: int = WORKERS, keep: int = KEEP) -> None:
        self.cloud = cloud
        self.keep = keep
        self._hooks: list[tuple[int, HookSpec]] | None = None
        self._cache_lock = threading.Lock()
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._workers = workers
        self._started = False
        self._start_lock = threading.Lock()
        self.holder = holder_name()  # who claims this process's jobs (hook_queue.holder)
        self._signature: tuple[int, ...] = ()
        self._checked = 0.0

    # the queue, kept in the store ------------------------------------------------------
    # A job is stored before it is queued: in the transaction of the change that matched
    # it (``store``, then ``enqueue`` once that has committed: nubo.hooks.events), or in
    # one of its own (``submit``: API hooks, retries), so a crash between the commit and
    # the run loses no hook; ``recover`` queues what is left at start.
    def store(self, conn: Any, jobs: list[Job]) -> list[Job]:
        """Store matched jobs in ``conn``'s transaction; the caller queues what this
        returns (``enqueue``) once that has committed."""
        return [self._store(conn, job) for job in jobs]

    def submit(self, jobs: list[Job]) -> None:
        """Store jobs in a transaction of their own, then queue them."""
        if not jobs:
            return
        with self.cloud.db.write() as conn:
            stored = self.store(conn, jobs)
        self.enqueue(stored)

    @staticmethod
    def _store(conn: Any, job: Job) -> Job:
        result = conn.execute(insert(hook_queue).values(
            hook_id=job.hook_id, arguments=job.arguments, host=job.host, retry=job.retry))
        return replace(job, qid=int(result.inserted_primary_key[0]))

    def recover(self) -> int:
        """At start: queue the jobs stored and not run before the core stopped (or that
        a core process still running has not claimed: the claim decides who runs it)."""
        self._release_gone()
        with self.cloud.db.read() as conn:
            rows = conn.execute(select(hook_queue).where(self._claimable(time.time()))
                                .order_by(hook_queue.c.qid)).all()
        specs = dict(self.hooks())
        jobs = [Job(r.hook_id, specs[r.hook_id], r.arguments, bool(r.retry), r.host, r.qid)
                for r in rows if r.hook_id in specs]
        gone = [r.qid for r in rows if r.hook_id not in specs]
        if gone:
            with self.cloud.db.write() as conn:
                conn.execute(delete(hook_queue).where(hook_queue.c.qid.in_(gone)))
        if jobs:
            log.info("running %d hook(s) left queued when the core stopped", len(jobs))
            self.enqueue(jobs)
        return len(jobs)

    def _release_gone(self) -> None:
        """Jobs claimed by a core process of this machine that was killed while running
        them: free to claim now (run at least once, never zero times)."""
        q = hook_queue.c
        with self.cloud.db.read() as conn:
            holders = conn.execute(select(q.holder).distinct().where(q.holder != "")).scalars()
            dead = [h for h in holders if h != self.holder and gone(h)]
        if dead:
            with self.cloud.db.write() as conn:
                conn.execute(update(hook_queue).where(q.holder.in_(dead))
                             .values(holder="", claimed_until=0.0))

    def _claimable(self, now: float) -> Any:
        q = hook_queue.c
        return or_(q.holder == "", q.holder == self.holder, q.claimed_until < now)

    def _claim(self, job: Job) -> bool:
        """Make the job this process's to run, in the database: a job queued by one core
        process runs once, whichever processes see it. Taking a write transaction also
        waits for the change that queued it to finish committing."""
        if job.qid < 0:
            return True
        now = time.time()
        until = now + (job.spec.timeout or 0) + CLAIM_MARGIN

        def claim() -> bool:
            with self.cloud.db.write() as conn:
                return conn.execute(
                    update(hook_queue).where(hook_queue.c.qid == job.qid, self._claimable(now))
                    .values(holder=self.holder, claimed_until=until)).rowcount == 1
        return self.cloud.db.retrying(claim, f"hook {job.hook_id}: claiming its job")

    def enqueue(self, jobs: list[Job]) -> None:
        """Hand stored jobs to the workers (started on the first one); never blocks."""
        for job in jobs:
            self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        if not self._started:
            with self._start_lock:
                if not self._started:
                    for i in range(self._workers):
                        threading.Thread(target=self._work, name=f"hook-{i}",
                                         daemon=True).start()
                    self._started = True
        self._jobs.put(job)

    # the hook table, cached --------------------------------------------------------
    def invalidate(self) -> None:
        with self._cache_lock:
            self._hooks = None

    def hooks(self) -> list[tuple[int, HookSpec]]:
        with self._cache_lock:
            if self._hooks is not None and self._changed_elsewhere():
                self._hooks = None
            if self._hooks is None:
                with self.cloud.db.read() as conn:
                    rows = conn.execute(select(hook_pool.c.oid, hook_pool.c.body,
                                               hook_pool.c.timeout)).all()
                    self._signature = self._read_signature(conn)
                self._hooks = [(r.oid, spec_of(xmlobj.parse(Hook, r.body), r.timeout))
                               for r in rows]
            return self._hooks

    @staticmethod
    def _read_signature(conn: Any) -> tuple[int, ...]:
        # Ids are never reused and every update bumps a version: this moves with any change.
        t = hook_pool.c
        row = conn.execute(select(func.count(), func.max(t.oid), func.sum(t.version))).one()
        return tuple(int(v or 0) for v in row)

    def _changed_elsewhere(self) -> bool:
        """On a database other core processes may share (not SQLite): whether one of them
        changed the hook table, checked at most every RECHECK seconds (``invalidate``
        covers this process's own changes)."""
        if self.cloud.db.backend == "sqlite" or time.monotonic() < self._checked + RECHECK:
            return False
        self._checked = time.monotonic()
        with self.cloud.db.read() as conn:
            return self._read_signature(conn) != self._signature

    # events: the jobs each one matches -----------------------------------------------
    def vm_state(self, vm_id: int, state: str, lcm_state: str, body: Any) -> list[Job]:
        """A VM is now in STATE/LCM_STATE (names); body renders its XML (called on a match)."""
        matched = [(hid, s) for hid, s in self.hooks()
                   if s.type == "state" and s.resource == "VM" and s.state == state
                   and (not s.lcm_state or s.lcm_state == lcm_state)]
        # A REMOTE hook runs where the VM is: its newest history record's host.
        return self._jobs_for(matched, vm_id, body, "HISTORY_RECORDS/HISTORY/HOSTNAME")

    def host_state(self, host_id: int, state: str, body: Any) -> list[Job]:
        matched = [(hid, s) for hid, s in self.hooks()
                   if s.type == "state" and s.resource == "HOST" and s.state == state]
        return self._jobs_for(matched, host_id, body, "NAME")

    def api_call(self, call: str, args: list[Any], value: Any) -> list[Job]:
        matched = [(hid, s) for hid, s in self.hooks() if s.type == "api" and s.call == call]
        if not matched:
            return []
        message = _b64(api_message(call, args, value))
        oid = value if isinstance(value, int) and not isinstance(value, bool) else next(
            (a for a in args if isinstance(a, int) and not isinstance(a, bool)), -1)
        return [Job(hid, spec, expand(spec.arguments, {
            "ID": str(oid), "API": message, "TEMPLATE": message})) for hid, spec in matched]

    def _jobs_for(self, matched: list[tuple[int, HookSpec]], oid: int, body: Any,
                  host_path: str) -> list[Job]:
        if not matched:
            return []
        xml = body() if callable(body) else body
        template = _b64(xml)
        host = ""
        if any(spec.remote for _, spec in matched):
            found = etree.fromstring(xml.encode()).findall(host_path)
            host = (found[-1].text or "").strip() if found else ""
        return [Job(hid, spec, expand(spec.arguments, {"ID": str(oid), "TEMPLATE": template}),
                    host=host if spec.remote else "") for hid, spec in matched]

    def retry(self, hook_id: int, spec: HookSpec, arguments: str, host: str = "") -> None:
        self.submit([Job(hook_id, spec, arguments, retry=True, host=host)])

    # execution -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if self._claim(job):
                    self.run(job)
            except Exception:
                log.exception("hook %d failed to run", job.hook_id)

    def run(self, job: Job) -> int:
        """Run one job and record it; returns its exit code (-1: could not run/timed out)."""
        spec = job.spec
        stdin = spec.arguments_stdin.upper() in ("YES", "TRUE")
        try:
            argv = shlex.split(spec.command) + ([] if stdin else shlex.split(job.arguments))
        except ValueError as e:
            return self._record(job, "", f"bad COMMAND or ARGUMENTS: {e}", -1)
        if spec.remote:
            if not job.host:
                return self._record(job, "", "REMOTE hook: the object is on no host", -1)
            # hook_remote_command ("ssh ... {host}") runs the command line on the host.
            argv = [part.replace("{host}", job.host) for part in
                    shlex.split(self.cloud.config.hook_remote_command)] + [shlex.join(argv)]
        cwd = Path(self.cloud.config.data_dir)
        try:
            done = subprocess.run(argv, input=job.arguments.encode() if stdin else None,
                                  stdin=None if stdin else subprocess.DEVNULL,
                                  capture_output=True, timeout=spec.timeout,
                                  cwd=cwd if cwd.is_dir() else None,
                                  env={**os.environ, "NUBO_HOOK_ID": str(job.hook_id)})
        except subprocess.TimeoutExpired as e:
            return self._record(job, _clean(e.stdout),
                                _clean(e.stderr) + f"\ntimed out after {spec.timeout} s", -1)
        except OSError as e:
            return self._record(job, "", f"cannot run {argv[0] if argv else ''}: {e}", -1)
        if done.returncode != 0:
            log.warning("hook %d exited with %d", job.hook_id, done.returncode)
        return self._record(job, _clean(done.stdout), _clean(done.stderr), done.returncode)

    def _record(self, job: Job, stdout: str, stderr: str, code: int) -> int:
        """Store the execution (and forget its queued job); while the database is out
        of reach, once it is back: the hook ran and must not run again."""
        now = self.cloud.now()
        return self.cloud.db.retrying(
            lambda: self._store_execution(job, stdout, stderr, code, now),
            f"hook {job.hook_id}: its execution record")

    def _store_execution(self, job: Job, stdout: str, stderr: str, code: int,
                         now: int) -> int:
        with self.cloud.db.write() as conn:
            if job.qid >= 0:
                conn.execute(delete(hook_queue).where(hook_queue.c.qid == job.qid))
            if conn.execute(select(hook_pool.c.oid)
                            .where(hook_pool.c.oid == job.hook_id)).first() is None:
                return code  # deleted while it ran
            last = conn.execute(select(func.max(hook_log.c.exec_id))
                                .where(hook_log.c.hook_id == job.hook_id)).scalar()
            exec_id = 0 if last is None else last + 1
            body = execution_record(job.hook_id, exec_id, now, job.arguments,
                                    job.spec.command, stdout, stderr, code, job.retry,
                                    job.host)
            conn.execute(insert(hook_log).values(hook_id=job.hook_id, exec_id=exec_id,
                                                 timestamp=now, rc=code, body=body))
            conn.execute(delete(hook_log).where(hook_log.c.hook_id == job.hook_id,
                                                hook_log.c.exec_id <= exec_id - self.keep))
        return code
