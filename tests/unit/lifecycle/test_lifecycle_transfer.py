"""Transfer scripts: the commands OpenNebula's TransferManager writes, line by line."""
from __future__ import annotations

import pytest

from nubo.lifecycle.outcomes import OUTCOME_TRIGGERS
from nubo.lifecycle.transfer import Disk, Location, transfer_script

DISKS = [
    Disk(0, source="/var/lib/one/datastores/1/abc", tm_mad="ssh", datastore_id=1, clone=True),
    Disk(1, source="/var/lib/one/datastores/1/def", tm_mad="shared", datastore_id=1,
         clone=False, save=True),
    Disk(2, type="SWAP", size=1024),
    Disk(3, type="FS", size=2048, format="qcow2"),
]
HERE = Location("node1", "/var/lib/one/datastores/0/7", "ssh", 0)
THERE = Location("node2", "/var/lib/one/datastores/100/7", "ssh", 100)


def test_prolog_clones_links_and_makes_volatile_disks():
    assert transfer_script("PROLOG", 7, DISKS, HERE, frontend="fe") == [
        "CLONE ssh fe:/var/lib/one/datastores/1/abc node1:/var/lib/one/datastores/0/7/disk.0 7 1",
        "LN shared fe:/var/lib/one/datastores/1/def node1:/var/lib/one/datastores/0/7/disk.1 7 1",
        "MKSWAP ssh 1024 node1:/var/lib/one/datastores/0/7/disk.2 7 0",
        "MKIMAGE ssh 2048 qcow2 node1:/var/lib/one/datastores/0/7/disk.3 7 0",
    ]


def test_epilog_saves_persistent_disks_and_deletes_the_rest():
    lines = transfer_script("EPILOG", 7, DISKS, HERE, frontend="fe")
    assert lines[1] == ("MVDS shared node1:/var/lib/one/datastores/0/7/disk.1 "
                        "/var/lib/one/datastores/1/def 7 1")
    assert lines[0].startswith("DELETE ssh node1:") and lines[2].endswith(" 7 0")
    assert lines[-1] == "DELETE ssh node1:/var/lib/one/datastores/0/7 7 0"
    local = transfer_script("EPILOG_LOCAL", 7, DISKS, HERE, frontend="fe")
    assert local[-1] == "DELETE ssh fe:/var/lib/one/datastores/0/7 7 0"


def test_moves():
    stop = transfer_script("EPILOG_STOP", 7, DISKS[:1], HERE, frontend="fe")
    assert stop == [
        "MV ssh node1:/var/lib/one/datastores/0/7/disk.0 fe:/var/lib/one/datastores/0/7/disk.0 7 1",
        "MV ssh node1:/var/lib/one/datastores/0/7 fe:/var/lib/one/datastores/0/7 7 0"]
    migrate = transfer_script("PROLOG_MIGRATE", 7, DISKS[:1], THERE, HERE)
    assert migrate[-1] == ("MV ssh node1:/var/lib/one/datastores/0/7 "
                           "node2:/var/lib/one/datastores/100/7 7 100")
    resume = transfer_script("PROLOG_RESUME", 7, DISKS[:1], THERE, HERE, frontend="fe")
    assert resume[0].startswith("MV ssh fe:/var/lib/one/datastores/0/7/disk.0 node2:")


def test_deletes():
    both = transfer_script("EPILOG_DELETE_BOTH", 7, DISKS[:1], THERE, HERE)
    assert [line.split()[2].split(":")[0] for line in both] == ["node2"] * 2 + ["node1"] * 2
    assert transfer_script("EPILOG_DELETE_LOCAL", 7, [], HERE, frontend="fe") == [
        "DELETE ssh fe:/var/lib/one/datastores/0/7 7 0"]


def test_every_tm_operation_the_machine_sends_has_a_script():
    for driver, action in OUTCOME_TRIGGERS:
        if driver == "tm":
            assert isinstance(transfer_script(action, 7, DISKS, HERE, THERE,
                                              attach_disk=DISKS[0]), list)
    with pytest.raises(ValueError):
        transfer_script("FROBNICATE", 7, DISKS, HERE)
