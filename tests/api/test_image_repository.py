"""The image repository with real files: the fs DS driver copies, downloads, makes and
clones image files in the datastore's BASE_PATH; every file made is checked with
qemu-img, and every failure leaves the image in ERROR (or the call refused) with a
message and no file behind. Driven by pyone on every backend.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyone
import pytest

from image_files import http_files, make_disk, var_tmp_disk  # noqa: F401 (fixtures)
from images import CLONE, ERROR, READY, assert_image_file, ready_image, wait_gone, wait_image
from waits import wait_for
from xsd import assert_valid, raw_call

DEFAULT_DS = 1


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def files_in(one, ds_id: int) -> set[str]:
    """Every file (temporary ones included) in the datastore's directory."""
    base = Path(one.datastore.info(ds_id).BASE_PATH)
    return {p.name for p in base.iterdir()} if base.is_dir() else set()


def image_ds(one, extra: str = "", ds_mad: str = "fs") -> int:
    """A new image datastore of its own (its directory holds only its images)."""
    return one.datastore.allocate(f'NAME = "{uniq("ds")}"\nTYPE = IMAGE_DS\nDS_MAD = {ds_mad}\n'
                                  f'TM_MAD = shared\n{extra}', -1)


def test_a_local_file_is_copied_and_converted_to_the_format_asked(one, nubo, var_tmp_disk):
    raw_disk = var_tmp_disk(24, "raw")
    as_is = ready_image(one, f'NAME = "{uniq("raw")}"\nPATH = "{raw_disk}"')
    converted = ready_image(one, f'NAME = "{uniq("q")}"\nPATH = "{raw_disk}"\nFORMAT = qcow2')
    for iid, fmt in ((as_is, "raw"), (converted, "qcow2")):
        image = one.image.info(iid)
        assert (image.FORMAT, image.SIZE, image.STATE) == (fmt, 24, READY)
        assert image.SOURCE != str(raw_disk) and os.path.isfile(image.SOURCE)
        assert_image_file(image.SOURCE, fmt, 24)
        assert_valid(raw_call(nubo.endpoint, "one.image.info", nubo.session, iid)[1],
                     "image.xsd")
    assert raw_disk.is_file()  # the original stays where it was
    ds = one.datastore.info(DEFAULT_DS)
    assert ds.TOTAL_MB > 0 and ds.FREE_MB > 0  # monitored from the real filesystem


def test_a_datablock_is_made_with_its_filesystem(one):
    ext4 = ready_image(one, f'NAME = "{uniq("fs")}"\nTYPE = DATABLOCK\nSIZE = 16\nFS = ext4\n'
                            'FORMAT = qcow2')
    image = one.image.info(ext4)
    assert (image.FORMAT, image.SIZE, image.FS) == ("qcow2", 16, "ext4")
    assert_image_file(image.SOURCE, "qcow2", 16)


def test_a_url_is_downloaded(one, http_files):
    url, served = http_files
    make_disk(served / "cloud.qcow2", 12)
    iid = ready_image(one, f'NAME = "{uniq("url")}"\nPATH = "{url}/cloud.qcow2"')
    image = one.image.info(iid)
    assert (image.FORMAT, image.SIZE) == ("qcow2", 12)
    assert_image_file(image.SOURCE, "qcow2", 12)


def test_failures_leave_a_message_and_no_file(one, http_files):
    url, _served = http_files
    ds = image_ds(one, 'SAFE_DIRS = "/var/tmp"')
    before = files_in(one, ds)
    # Refused before anything is made: the driver's STAT says why.
    for path, message in (("/etc/hostname", "Not allowed to copy image file /etc/hostname"),
                          (f"{url}/missing.qcow2", "HTTP Error 404"),
                          ("/var/tmp/nubo-no-such-file.qcow2", "File not found")):
        with pytest.raises(pyone.OneInternalException, match=message):
            one.image.allocate(f'NAME = "{uniq("bad")}"\nPATH = "{path}"', ds)
    assert one.datastore.info(ds).IMAGES.ID == []
    # Failed while the copy ran: ERROR, the driver's message, nothing half-written.
    broken = one.image.allocate(f'NAME = "{uniq("cut")}"\nPATH = "{url}/broken/x.raw"', ds)
    bad_format = one.image.allocate(f'NAME = "{uniq("fmt")}"\nTYPE = DATABLOCK\nSIZE = 4\n'
                                    'FORMAT = vmdk', ds)
    for iid, message in ((broken, "Error downloading"), (bad_format, "Unsupported image FORMAT")):
        image = wait_image(one, iid, ERROR)
        assert image.TEMPLATE["ERROR"].startswith("Error copying image in the datastore: ")
        assert message in image.TEMPLATE["ERROR"], image.TEMPLATE["ERROR"]
        assert image.SOURCE == ""
    assert files_in(one, ds) == before
    with pytest.raises(pyone.OneException, match="state: ERROR"):
        one.image.clone(broken, uniq("c"))
    for iid in (broken, bad_format):  # no file: gone at once
        one.image.delete(iid)
        wait_gone(one, iid)
    one.datastore.delete(ds)


