"""CLI benchmark: what an operator waits for at the prompt.

Starts a nubo, fills it with VMs (allocated through the API, on hold), then
times as subprocesses, the way a shell runs them: ``nubo --help`` (start-up and
parser), ``nubo vm show``, ``nubo vm list`` (table), ``--csv`` and ``-j``, and
``nubo vm hold`` over a range of 100 VMs; and in-process the table rendering
alone. Prints the median and the worst of each.

    .venv/bin/python bench/cli.py --vms 2000 --runs 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from server import NuboServer  # noqa: E402


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def report(label: str, seconds: list[float]) -> None:
    print(f"{label:<48} median {statistics.median(seconds) * 1000:7.1f} ms   "
          f"max {max(seconds) * 1000:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vms", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = NuboServer(Path(tmp) / "data").start()
        try:
            proxy = xmlrpc.client.ServerProxy(server.endpoint)
            tmpl = 'NAME="bench-%d"\nCPU=0.1\nMEMORY=64\nCONTEXT=[NETWORK=YES]\n'
            for i in range(args.vms):
                proxy.one.vm.allocate(server.session, tmpl % i, True)
            auth = Path(tmp) / "one_auth"
            auth.write_text(server.session + "\n")
            env = {**os.environ, "ONE_XMLRPC": server.endpoint, "ONE_AUTH": str(auth)}
            env.pop("COLUMNS", None)
            nubo = [sys.executable, "-m", "nubo"]
            print(f"{args.vms} VMs, {args.runs} runs each (subprocesses)")
            report("nubo --help", timed([*nubo, "--help"], env, args.runs))
            report("nubo vm show 0", timed([*nubo, "vm", "show", "0"], env, args.runs))
            report(f"nubo vm list ({args.vms} rows)", timed([*nubo, "vm", "list"], env, args.runs))
            report("nubo vm list --csv", timed([*nubo, "vm", "list", "--csv"], env, args.runs))
            report("nubo vm list -j", timed([*nubo, "vm", "list", "-j"], env, args.runs))
            report("nubo vm list --filter NAME~bench-1 --sort NAME",
                   timed([*nubo, "vm", "list", "--filter", "NAME~bench-1", "--sort", "NAME"],
                         env, args.runs))
            report("nubo vm release 0-99 (100 calls)",
                   timed([*nubo, "vm", "release", "0-99"], env, 1))
            from lxml import etree

            from nubo.cli.tables import TableOptions, render
            from nubo.cli.vm_view import COLUMNS
            pool = etree.fromstring(proxy.one.vmpool.info(server.session, -2, -1, -1, -1)[1]
                                    .encode())
            rows = pool.findall("VM")
            spent = []
            for _ in range(args.runs):
                start = time.perf_counter()
                render(rows, COLUMNS, TableOptions(width=120))
                spent.append(time.perf_counter() - start)
            report(f"in-process: render the table ({len(rows)} rows)", spent)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
