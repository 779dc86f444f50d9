"""DISKs completed as oned completes them at allocate, and AUTOMATIC_* requirements (pure)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from nubo.model import vm_disks, vm_placement
from nubo.model.vm_template import VmTemplateError
from nubo.template import Template, VectorAttribute, parse


def disk(**values: str) -> VectorAttribute:
    return VectorAttribute("DISK", dict(values))


def test_path_and_volatile_disks_are_completed_as_the_source_documents_write_them() -> None:
    path = disk(SOURCE="/images/etch/disk.img", TARGET="sda")
    swap = disk(TYPE="swap", SIZE="1024", TARGET="sdb")
    assert vm_disks.complete_unmanaged(path, 0) == vm_disks.OS
    assert vm_disks.complete_unmanaged(swap, 1) == vm_disks.DATABLOCK
    assert dict(path.items()) == {
        "SOURCE": "/images/etch/disk.img", "TARGET": "sda", "TYPE": "FILE", "SAVE": "NO",
        "CLONE": "YES", "DISK_TYPE": "FILE", "READONLY": "NO", "DRIVER": "raw",
        "FORMAT": "raw", "DEV_PREFIX": "sd"}
    assert (swap.get("TYPE"), swap.get("DRIVER"), swap.get("DEV_PREFIX")) == ("SWAP", "raw", "sd")
    cd = disk(SOURCE="/isos/x.iso", TYPE="cdrom", SAVE="/keep/x.img")
    assert vm_disks.complete_unmanaged(cd, 2) == vm_disks.CDROM
    assert (cd.get("TYPE"), cd.get("READONLY"), cd.get("CLONE"), cd.get("SAVE"),
            cd.get("DEV_PREFIX")) == ("CDROM", "YES", "NO", "NO", "hd")
    saved = disk(SOURCE="/i/a.img", SAVE="/keep/a.img", FORMAT="QCOW2")
    vm_disks.complete_unmanaged(saved, 0)
    assert (saved.get("SAVE"), saved.get("SAVE_AS_SOURCE"), saved.get("DRIVER")) == \
        ("YES", "/keep/a.img", "qcow2")


@pytest.mark.parametrize("values, message", [
    ({"TYPE": "tape", "SOURCE": "/x"}, "DISK 3: unknown disk TYPE 'tape'"),
    ({"TYPE": "swap"}, "DISK 3: SIZE attribute must be a positive integer value."),
    ({"TYPE": "fs", "SIZE": "big"}, "DISK 3: SIZE attribute must be a positive integer value "
                                     "(got 'big')."),
    ({"TYPE": "fs", "SIZE": "-4"}, "(got '-4')"),
    ({"SOURCE": "/x", "SIZE": "1.5"}, "(got '1.5')"),
    ({"TYPE": "disk"}, "DISK 3: a disk of TYPE DISK needs a SOURCE path."),
    ({}, "DISK 3: it needs an IMAGE or IMAGE_ID, a SOURCE path, or TYPE = swap|fs"),
    ({"SOURCE": "/x", "CLONE": "maybe"}, "DISK 3: CLONE must be YES or NO (got 'maybe')."),
])
def test_bad_disks_are_refused_saying_which_and_why(values, message) -> None:
    with pytest.raises(VmTemplateError) as e:
        vm_disks.complete_unmanaged(disk(**values), 3)
    assert message in e.value.message


def test_targets_follow_oned_os_first_then_cdroms_and_context_then_the_rest() -> None:
    os2, data, cd, os1, user = (disk(DEV_PREFIX="vd"), disk(DEV_PREFIX="vd"),
                                disk(DEV_PREFIX="hd"), disk(DEV_PREFIX="vd"),
                                disk(DEV_PREFIX="vd", TARGET="vda"))
    context = VectorAttribute("CONTEXT", {"NETWORK": "YES"})
    vm_disks.assign_targets([(data, vm_disks.DATABLOCK), (cd, vm_disks.CDROM),
                             (user, vm_disks.OS), (os1, vm_disks.OS), (os2, vm_disks.OS)],
                            context)
    # the first OS disk without TARGET takes the first free device, later OS disks are
    # datablocks; the context CD-ROM comes after the CD-ROMs; vda was the user's
    assert [d.get("TARGET") for d in (user, os1, cd, data, os2)] == \
        ["vda", "vdb", "hda", "vdc", "vdd"]
    assert (context.get("TARGET"), context.get("DISK_ID")) == ("hdb", "5")


def test_two_disks_with_one_target_are_refused() -> None:
    with pytest.raises(VmTemplateError, match="Two disks have defined the same target sdb"):
        vm_disks.assign_targets([(disk(TARGET="sdb"), vm_disks.OS),
                                 (disk(TARGET="sdb"), vm_disks.DATABLOCK)], None)
    with pytest.raises(VmTemplateError, match="same target hda"):
        vm_disks.assign_targets([(disk(TARGET="hda"), vm_disks.OS)],
                                VectorAttribute("CONTEXT", {"TARGET": "hda"}))


@given(st.lists(st.tuples(st.sampled_from([vm_disks.OS, vm_disks.CDROM, vm_disks.DATABLOCK]),
                          st.sampled_from(["sd", "vd", "hd"]),
                          st.one_of(st.none(), st.sampled_from(["sda", "sdc", "vdb", "hdz"]))),
                max_size=20))
def test_targets_are_unique_and_user_targets_are_kept(specs) -> None:
    disks = []
    for queue, prefix, target in specs:
        values = {"DEV_PREFIX": prefix}
        if target:
            values["TARGET"] = target
        disks.append((disk(**values), queue))
    given_targets = [d.get("TARGET") for d, _ in disks if d.get("TARGET")]
    try:
        vm_disks.assign_targets(disks, None)
    except VmTemplateError as e:
        assert "same target" in e.message and len(set(given_targets)) < len(given_targets)
        return
    targets = [d.get("TARGET") for d, _ in disks]
    assert len(set(targets)) == len(targets)
    assert all(t.startswith(d.get("DEV_PREFIX")) or d.get("TARGET") in given_targets
               for (d, _), t in zip(disks, targets))


def test_what_the_disks_take_on_each_datastore() -> None:
    disks = [disk(TYPE="SWAP", SIZE="512"), disk(IMAGE_ID="1", CLONE="YES", SIZE="100",
                                                 CLONE_TARGET="SYSTEM", LN_TARGET="NONE"),
             disk(IMAGE_ID="2", CLONE="NO", SIZE="70", CLONE_TARGET="SYSTEM", LN_TARGET="NONE"),
             disk(IMAGE_ID="3", CLONE="YES", SIZE="30", CLONE_TARGET="SELF", DATASTORE_ID="9"),
             disk(SOURCE="/x", CLONE="YES", SIZE="5"), disk(SOURCE="/y", CLONE="NO", SIZE="7")]
    gets = [d.get for d in disks]
    assert vm_disks.system_ds_mb(gets) == 512 + 100 + 5
    assert vm_disks.image_ds_mb(gets) == {9: 30}


def vm(text: str) -> Template:
    return parse(text)


def test_automatic_requirements_from_the_clusters_of_disks_and_nics() -> None:
    t = vm('DISK = [ IMAGE_ID = 1, CLUSTER_ID = "0,100" ]\nDISK = [ TYPE = swap, SIZE = 1 ]\n'
           'NIC = [ NETWORK_ID = 0, CLUSTER_ID = "100,0,7" ]\nTM_MAD_SYSTEM = "ssh"')
    vm_placement.compute(t, [{0, 100}, set()])
    assert t.get("AUTOMATIC_REQUIREMENTS") == \
        "(CLUSTER_ID = 0 | CLUSTER_ID = 100) & !(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    assert t.get("AUTOMATIC_NIC_REQUIREMENTS") == '("CLUSTERS/ID" @> 0 | "CLUSTERS/ID" @> 100)'
    assert t.get("AUTOMATIC_DS_REQUIREMENTS") == \
        '("CLUSTERS/ID" @> 0 | "CLUSTERS/ID" @> 100) & ("ID" @> 0 | "ID" @> 100) & ' \
        '(TM_MAD = "ssh")'
    plain = vm("DISK = [ TYPE = swap, SIZE = 1 ]\nTOPOLOGY = [ PIN_POLICY = THREAD ]")
    vm_placement.compute(plain, [])
    assert plain.get("AUTOMATIC_REQUIREMENTS") == "!(PUBLIC_CLOUD = YES) & (PIN_POLICY = PINNED)"
    assert plain.get("AUTOMATIC_DS_REQUIREMENTS") is None
    assert plain.get("AUTOMATIC_NIC_REQUIREMENTS") is None


@pytest.mark.parametrize("text, message", [
    ('DISK = [ CLUSTER_ID = "0" ]\nNIC = [ CLUSTER_ID = "100" ]',
     "Incompatible clusters in NIC. Network for NIC 0 is not in the same cluster as the one "
     "used by other VM elements (cluster 0)"),
    ('DISK = [ CLUSTER_ID = "0" ]\nDISK = [ CLUSTER_ID = "" ]',
     "Missing clusters. Datastore for DISK 1 is not in any cluster"),
])
def test_resources_without_a_common_cluster_are_refused(text, message) -> None:
    with pytest.raises(vm_placement.IncompatibleResources) as e:
        vm_placement.compute(vm(text), [])
    assert e.value.message == message