def test_limit_mb_and_the_capacity_check(one, client_for):
    ds = image_ds(one, "LIMIT_MB = 40")
    db = 'NAME = "{}"\nTYPE = DATABLOCK\nSIZE = {}'
    with pytest.raises(pyone.OneActionException, match="Not enough space in datastore"):
        one.image.allocate(db.format(uniq("big"), 64), ds)
    assert one.datastore.info(ds).IMAGES.ID == []
    small = ready_image(one, db.format(uniq("small"), 8), ds)
    # oneadmin may skip the check (no_capacity_check); a user may not.
    skipped = one.image.allocate(db.format(uniq("skip"), 64), ds, True)
    wait_image(one, skipped)
    name = uniq("user")
    one.user.allocate(name, "pw", "", [])
    user = client_for(f"{name}:pw")
    one.datastore.chmod(ds, -1, -1, -1, -1, -1, -1, 1, -1, -1)
    with pytest.raises(pyone.OneActionException, match="Not enough space"):
        user.image.allocate(db.format(uniq("u"), 64), ds, True)
    # A clone needs the room of its source.
    with pytest.raises(pyone.OneActionException, match="Not enough space"):
        one.image.clone(skipped, uniq("c"))
    one.datastore.update(ds, "DATASTORE_CAPACITY_CHECK = NO", 1)
    unchecked = ready_image(one, db.format(uniq("nocheck"), 64), ds)
    for iid in (small, skipped, unchecked):
        one.image.delete(iid)
        wait_gone(one, iid)
    assert files_in(one, ds) == set()
    one.datastore.delete(ds)


def test_clone_copies_the_file_and_releases_its_source(one, var_tmp_disk):
    src = ready_image(one, f'NAME = "{uniq("src")}"\nPATH = "{var_tmp_disk(20)}"')
    copies = [one.image.clone(src, uniq("copy")) for _ in range(3)]
    for iid in copies:
        image = wait_image(one, iid)
        assert (image.FORMAT, image.SIZE, image.CLONING_ID) == ("qcow2", 20, -1)
        assert_image_file(image.SOURCE, "qcow2", 20)
    source = one.image.info(src)
    assert (source.STATE, source.CLONING_OPS) == (READY, 0)
    assert len({one.image.info(i).SOURCE for i in [src, *copies]}) == 4
    for iid in (*copies, src):
        one.image.delete(iid)
        wait_gone(one, iid)


def test_delete_goes_through_delete_and_removes_the_file(one):
    iid = ready_image(one, f'NAME = "{uniq("rm")}"\nTYPE = DATABLOCK\nSIZE = 4')
    source = one.image.info(iid).SOURCE
    one.image.delete(iid)
    wait_gone(one, iid)
    assert not os.path.exists(source)
    # An image deleted while its file is being made: the removal waits for the copy.
    locked = one.image.allocate(f'NAME = "{uniq("rm")}"\nTYPE = DATABLOCK\nSIZE = 4', DEFAULT_DS)
    one.image.delete(locked)
    wait_gone(one, locked)


def test_a_dummy_datastore_makes_no_file(one):
    ds = image_ds(one, ds_mad="dummy")
    iid = ready_image(one, f'NAME = "{uniq("dummy")}"\nPATH = "/nowhere/disk.qcow2"', ds)
    image = one.image.info(iid)
    assert (image.SOURCE, image.FORMAT) == (f"dummy_path/{iid}", "raw")
    assert files_in(one, ds) == set()
    one.image.delete(iid)
    wait_gone(one, iid)
    one.datastore.delete(ds)


