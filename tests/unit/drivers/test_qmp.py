"""QMP replies read and commands written for live disk snapshots (pure)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.drivers.storage import qmp

REPLY = json.dumps({"return": [
    {"device": "", "qdev": "ide0-1-0", "inserted": {
        "file": "/ds/0/7/disk.2", "node-name": "libvirt-1-format", "drv": "raw",
        "image": {"filename": "/ds/0/7/disk.2", "format": "raw"}}},
    {"device": "", "qdev": "virtio-disk0", "inserted": {
        "file": "/ds/0/7/disk.0", "node-name": "libvirt-3-format", "drv": "qcow2",
        "image": {"filename": "/ds/0/7/disk.0", "format": "qcow2",
                  "snapshots": [{"name": "0", "id": "1"}, {"name": "4", "id": "2"}]}}},
    {"device": "", "qdev": "ide0-0-0", "tray_open": False},  # an empty CD-ROM drive
]})


def test_the_disk_is_found_by_its_file():
    assert qmp.block_node(REPLY, "/ds/0/7/disk.0") == qmp.BlockNode(
        "libvirt-3-format", "qcow2", frozenset({"0", "4"}))
    assert qmp.block_node(REPLY, "/ds/0/7/disk.2") == qmp.BlockNode(
        "libvirt-1-format", "raw", frozenset())
    assert qmp.block_node(REPLY, "/ds/0/7/disk.9") is None


def test_commands_name_the_node_and_the_snapshot():
    assert json.loads(qmp.snapshot_command("create", "libvirt-3-format", "5")) == {
        "execute": "blockdev-snapshot-internal-sync",
        "arguments": {"device": "libvirt-3-format", "name": "5"}}
    assert json.loads(qmp.snapshot_command("delete", "n", "0"))["execute"] == \
        "blockdev-snapshot-delete-internal-sync"


def test_qemu_s_refusal_is_its_reason():
    with pytest.raises(qmp.QmpError, match="Snapshot with name '9' does not exist"):
        qmp.check(json.dumps({"error": {"class": "GenericError",
                                        "desc": "Snapshot with name '9' does not exist"}}))
    qmp.check(json.dumps({"return": {}}))


@given(st.text(max_size=200))
def test_any_reply_is_read_or_refused_with_qmp_error(text):
    try:
        qmp.block_node(text, "/x")
    except qmp.QmpError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["return", "inserted", "file", "image",
                                                       "snapshots", "name", "error"]),
                                      inner, max_size=4), max_leaves=20))
def test_any_json_shape_is_read_or_refused_with_qmp_error(value):
    for reply in (value, {"return": [{"inserted": {"file": "/x", "image": value}}]},
                  {"return": [{"inserted": {"file": "/x", "image": {"snapshots": value}}}]}):
        try:
            qmp.block_node(json.dumps(reply), "/x")
        except qmp.QmpError:
            pass
