"""QEMU's monitor commands (QMP) for the internal snapshots of a disk a running QEMU has
open: qemu-img may not write such a file (QEMU holds its write lock), so QEMU itself
takes or deletes the snapshot, atomically, on the disk's node. The kvm driver sends
these through libvirt, the transfer driver through ``virsh qemu-monitor-command`` on
the VM's host, as OpenNebula's qcow2 scripts use virsh for a running VM.

Pure: the commands' JSON out, the replies' JSON in.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

QUERY_BLOCK = json.dumps({"execute": "query-block"})
_COMMANDS = {"create": "blockdev-snapshot-internal-sync",
             "delete": "blockdev-snapshot-delete-internal-sync"}


class QmpError(RuntimeError):
    """QEMU refused a command, or its reply is not what QMP answers."""


@dataclass(frozen=True)
class BlockNode:
    """A disk as QEMU has it open: the node to name in commands, its format and the
    names of its internal snapshots."""
    node: str
    fmt: str
    snapshots: frozenset[str]


def _reply(text: str) -> object:
    try:
        reply = json.loads(text)
    except ValueError:
        raise QmpError(f"QEMU's reply is not JSON: {text[:200]!r}") from None
    if not isinstance(reply, dict):
        raise QmpError(f"QEMU's reply is not a QMP object: {text[:200]!r}")
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], dict) else {}
        raise QmpError(str(error.get("desc") or reply["error"]))
    return reply.get("return")


def block_node(reply: str, path: str) -> BlockNode | None:
    """The disk whose file is ``path`` in a ``query-block`` reply; None if QEMU has no
    such disk open."""
    devices = _reply(reply)
    for dev in devices if isinstance(devices, list) else []:
        inserted = dev.get("inserted") if isinstance(dev, dict) else None
        if not isinstance(inserted, dict) or inserted.get("file") != path:
            continue
        image = inserted.get("image") if isinstance(inserted.get("image"), dict) else {}
        snapshots = image.get("snapshots") if isinstance(image.get("snapshots"), list) else []
        names = frozenset(str(s.get("name", "")) for s in snapshots if isinstance(s, dict))
        return BlockNode(str(inserted.get("node-name", "")),
                         str(image.get("format") or inserted.get("drv", "")), names)
    return None


def snapshot_command(action: str, node: str, name: str) -> str:
    """The command that creates or deletes the internal snapshot ``name`` on ``node``."""
    return json.dumps({"execute": _COMMANDS[action],
                       "arguments": {"device": node, "name": name}})


def check(reply: str) -> None:
    """QmpError with QEMU's reason when the reply is an error."""
    _reply(reply)
