"""VM DISKs as oned completes them at allocate, the AUTOMATIC_* requirements from the
clusters of a VM's datastores and networks, and the datastore capacity checked before
PROLOG; via pyone on a real ``nubo serve``."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call

DEFAULT_DS = 1
READY = 1


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ready_image(one, extra: str = "", ds: int = DEFAULT_DS) -> int:
    iid = one.image.allocate(f'NAME = "{uniq("img")}"\nTYPE = DATABLOCK\nSIZE = 10\n{extra}', ds)
    wait_for(f"image {iid} READY", lambda: one.image.info(iid).STATE == READY, timeout=60)
    return iid


def disks(one, vm_id: int) -> list[dict]:
    d = one.vm.info(vm_id).TEMPLATE["DISK"]
    return d if isinstance(d, list) else [d]


def test_disks_are_completed_as_oned_completes_them(one, nubo) -> None:
    os_image = ready_image(one, "DEV_PREFIX = vd")
    persistent = ready_image(one, "PERSISTENT = YES")
    vm = one.vm.allocate(
        f'NAME = "{uniq("disks")}"\nCPU = 0.1\nMEMORY = 64\n'
        f'DISK = [ IMAGE_ID = {os_image} ]\nDISK = [ TYPE = swap, SIZE = 256 ]\n'
        f'DISK = [ IMAGE_ID = {persistent}, TARGET = "vda" ]\n'
        'DISK = [ SOURCE = "/images/etch/disk.img", TYPE = disk ]\n'
        'CONTEXT = [ NETWORK = "YES" ]', False)
    first, swap, pers, path = disks(one, vm)
    assert [d["DISK_ID"] for d in (first, swap, pers, path)] == ["0", "1", "2", "3"]
    # the user's vda is kept; the OS disk (from a path) takes the first device of its
    # prefix, then the CD-ROMs and context, then the datablocks in order
    assert (pers["TARGET"], first["TARGET"], swap["TARGET"], path["TARGET"]) == \
        ("vda", "vdb", "sdb", "sda")
    ds = one.datastore.info(DEFAULT_DS)
    for key, value in (("DEV_PREFIX", "vd"), ("DRIVER", "raw"), ("FORMAT", "raw"),
                       ("READONLY", "NO"), ("CLONE", "YES"), ("SAVE", "NO"),
                       ("ORIGINAL_SIZE", str(one.image.info(os_image).SIZE)),
                       ("DATASTORE", ds.NAME), ("DATASTORE_ID", str(DEFAULT_DS)),
                       ("TM_MAD", ds.TM_MAD), ("CLUSTER_ID", "0"), ("IMAGE_ID", str(os_image)),
                       ("CLONE_TARGET", ds.TEMPLATE["CLONE_TARGET"]),
                       ("LN_TARGET", ds.TEMPLATE["LN_TARGET"]), ("TYPE", "FILE"),
                       ("SIZE", str(one.image.info(os_image).SIZE))):
        assert first[key] == value, key
    assert "IMAGE_STATE" in first and "DISK_TYPE" in first
    assert (pers["CLONE"], pers["SAVE"], pers["PERSISTENT"]) == ("NO", "YES", "YES")
    assert (swap["TYPE"], swap["SIZE"], swap["DRIVER"]) == ("SWAP", "256", "raw")
    assert (path["SOURCE"], path["TYPE"], path["CLONE"]) == ("/images/etch/disk.img", "FILE",
                                                             "YES")
    context = one.vm.info(vm).TEMPLATE["CONTEXT"]
    assert (context["DISK_ID"], context["TARGET"]) == ("4", "hda")
    template = one.vm.info(vm).TEMPLATE
    assert template["AUTOMATIC_REQUIREMENTS"] == \
        "(CLUSTER_ID = 0) & !(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    assert template["AUTOMATIC_DS_REQUIREMENTS"] == '("CLUSTERS/ID" @> 0)'
    ok, body, *_ = raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm)
    assert ok
    assert_valid(body, "vm.xsd")
    one.vm.action("terminate-hard", vm)


@pytest.mark.parametrize("bad, message", [
    ("DISK = [ TYPE = tape, SOURCE = /dev/st0 ]", "DISK 1: unknown disk TYPE 'tape'"),
    ("DISK = [ TYPE = swap, SIZE = lots ]", "DISK 1: SIZE attribute must be a positive integer"),
    ("DISK = [ TYPE = fs ]", "DISK 1: SIZE attribute must be a positive integer"),
    ('DISK = [ TYPE = swap, SIZE = 1, TARGET = "sdq" ]\nDISK = [ SOURCE = /x, TARGET = "sdq" ]',
     "Two disks have defined the same target sdq"),
])
def test_bad_disks_are_refused_and_nothing_is_taken(one, shared_networks, bad, message) -> None:
    image = ready_image(one)
    vnet = shared_networks["public"]
    leases = one.vn.info(vnet).USED_LEASES
    vms = len(one.vmpool.info(-2, -1, -1, -2).VM)
    with pytest.raises(pyone.OneException, match=message):
        one.vm.allocate(f'NAME = "{uniq("bad")}"\nCPU = 0.1\nMEMORY = 64\n'
                        f'DISK = [ IMAGE_ID = {image} ]\n{bad}\n'
                        f'NIC = [ NETWORK_ID = {vnet} ]', False)
    assert one.image.info(image).RUNNING_VMS == 0 and one.image.info(image).STATE == READY
    assert one.vn.info(vnet).USED_LEASES == leases
    assert len(one.vmpool.info(-2, -1, -1, -2).VM) == vms


def test_an_image_not_ready_is_refused(one) -> None:
    image = ready_image(one)
    one.image.enable(image, False)
    try:
        with pytest.raises(pyone.OneException, match=f"DISK 0: Cannot acquire image {image}"):
            one.vm.allocate(f'NAME = "{uniq("nr")}"\nCPU = 0.1\nMEMORY = 64\n'
                            f'DISK = [ IMAGE_ID = {image} ]', False)
    finally:
        one.image.enable(image, True)


def test_placement_follows_the_clusters_of_networks_and_datastores(one) -> None:
    cluster = one.cluster.allocate(uniq("c"))
    vnet = one.vn.allocate(f'NAME = "{uniq("net")}"\nBRIDGE = "brc"\nVN_MAD = "bridge"\n'
                           'AR = [ TYPE = "ETHER", SIZE = "4" ]', cluster)
    assert one.vn.info(vnet).CLUSTERS.ID == [cluster]
    vm = one.vm.allocate(f'NAME = "{uniq("cl")}"\nCPU = 0.1\nMEMORY = 64\n'
                         f'NIC = [ NETWORK_ID = {vnet} ]', False)
    template = one.vm.info(vm).TEMPLATE
    assert template["AUTOMATIC_REQUIREMENTS"] == \
        f"(CLUSTER_ID = {cluster}) & !(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    assert template["AUTOMATIC_NIC_REQUIREMENTS"] == f'("CLUSTERS/ID" @> {cluster})'
    assert template["NIC"]["CLUSTER_ID"] == str(cluster)
    image = ready_image(one)  # its datastore is in cluster 0 only
    with pytest.raises(pyone.OneException, match="Incompatible clusters in NIC. Network for "
                       "NIC 0 is not in the same cluster as the one used by other VM elements "
                       r"\(cluster 0\)"):
        one.vm.allocate(f'NAME = "{uniq("cl")}"\nCPU = 0.1\nMEMORY = 64\n'
                        f'DISK = [ IMAGE_ID = {image} ]\nNIC = [ NETWORK_ID = {vnet} ]', False)
    assert one.image.info(image).RUNNING_VMS == 0
    one.vm.action("terminate-hard", vm)


def test_deploy_checks_the_system_datastore_has_room_for_the_disks(one) -> None:
    ds = one.datastore.allocate(f'NAME = "{uniq("small")}"\nTYPE = SYSTEM_DS\nTM_MAD = dummy\n'
                                'LIMIT_MB = 100', -1)
    host = one.host.allocate(uniq("h"), "dummy", "dummy", -1)
    vm = one.vm.allocate(f'NAME = "{uniq("big")}"\nCPU = 0.1\nMEMORY = 64\n'
                         'DISK = [ TYPE = swap, SIZE = 512 ]', False)
    with pytest.raises(pyone.OneActionException, match=rf"Not enough space in datastore \[{ds}\]"
                       r".*need 512 MB, 100 MB are free"):
        one.vm.deploy(vm, host, False, ds)
    assert one.vm.info(vm).STATE == 1  # still PENDING
    small = one.vm.allocate(f'NAME = "{uniq("small")}"\nCPU = 0.1\nMEMORY = 64\n'
                            'DISK = [ TYPE = swap, SIZE = 50 ]', False)
    one.vm.deploy(small, host, False, ds)
    wait_state(one, small, (ACTIVE, RUNNING))
    for v in (vm, small):
        one.vm.action("terminate-hard", v)


def test_an_attached_disk_gets_a_free_target_and_a_taken_one_is_refused(one) -> None:
    host = one.host.allocate(uniq("h"), "dummy", "dummy", -1)
    vm = one.vm.allocate(f'NAME = "{uniq("att")}"\nCPU = 0.1\nMEMORY = 64\n'
                         'DISK = [ TYPE = swap, SIZE = 8 ]\nCONTEXT = [ A = "1" ]', False)
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    with pytest.raises(pyone.OneException, match="Target sda is already in use."):
        one.vm.attach(vm, 'DISK = [ TYPE = fs, SIZE = 4, TARGET = "sda" ]')
    with pytest.raises(pyone.OneException, match="DISK 2: unknown disk TYPE 'tape'"):
        one.vm.attach(vm, 'DISK = [ TYPE = tape, SOURCE = "/dev/st0" ]')
    assert len(disks(one, vm)) == 1
    one.vm.attach(vm, 'DISK = [ TYPE = fs, SIZE = 4 ]')
    wait_state(one, vm, (ACTIVE, RUNNING))
    attached = disks(one, vm)[1]
    # past the context CD-ROM's DISK_ID (1), whose file disk.1 the hypervisor has open
    assert (attached["DISK_ID"], attached["TARGET"], attached["TYPE"]) == ("2", "sdb", "FS")
    one.vm.action("terminate-hard", vm)
