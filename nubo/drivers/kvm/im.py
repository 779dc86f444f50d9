"""``python -m nubo.drivers.kvm.im``: the kvm information driver alone (MONITOR only).

The kvm driver (``python -m nubo.drivers.kvm``) answers MONITOR too; this one is for a
deployment that keeps monitoring apart from the hypervisor actions, as OpenNebula's
im_kvm and vmm_kvm are separate drivers: a ``[drivers.kvm-im]`` table, hosts created
with IM_MAD kvm-im. Each probe runs on a worker thread (nubo/drivers/threaded.py).
"""
from __future__ import annotations

import base64
import sys
from typing import BinaryIO

from nubo.drivers import protocol as p
from nubo.drivers import threaded
from nubo.drivers.kvm import probe

WORKERS = 16


def run(req: p.Request) -> tuple[bool, str]:
    """MONITOR one host: its template, base64 as the core reads it."""
    if req.action == "STOPMONITOR":
        return True, ""
    if req.action != "MONITOR":
        return False, f"kvm im driver: unsupported action {req.action}"
    if not req.host:
        return False, "MONITOR needs a host name"
    try:
        text = probe.monitor(req.host, req.payload)
    except RuntimeError as e:
        return False, str(e)
    return True, base64.b64encode(text.encode()).decode("ascii")


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    return threaded.serve(lambda req, log: run(req), stdin, stdout, name="kvm-im",
                          workers=WORKERS)


if __name__ == "__main__":
    sys.exit(serve(*threaded.protocol_pipes()))
