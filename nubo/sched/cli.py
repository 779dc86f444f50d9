"""``nubo sched``: run the scheduler alone, against any OpenNebula-compatible endpoint.

Settings come from the configuration file's ``sched_*`` keys (docs/configuration.md),
then from the flags; ``nubo serve`` starts this same command with flags.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from nubo.config import Config, ConfigError, load_config, sched_config

_FLAGS = {  # flag -> Config field
    "interval": "sched_interval", "policy": "sched_policy", "rank": "sched_rank",
    "ds_policy": "sched_ds_policy", "ds_rank": "sched_ds_rank", "max_vm": "sched_max_vm",
    "max_dispatch": "sched_max_dispatch", "max_host": "sched_max_host",
    "concurrency": "sched_concurrency", "retries": "sched_retries", "log_level": "log_level",
}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "sched", help="run the scheduler (nubo serve starts one itself)",
        description="Place PENDING VMs on hosts through the XML-RPC API, as OpenNebula's "
        "matchmaking scheduler: on every change the endpoint reports (nubo.sched.wait) and "
        "every --interval seconds. Works against any OpenNebula-compatible endpoint.",
        epilog="example: nubo sched --endpoint http://127.0.0.1:2633/RPC2 "
        "--auth ~/.one/one_auth --policy striping")
    p.add_argument("--endpoint", help="XML-RPC endpoint (default: $ONE_XMLRPC, else "
                   "http://127.0.0.1:2633/RPC2)")
    p.add_argument("--auth", type=Path, help="file holding user:password of a oneadmin-group "
                   "user (default: $ONE_AUTH, else ~/.one/one_auth)")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration file")
    p.add_argument("--interval", type=int, help="seconds between full cycles (default 15)")
    p.add_argument("--policy", help="packing, striping, load-aware, custom or fixed")
    p.add_argument("--rank", help="the custom policy's rank expression")
    p.add_argument("--ds-policy", help="packing, striping, custom or fixed")
    p.add_argument("--ds-rank", help="the custom datastore policy's rank")
    p.add_argument("--max-vm", type=int, help="pending VMs considered per cycle (0: all)")
    p.add_argument("--max-dispatch", type=int, help="VMs dispatched per cycle (0: no limit)")
    p.add_argument("--max-host", type=int, help="VMs dispatched to a host per cycle (0: any)")
    p.add_argument("--concurrency", type=int, help="deploy calls in flight (default 16)")
    p.add_argument("--retries", type=int, help="placements tried for a VM whose deploy fails")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument("--once", action="store_true", help="run one cycle and exit")
    p.add_argument("--exit-with-stdin", action="store_true",
                   help="stop when standard input closes (how nubo serve's child notices "
                   "that the core is gone, even after a kill -9)")


def settings_from(args: argparse.Namespace) -> tuple[Config, str, str]:
    overrides = {field: getattr(args, flag) for flag, field in _FLAGS.items()}
    cfg = load_config(args.config, **overrides)
    endpoint = args.endpoint or os.environ.get("ONE_XMLRPC") or "http://127.0.0.1:2633/RPC2"
    auth = args.auth or Path(os.environ.get("ONE_AUTH") or Path.home() / ".one" / "one_auth")
    try:
        session = Path(auth).expanduser().read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the credentials in {auth}: {e.strerror}") from e
    return cfg, endpoint, session


def run(args: argparse.Namespace) -> int:
    from nubo.sched.daemon import Scheduler, Settings
    try:
        cfg, endpoint, session = settings_from(args)
    except ConfigError as e:
        print(f"nubo sched: {e.message}", file=sys.stderr)
        return 2
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    scheduler = Scheduler(Settings(endpoint, session, interval=float(cfg.sched_interval),
                                   concurrency=cfg.sched_concurrency, retries=cfg.sched_retries,
                                   config=sched_config(cfg)))
    if args.once:
        scheduler.cycle(full=True)
        scheduler.pool.shutdown(wait=True)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    if args.exit_with_stdin:
        threading.Thread(target=_stop_at_eof, args=(scheduler,), name="parent-watch",
                         daemon=True).start()
    try:
        scheduler.run()
    except KeyboardInterrupt:
        scheduler.stop()
    return 0


def _stop_at_eof(scheduler: object) -> None:
    """Block until the parent's end of the pipe closes (it exited or was killed).

    A raw ``os.read`` of fd 0, never ``sys.stdin``: this daemon thread is still
    blocked here when the main thread returns, and a thread holding the lock of
    ``sys.stdin.buffer`` makes the interpreter abort at shutdown ("Fatal Python
    error: _enter_buffered_busy") with a core dump at every stop.
    """
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    logging.getLogger("nubo.sched").warning("the core is gone (stdin closed): stopping")
    scheduler.stop()  # type: ignore[attr-defined]


def child_args(cfg: Config, endpoint: str, auth: Path) -> list[str]:
    """The ``nubo sched`` command line ``nubo serve`` starts, from its configuration."""
    args = [sys.executable, "-m", "nubo", "sched", "--endpoint", endpoint, "--auth", str(auth),
            "--exit-with-stdin"]
    for flag, field in _FLAGS.items():
        args += [f"--{flag.replace('_', '-')}", str(getattr(cfg, field))]
    return args
