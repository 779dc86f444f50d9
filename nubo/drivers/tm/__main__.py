"""``python -m nubo.drivers.tm [options]``: the transfer driver on stdin/stdout.

Each TRANSFER request (docs/drivers.md) runs in a worker thread of its own, since a
PROLOG copying gigabytes must not hold back an EPILOG of another VM; answers are
written whole, one line each, as they finish.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nubo.drivers import protocol as p
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
    """Answers requests; ``write`` sends one whole line to the core."""

    def __init__(self, transports: Transports, write) -> None:
        self.transports = transports
        self.write = write

    def handle(self, req: p.Request) -> tuple[bool, str]:
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
                       on_log=lambda m: self.write(p.encode_log("W", req.oid, m)))
        try:
            op.run(script)
        except TransferError as e:
            return False, f"{action} failed: {e}"
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
    lock = threading.Lock()

    def write(data: bytes) -> None:
        with lock:
            os.write(1, data)

    driver = Driver(transports, write)

    def answer(req: p.Request) -> None:
        try:
            ok, info = driver.handle(req)
        except Exception as e:  # a bug must fail the operation, not the driver
            ok, info = False, f"transfer driver error: {type(e).__name__}: {e}"
        write(p.encode_reply(req.action, ok, req.oid, info))

    with ThreadPoolExecutor(max(1, args.workers), thread_name_prefix="tm") as pool:
        for line in sys.stdin.buffer:
            try:
                msg = p.parse_request(line)
            except p.ProtocolError as e:
                write(p.encode_log("E", None, f"malformed request: {e}"))
                continue
            if isinstance(msg, p.Init):
                write(p.encode_init_reply(True))
            elif isinstance(msg, p.Finalize):
                break
            elif msg.action == p.CANCEL:
                write(p.encode_reply(p.CANCEL, False, msg.oid, "cannot stop a transfer"))
            else:
                pool.submit(answer, msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