def test_snapshot_methods_check_the_image_and_the_snapshot(one, nubo):
    iid = ready_image(one, f'NAME = "{uniq("snap")}"\nTYPE = DATABLOCK\nSIZE = 4\nFORMAT = qcow2')
    for method in ("one.image.snapshotdelete", "one.image.snapshotrevert",
                   "one.image.snapshotflatten"):
        reply = raw_call(nubo.endpoint, method, nubo.session, iid, 0)
        assert reply[:3] == [False, f"[{method}] Snapshot does not exist", 0x800], reply
        reply = raw_call(nubo.endpoint, method, nubo.session, 987654, 0)
        assert reply[2] == 0x400
    one.image.enable(iid, False)
    with pytest.raises(pyone.OneActionException, match="in state DISABLED"):
        one.image.snapshotflatten(iid, 0)
    one.image.delete(iid)
    wait_gone(one, iid)


def test_a_source_in_clone_state_while_copies_run(one, http_files):
    """A slow download keeps its image LOCKED (no clone of it yet); a clone leaves its
    source in CLONE while it runs, READY after."""
    url, served = http_files
    make_disk(served / "slow.raw", 2, "raw")
    iid = one.image.allocate(f'NAME = "{uniq("slow")}"\nPATH = "{url}/slow/slow.raw"',
                             DEFAULT_DS)
    assert one.image.info(iid).STATE == 4  # LOCKED while the driver downloads
    with pytest.raises(pyone.OneException, match="state: LOCKED"):
        one.image.clone(iid, uniq("c"))
    wait_image(one, iid)
    copy = one.image.clone(iid, uniq("c"))
    states = {one.image.info(iid).STATE}
    wait_image(one, copy)
    states.add(one.image.info(iid).STATE)
    assert states <= {CLONE, READY}
    wait_for("the source READY", lambda: one.image.info(iid).STATE == READY)
    for oid in (copy, iid):
        one.image.delete(oid)
        wait_gone(one, oid)


def test_disksaveas_copies_a_vm_disk_into_a_new_image(one, nubo):
    src = ready_image(one, f'NAME = "{uniq("base")}"\nTYPE = DATABLOCK\nSIZE = 6\nFORMAT = qcow2')
    host = one.host.allocate(uniq("saveas-host"), "dummy", "dummy", -1)
    vm = one.vm.allocate(f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 32\n'
                         f'DISK = [ IMAGE_ID = {src} ]', False)
    disk_id = int(one.vm.info(vm).TEMPLATE["DISK"]["DISK_ID"])
    reply = raw_call(nubo.endpoint, "one.vm.disksaveas", nubo.session, vm, disk_id,
                     uniq("early"), "", -1)
    assert reply[:3] == [False, "[one.vm.disksaveas] Wrong state to perform action", 0x800]
    one.vm.deploy(vm, host)
    wait_for("the VM RUNNING", lambda: (one.vm.info(vm).STATE, one.vm.info(vm).LCM_STATE)
             == (3, 3))
    reply = raw_call(nubo.endpoint, "one.vm.disksaveas", nubo.session, vm, 99, uniq("x"), "", -1)
    assert reply[:3] == [False, "[one.vm.disksaveas] VM disk does not exist", 0x800]
    name = uniq("saved")
    saved = one.vm.disksaveas(vm, disk_id, name, "", -1)
    image = wait_image(one, saved)
    assert (image.NAME, image.TYPE, image.FORMAT, image.SIZE) == (name, 2, "qcow2", 6)
    assert (image.TEMPLATE["SAVED_IMAGE_ID"], image.TEMPLATE["SAVED_VM_ID"],
            image.TEMPLATE["SAVED_DISK_ID"]) == (str(src), str(vm), str(disk_id))
    assert image.SOURCE != one.image.info(src).SOURCE
    assert_image_file(image.SOURCE, "qcow2", 6)
    one.vm.action("terminate-hard", vm)
    wait_for("the VM DONE", lambda: one.vm.info(vm).STATE == 6)
    for iid in (saved, src):
        one.image.delete(iid)
        wait_gone(one, iid)
