"""``python -m nubo.drivers.tm [options]``: the transfer driver on stdin/stdout.

Each TRANSFER request (docs/drivers.md) runs in a worker thread of its own, since a
PROLOG copying gigabytes must not hold back an EPILOG of another VM; answers are
written whole, one line each, as they finish.
"""
from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from nubo.drivers import protocol as p
from nubo.drivers import threaded
from nubo.drivers.tm.script import Operation, VmFacts
from nubo.drivers.tm.transport import TransferError, Transports


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m nubo.drivers.tm",
        description="nubo's transfer driver: runs TRANSFER scripts (CLONE, LN, MKSWAP, "
        "MKIMAGE, MV, MVDS, CPDS, DELETE, CONTEXT, SNAP_*, RESIZE) for the TM_MADs shared, "
        "ssh, qcow2 and dummy.")
    ap.add_argument("--frontend", action="append", default=[], metavar="NAME",
                    help="a name of this machine in the scripts (repeatable; localhost and "
                    "the host name always are)")
    ap.add_argument("--sim-root", default=str(Path.cwd() / "dummy-hosts"), metavar="DIR",
                    help="where simulated hosts (VM_MAD dummy) keep their files: DIR/HOST/PATH")
    ap.add_argument("--remote-command", default="ssh -o BatchMode=yes {host}",
                    help="how to run a command line on any other host ({host}: its name)")
    ap.add_argument("--workers", type=int, default=8, help="operations run at once")
    return ap


class Driver:
    """Answers TRANSFER requests; ``log(level, message)`` reports about one."""

    def __init__(self, transports: Transports) -> None:
        self.transports = transports

    def handle(self, req: p.Request,
               log: Callable[[str, str], None] = lambda level, m: None) -> tuple[bool, str]:
        if req.action != "TRANSFER":
            return False, f"unsupported action {req.action}"
        from lxml import etree
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            doc = etree.fromstring(req.payload, parser)
        except etree.XMLSyntaxError as e:
            return False, f"unreadable TRANSFER payload: {e}"
        action = doc.findtext("ACTION") or "?"
        facts = VmFacts.parse(doc.find("VM"))
        script = doc.findtext("SCRIPT") or ""
        if facts.vm_mads.get(req.host or "") == "dummy":
            injected = _injected_failure(req.payload, action, script)
            if injected:
                return False, f"DUMMY_FAIL: injected failure of {injected}"
        op = Operation(self.transports, req.oid, facts,
                       on_log=lambda m: log("W", m))
        try:
            op.run(script)
        except TransferError as e:
            return False, f"{action} failed: {e}"
        if op.watch.laps:
            log("I", f"{action}'s lines: {op.watch}")
        return True, ""


def _injected_failure(payload: bytes, action: str, script: str) -> str:
    """On a simulated host, the dummy drivers' fault injection holds for transfers too:
    DUMMY_FAIL naming the operation (PROLOG, EPILOG...) or one of its commands."""
    if b"DUMMY_FAIL" not in payload:
        return ""
    from nubo.drivers.dummy.payload import Doc
    fail = Doc(payload).names_list("DUMMY_FAIL")
    verbs = {line.split(None, 1)[0].upper() for line in script.splitlines() if line.strip()}
    hit = sorted(({action.upper()} | verbs) & fail) or (["*"] if "*" in fail else [])
    return hit[0] if hit else ""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = {"localhost", socket.gethostname(), socket.getfqdn(), *args.frontend}
    transports = Transports(frozenset(n for n in names if n), args.sim_root,
                            args.remote_command)
    driver = Driver(transports)
    return threaded.serve(driver.handle, *threaded.protocol_pipes(), name="transfer",
                          workers=args.workers,
                          cancel=lambda req: (False, "cannot stop a transfer"))


if __name__ == "__main__":
    sys.exit(main())
