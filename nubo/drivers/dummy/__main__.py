"""``python -m nubo.drivers.dummy ROLES [options]``: run a dummy driver on stdin/stdout."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nubo.drivers.dummy.simulation import ROLES, DummyDriver, check_roles
from nubo.drivers.dummy.down import DownHosts
from nubo.drivers.dummy.loop import Latency, serve
from nubo.drivers.dummy.state import DummyState


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m nubo.drivers.dummy",
        description="A dummy nubo driver: simulated hosts, nothing real is done. "
        "Speaks the driver protocol (docs/drivers.md) on stdin/stdout.",
        epilog="Fault injection: a payload holding DUMMY_FAIL=\"DEPLOY,SHUTDOWN\" gets FAILURE "
        "for those actions. Host capacity: DUMMY_TOTALCPU / DUMMY_TOTALMEMORY in the host's "
        "template (MONITOR payload). Environment: NUBO_DUMMY_LATENCY (as --latency).")
    ap.add_argument("roles", help=f"comma-separated roles to serve: {', '.join(ROLES)} "
                    "(e.g. vmm,im,tm; im and ds, tm and ds must be separate processes)")
    ap.add_argument("--latency", action="append", default=[], metavar="[ACTION=]SECONDS",
                    help="time an action takes before its answer (default 0); repeatable, "
                    "e.g. --latency 0.01 --latency DEPLOY=2")
    ap.add_argument("--cpu", type=int, default=800,
                    help="default TOTALCPU of a host, 100 per core (default 800)")
    ap.add_argument("--memory", type=int, default=16 * 1024 * 1024,
                    help="default TOTALMEMORY of a host in KB (default 16777216 = 16 GB)")
    ap.add_argument("--state", type=Path, metavar="FILE",
                    help="keep hosts and VMs in this journal, so they survive a restart")
    ap.add_argument("--down", type=Path, metavar="FILE",
                    help="hosts switched down, one name a line (read again when it "
                    "changes): unreachable, their VMs still running; actions already under "
                    "way finish when the host is back, new ones fail. 'NAME off': powered "
                    "off (fenced), its VMs gone")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    try:
        check_roles(roles)
        env_latency = os.environ.get("NUBO_DUMMY_LATENCY", "")
        latency = Latency.parse(([env_latency] if env_latency else []) + args.latency)
    except ValueError as e:
        print(f"dummy driver: {e}", file=sys.stderr)
        return 2
    state = DummyState(args.cpu, args.memory, args.state)
    driver = DummyDriver(roles, state, DownHosts(args.down))
    return serve(driver.handle, latency, state.flush, held=driver.held)


if __name__ == "__main__":
    sys.exit(main())
