"""``python -m nubo.drivers.ds``: the datastore driver on stdin/stdout (docs/drivers.md).

Each action runs on a worker thread (nubo/drivers/threaded.py), so a long copy never
holds up a MONITOR or an RM. A DRIVER_CANCEL for an image stops its copy (CP, CLONE)
under way (nubo.drivers.ds.stopping): the copy answers FAILURE "copy cancelled" and
leaves no file; the cancel answers SUCCESS, or FAILURE if no copy of it was running.
"""
from __future__ import annotations

import base64
import sys
from typing import BinaryIO

from nubo.drivers import protocol as p
from nubo.drivers import threaded
from nubo.drivers.ds import dummy, fs
from nubo.drivers.ds.action_data import ActionData, BadPayload
from nubo.drivers.ds.files import CopyError
from nubo.drivers.ds.stopping import CANCELLED, Running, Stop
from nubo.drivers.storage.qemu_img import QemuImgError

#: DS_MAD -> its actions. A datastore of another DS_MAD is refused by name.
DS_MADS = {"fs": fs.ACTIONS, "dummy": dummy.ACTIONS}
#: Datastores without a DS_MAD of their own (SYSTEM_DS: "-") are monitored as ``fs``, or
#: as ``dummy`` when their TM_MAD is (as OpenNebula's TM drivers monitor system ones).
_NO_DS_MAD = ("", "-")
WORKERS = 8
#: The actions a DRIVER_CANCEL stops.
COPIES = frozenset({"CP", "CLONE"})


def run(req: p.Request, stop: Stop | None = None) -> tuple[bool, str]:
    """Do one action; (success, INFO). Every failure comes back as a message. ``stop``:
    a copy's stop switch."""
    try:
        data = ActionData.parse(req.payload)
        mad = data.ds_mad
        if mad in _NO_DS_MAD:  # a system datastore: its TM_MAD says (dummy: no files)
            mad = "dummy" if data.tm_mad == "dummy" else "fs"
        actions = DS_MADS.get(mad)
        if actions is None:
            return False, f"DS_MAD {mad} is not supported by this driver (fs, dummy)"
        action = actions.get(req.action)
        if action is None:
            return False, f"unsupported action {req.action}"
        info = (action(data, req.oid, stop=stop) if req.action in COPIES
                else action(data, req.oid))
    except (BadPayload, CopyError, QemuImgError) as e:
        return False, str(e)
    except OSError as e:
        return False, f"{req.action} failed: {e.strerror or e}: {e.filename or ''}".rstrip(": ")
    if req.action == "MONITOR":
        info = base64.b64encode(info.encode()).decode()
    return True, info


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """An image's actions run in the order they came (an RM waits for the copy before
    it); MONITOR and STAT at once. On FINALIZE or end of input the driver exits at
    once, copies under way or not: their files are only half written under a temporary
    name, which the copy sent again at the core's next start replaces."""
    running = Running()

    def handle(req: p.Request, log: object) -> tuple[bool, str]:
        if req.action not in COPIES:
            return run(req)
        with running.copy(req.oid) as stop:
            return run(req, stop)

    def cancel(req: p.Request) -> tuple[bool, str]:
        if running.cancel(req.oid):
            return True, CANCELLED
        return False, f"no copy of image {req.oid} under way"

    return threaded.serve(
        handle, stdin, stdout, name="ds", workers=WORKERS,
        order_key=lambda req: None if req.action in ("MONITOR", "STAT") else req.oid,
        cancel=cancel, exit_at_once=True)


if __name__ == "__main__":
    sys.exit(serve(*threaded.protocol_pipes()))
