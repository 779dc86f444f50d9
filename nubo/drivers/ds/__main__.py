"""``python -m nubo.drivers.ds``: the datastore driver on stdin/stdout (docs/drivers.md).

Each action runs on a worker thread, so a long copy never holds up a MONITOR or an RM;
answers are written whole, one at a time, as each finishes.
"""
from __future__ import annotations

import base64
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from nubo.drivers import protocol as p
from nubo.drivers.ds import dummy, fs
from nubo.drivers.ds.action_data import ActionData, BadPayload
from nubo.drivers.ds.files import CopyError
from nubo.drivers.storage.qemu_img import QemuImgError

#: DS_MAD -> its actions. A datastore of another DS_MAD is refused by name.
DS_MADS = {"fs": fs.ACTIONS, "dummy": dummy.ACTIONS}
#: Datastores without a DS_MAD of their own (SYSTEM_DS: "-") are monitored as ``fs``, or
#: as ``dummy`` when their TM_MAD is (as OpenNebula's TM drivers monitor system ones).
_NO_DS_MAD = ("", "-")
WORKERS = 8


def run(req: p.Request) -> tuple[bool, str]:
    """Do one action; (success, INFO). Every failure comes back as a message."""
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
        info = action(data, req.oid)
    except (BadPayload, CopyError, QemuImgError) as e:
        return False, str(e)
    except OSError as e:
        return False, f"{req.action} failed: {e.strerror or e}: {e.filename or ''}".rstrip(": ")
    if req.action == "MONITOR":
        info = base64.b64encode(info.encode()).decode()
    return True, info


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    lock = threading.Lock()

    def write(line: bytes) -> None:
        with lock:
            stdout.write(line)
            stdout.flush()

    def answer(req: p.Request) -> None:
        ok, info = run(req)
        write(p.encode_reply(req.action, ok, req.oid, info))

    # An image's actions run in the order they came (an RM waits for the copy before it).
    last: dict[int, Future] = {}

    def in_order(req: p.Request, before: Future | None) -> None:
        if before is not None:
            before.result()
        answer(req)

    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="ds")
    for line in stdin:
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
            write(p.encode_reply(p.CANCEL, False, msg.oid, "copies are not cancelled"))
        elif msg.action in ("MONITOR", "STAT"):
            pool.submit(answer, msg)
        else:
            before = last.get(msg.oid)
            last[msg.oid] = pool.submit(in_order, msg, before if before is not None
                                        and not before.done() else None)
    # Exit now, copies under way or not: their files are only half written under a
    # temporary name, which the copy sent again at the core's next start replaces.
    with lock:
        stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
