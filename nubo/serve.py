"""``nubo serve``: compose the core (nubo.core.composition) and its XML-RPC front, and run them.

This is the one place where the front and the core meet: the core never imports the
API (tests/unit/test_layers.py), so what needs both (the request manager over the
cloud, the scheduled-action timer running actions through API methods) is wired here.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable

from nubo.api import sched_runner
from nubo.api.connections import ConnectionLimits, raise_fd_limit
from nubo.api.http import build_app, run_server
from nubo.api.rm import RequestManager
from nubo.config import Config
from nubo.core.bootstrap import bootstrap
from nubo.core.cloud import Cloud
from nubo.core.composition import ActionRunner, Core
from nubo.core.metrics import core_metrics
from nubo.sched.supervisor import SchedulerProcess
from nubo.store.db import Database

log = logging.getLogger("nubo")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


#: Files nubo keeps in its data directory (the SQLite database and its journals, the log,
#: the oneadmin credentials, the dummy driver's journal), tightened to 0600 at start when
#: an older nubo or a copy left them readable by others.
DATA_FILES = ("nubo.db", "nubo.db-wal", "nubo.db-shm", "nubo.db-journal", "nubo.log",
              "one_auth", "dummy-state", "dummy-state.tmp")


def private_files(data_dir: Path) -> list[str]:
    """Make everything nubo creates readable by its owner only (files 0600, directories
    0700), whatever umask it was started with and whatever the data directory's mode;
    returns what it had to change or advise, for the log once it is open.

    One place: the umask is the process's, so it covers every file the core creates
    (SQLite makes -wal/-shm with its database's mode) and is inherited by the drivers,
    the scheduler and the hooks it starts.
    """
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    notes = []
    for name in DATA_FILES:
        path = data_dir / name
        try:
            if path.is_file() and path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
                notes.append(f"{path} was readable by others: now 0600")
        except OSError as e:
            notes.append(f"cannot make {path} private: {e.strerror}")
    mode = data_dir.stat().st_mode & 0o777
    if mode & 0o077:
        notes.append(f"data directory {data_dir} is open to other users (mode {mode:o}); "
                     "nubo's files in it are 0600, but 0700 is advised")
    return notes


def setup_logging(cfg: Config) -> None:
    """Log to stderr and to DATA_DIR/nubo.log, with levels and logger names."""
    root = logging.getLogger()
    root.setLevel(cfg.log_level.upper())
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter(LOG_FORMAT)
    for handler in (logging.StreamHandler(sys.stderr),
                    logging.FileHandler(Path(cfg.data_dir) / "nubo.log")):
        handler.setFormatter(fmt)
        root.addHandler(handler)


def write_one_auth(path: Path, password: str, *, only_if_missing: bool) -> bool:
    """Write ``oneadmin:<password>`` with mode 0600 (never world-readable, even briefly)."""
    if only_if_missing and path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"oneadmin:{password}\n")
    os.chmod(path, 0o600)
    return True


def open_core(cfg: Config, run_scheduled: ActionRunner | None = None) -> Core:
    """The core over its store, migrated and bootstrapped; writes one_auth on the first
    start. Nothing runs until ``Core.start``."""
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database(cfg.db_url, sqlite_synchronous=cfg.sqlite_synchronous)
    core = Core(cfg, db, run_scheduled=run_scheduled)
    result = bootstrap(core.cloud, os.environ.get("NUBO_ONEADMIN_PASSWORD") or None)
    if result.created and result.oneadmin_password:
        write_one_auth(data_dir / "one_auth", result.oneadmin_password, only_if_missing=False)
        home_auth = Path.home() / ".one" / "one_auth"
        if write_one_auth(home_auth, result.oneadmin_password, only_if_missing=True):
            log.info("wrote oneadmin credentials to %s", home_auth)
        log.info("wrote oneadmin credentials to %s", data_dir / "one_auth")
    if result.created and cfg.first_dummy_host:
        add_first_host(core.cloud, cfg.first_dummy_host)
    if cfg.kvm_host:
        hid, created = ensure_kvm_host(core.cloud, cfg.kvm_host)
        print(f"kvm host {hid} ({cfg.kvm_host}): IM_MAD kvm, VM_MAD kvm"
              f"{' (created)' if created else ''}", file=sys.stderr, flush=True)
    return core


def ensure_kvm_host(cloud: Cloud, name: str) -> tuple[int, bool]:
    """The host ``name`` with the kvm drivers (``nubo serve --with-kvm``), created if
    missing: (its id, whether it was created). One of that name on other drivers is
    left as it is."""
    from nubo.core.ops.call import Call
    from nubo.core.ops.hosts import allocate_host
    from nubo.core.cloud import ONEADMIN
    with cloud.db.read() as conn:
        hid = cloud.pools.hosts.oid_by_name(conn, name)
    if hid is not None:
        return hid, False
    hid = allocate_host(Call(cloud, ONEADMIN, "one.host.allocate"), name, "kvm", "kvm", -1)
    log.info("host %d (%s): a kvm host", hid, name)
    return hid, True


def add_first_host(cloud: Cloud, name: str) -> None:
    """A new cloud gets one simulated host (docs/configuration.md, first_dummy_host), so
    that a VM can run on a fresh install before any real host is added."""
    from nubo.core.ops.call import Call
    from nubo.core.ops.hosts import allocate_host
    from nubo.core.cloud import ONEADMIN
    hid = allocate_host(Call(cloud, ONEADMIN, "one.host.allocate"), name, "dummy", "dummy", -1)
    log.info("host %d (%s): a dummy host for the new cloud", hid, name)


def proxy_options(trusted: str) -> dict[str, object]:
    """uvicorn's options for reverse proxies (config api_trusted_proxies): none trusted
    by default, so a client's X-Forwarded-For header is ignored."""
    proxies = ",".join(p.strip() for p in trusted.split(",") if p.strip())
    return {"proxy_headers": True, "forwarded_allow_ips": proxies} if proxies else {}


def serve(cfg: Config, on_started: Callable[[int], None] | None = None) -> None:
    notes = private_files(Path(cfg.data_dir))
    setup_logging(cfg)
    log.info("open-file limit: %d", raise_fd_limit())
    for note in notes:
        log.warning("%s", note)
    core = open_core(cfg, sched_runner.run)
    cloud = core.cloud
    rm = RequestManager(cloud)
    app = build_app(rm.dispatch, path=cfg.rpc_path, max_body_bytes=cfg.max_body_bytes,
                    max_threads=cfg.api_threads,
                    metrics=lambda: core_metrics(cloud, core.drivers))

    scheduler: list[SchedulerProcess] = []

    def stopping() -> None:
        for child in scheduler:
            child.stop()

    def started(port: int) -> None:
        # Shown whatever the log level: this is how the operator reaches nubo.
        endpoint = f"http://{cfg.host}:{port}{cfg.rpc_path}"
        auth = Path(cfg.data_dir) / "one_auth"
        print(f"nubo listening on {endpoint} (credentials in {auth})\n"
              f"  try: ONE_XMLRPC={endpoint} ONE_AUTH={auth} {sys.executable} -c 'import pyone, os; "
              f"print(pyone.OneServer(os.environ[\"ONE_XMLRPC\"], "
              f"open(os.environ[\"ONE_AUTH\"]).read().strip()).system.version())'",
              file=sys.stderr, flush=True)
        log.info("listening on %s", endpoint)
        if cfg.scheduler:  # the scheduler, a child process speaking the API
            scheduler.append(SchedulerProcess(cfg, endpoint))
            scheduler[0].start()
        if on_started is not None:
            on_started(port)

    try:
        core.start()
        run_server(app, cfg.host, cfg.port, on_started=started, on_stopping=stopping, limits=ConnectionLimits(
            request_timeout=cfg.api_request_timeout,
            keep_alive_timeout=cfg.api_keep_alive_timeout,
            max_per_source=cfg.api_connections_per_source,
            max_total=cfg.api_max_connections),
            **proxy_options(cfg.api_trusted_proxies))
    finally:
        # Work waiting for an unavailable database gives up first, then the scheduler
        # child stops (done already unless the API failed to start), then the core.
        cloud.db.outage.stop()
        stopping()
        core.close()
        log.info("nubo stopped")
