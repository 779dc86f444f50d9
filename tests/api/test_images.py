"""one.image.* and one.imagepool.info, driven by pyone on every backend.

The server is shared by every test of a backend: names are unique, and pools are
compared before/after instead of assuming ids or sizes.
"""
from __future__ import annotations

import os
import uuid
import xmlrpc.client

import pyone
import pytest

from image_files import http_files, make_disk, var_tmp_disk  # noqa: F401 (fixtures)
from images import assert_image_file, ready_image, wait_gone, wait_image
from xsd import assert_valid, raw_call

DEFAULT_DS, FILES_DS, SYSTEM_DS = 1, 2, 0
ALLOCATE = 0x4000


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


def mine(one) -> set[int]:
    return {i.ID for i in one.imagepool.info(-3, -1, -1).IMAGE}


def ds_images(one, ds: int) -> list[int]:
    return list(one.datastore.info(ds).IMAGES.ID)


def datablock(name: str, size: int = 64, extra: str = "") -> str:
    return f'NAME = "{name}"\nTYPE = DATABLOCK\nSIZE = {size}\n{extra}'


def new_user(one, client_for):
    name = uniq("img-user")
    uid = one.user.allocate(name, "pw", "", [])
    return uid, client_for(f"{name}:pw")


def test_allocate_kinds_and_validate(one, nubo, var_tmp_disk, http_files):
    before = ds_images(one, DEFAULT_DS)
    url, served = http_files
    make_disk(served / "boot.iso", 3, "raw")
    disk, kernel_file = var_tmp_disk(40), var_tmp_disk(1, "raw")
    templates = [
        (datablock(uniq("db"), 512, 'FS = "ext4"\nDESCRIPTION = "scratch & logs"\n'
                                    'LABELS = [ TIER = "gold" ]'), DEFAULT_DS),
        (f'NAME = "{uniq("os")}"\nPATH = "{disk}"\nPERSISTENT = yes', DEFAULT_DS),
        (f'NAME = "{uniq("cd")}"\nTYPE = CDROM\nPATH = "{url}/boot.iso"\nSIZE = 700',
         DEFAULT_DS),
        (f'NAME = "{uniq("src")}"\nTYPE = OS\nSOURCE = "/var/lib/one/img/abc"\n'
         'FORMAT = qcow2\nSIZE = 2048', DEFAULT_DS),
        (f'<TEMPLATE><NAME>{uniq("xml")}</NAME><TYPE>datablock</TYPE><SIZE>8</SIZE>'
         '</TEMPLATE>', DEFAULT_DS),
        (f'NAME = "{uniq("kernel")}"\nTYPE = KERNEL\nPATH = "{kernel_file}"', FILES_DS),
    ]
    ids = [one.image.allocate(text, ds) for text, ds in templates]
    for iid in ids:
        wait_image(one, iid)
        assert_valid(raw(nubo, "one.image.info", iid)[1], "image.xsd")
    db, os_img, cd, src, xml_img, kernel = (one.image.info(i) for i in ids)
    assert (db.TYPE, db.STATE, db.SIZE, db.FORMAT, db.FS, db.PERSISTENT) == (2, 1, 512, "raw",
                                                                                "ext4", 0)
    assert db.TEMPLATE["DESCRIPTION"] == "scratch & logs" and db.TEMPLATE["DEV_PREFIX"] == "sd"
    assert "SIZE" not in db.TEMPLATE and "NAME" not in db.TEMPLATE
    assert (os_img.TYPE, os_img.PATH, os_img.PERSISTENT, os_img.FORMAT, os_img.SIZE) == (
        0, str(disk), 1, "qcow2", 40)
    assert (cd.TYPE, cd.SIZE, cd.FORMAT, cd.TEMPLATE["DEV_PREFIX"]) == (1, 3, "raw", "hd")
    assert (src.SOURCE, src.FORMAT, src.SIZE) == ("/var/lib/one/img/abc", "qcow2", 2048)
    assert (xml_img.TYPE, xml_img.SIZE) == (2, 8)
    assert (kernel.TYPE, kernel.DATASTORE_ID, kernel.DATASTORE) == (3, FILES_DS, "files")
    assert "DEV_PREFIX" not in kernel.TEMPLATE
    assert (db.DATASTORE_ID, db.DATASTORE, db.UNAME, db.CLONING_ID) == (1, "default",
                                                                         "oneadmin", -1)
    for made in (db, os_img, cd, xml_img, kernel):  # real files, in the datastore's directory
        ds = one.datastore.info(made.DATASTORE_ID)
        assert made.SOURCE.startswith(ds.BASE_PATH + "/"), (made.SOURCE, ds.BASE_PATH)
        assert_image_file(made.SOURCE, made.FORMAT, made.SIZE)
    assert set(ds_images(one, DEFAULT_DS)) == set(before) | set(ids[:5])
    assert ids[5] in ds_images(one, FILES_DS)
    assert_valid(raw(nubo, "one.imagepool.info", -2, -1, -1)[1], "image_pool.xsd")
    assert_valid(raw(nubo, "one.imagepool.info", -2, ids[0], ids[0])[1], "image_pool.xsd")
    assert_valid(raw(nubo, "one.datastore.info", DEFAULT_DS)[1], "datastore.xsd")


BAD = [
    ("SIZE = 10\nTYPE = DATABLOCK", DEFAULT_DS, ALLOCATE, "Invalid NAME, it cannot be empty"),
    ('NAME = "a/b"\nTYPE = DATABLOCK\nSIZE = 1', DEFAULT_DS, ALLOCATE, "Invalid NAME"),
    ("NAME = {n}\nTYPE = DATABLOCK", DEFAULT_DS, 0x2000,
     "Cannot parse image SIZE: Wrong number or missing SIZE attribute."),
    ("NAME = {n}\nTYPE = DATABLOCK\nSIZE = big", DEFAULT_DS, 0x2000, "Cannot parse image SIZE"),
    ("NAME = {n}\nTYPE = CDROM", DEFAULT_DS, 0x2000,
     "Either PATH or SOURCE are required for CDROM"),
    ("NAME = {n}\nTYPE = DATABLOCK\nSIZE = 1", SYSTEM_DS, ALLOCATE,
     "New images can only be allocated in a files or image datastore."),
    ("NAME = {n}\nTYPE = DATABLOCK\nSIZE = 1", 987654, 0x400,
     "Error getting datastore [987654]."),
    ("NAME = {n}\nTYPE = KERNEL\nPATH = /k", DEFAULT_DS, ALLOCATE,
     "IMAGES of type KERNEL, RAMDISK and CONTEXT cannot be registered in an IMAGE_DS"),
    ("NAME = {n}\nTYPE = OS\nPATH = /k\nSIZE = 1", FILES_DS, ALLOCATE,
     "Only IMAGES of type KERNEL, RAMDISK and CONTEXT can be registered in a FILE_DS"),
    ("NAME = {n}\nTYPE = FLOPPY\nSIZE = 1", DEFAULT_DS, ALLOCATE, "Unknown type FLOPPY"),
    ("NAME = {n}\nPATH = /a\nSOURCE = /b\nFORMAT = raw\nSIZE = 1", DEFAULT_DS, ALLOCATE,
     "PATH and SOURCE cannot be both set."),
    ("NAME = {n}\nSOURCE = /b\nSIZE = 1", DEFAULT_DS, ALLOCATE, "SOURCE needs FORMAT to be set."),
    ("NAME = {n}\nSIZE = [", DEFAULT_DS, 0x2000, "syntax error"),
]


@pytest.mark.parametrize(("text", "ds", "code", "message"), BAD)
def test_bad_allocations_change_nothing(one, nubo, text, ds, code, message):
    before, images = mine(one), ds_images(one, DEFAULT_DS)
    reply = raw(nubo, "one.image.allocate", text.replace("{n}", uniq("bad")), ds)
    assert reply[0] is False and reply[2] == code, reply
    assert message in reply[1] and reply[1].startswith("[one.image.allocate] ")
    if code == ALLOCATE:
        assert reply[1].startswith("[one.image.allocate] Error allocating a new image. ")
    assert mine(one) == before and ds_images(one, DEFAULT_DS) == images


def test_duplicate_names_are_per_owner(one, client_for):
    name = uniq("dup")
    first = one.image.allocate(datablock(name), DEFAULT_DS)
    with pytest.raises(pyone.OneException, match=f"NAME is already taken by IMAGE {first}."):
        one.image.allocate(datablock(name), DEFAULT_DS)
    uid, user = new_user(one, client_for)
    other = user.image.allocate(datablock(name), DEFAULT_DS)  # another owner: fine
    img = one.image.info(other)
    assert (img.UID, img.GID, img.PERMISSIONS.OWNER_U, img.PERMISSIONS.GROUP_U) == (uid, 1, 1, 0)
    one.image.rename(first, name)  # its own name: nothing to do
    with pytest.raises(pyone.OneException, match="already taken"):
        one.image.chown(other, 0, -1)  # oneadmin already owns an image with that name
    assert one.image.info(other).UID == uid


def test_wrong_argument_types_are_faults(nubo):
    with pytest.raises(xmlrpc.client.Fault):
        raw(nubo, "one.image.allocate", 42, DEFAULT_DS)
    with pytest.raises(xmlrpc.client.Fault):
        raw(nubo, "one.image.info", "3")
    with pytest.raises(xmlrpc.client.Fault):
        raw(nubo, "one.image.enable", 1, "yes")


def test_unknown_ids(one, nubo):
    for method, args in (("one.image.info", (987654,)), ("one.image.delete", (987654,)),
                         ("one.image.enable", (987654, True)),
                         ("one.image.persistent", (987654, True)),
                         ("one.image.chtype", (987654, "OS")),
                         ("one.image.clone", (987654, uniq("c"))),
                         ("one.image.rename", (987654, uniq("r"))),
                         ("one.image.update", (987654, "A = 1", 1)),
                         ("one.image.chmod", (987654, 1, 1, 1, 0, 0, 0, 0, 0, 0)),
                         ("one.image.chown", (987654, 0, 0)),
                         ("one.image.lock", (987654, 1, False)), ("one.image.unlock", (987654,))):
        reply = raw(nubo, method, *args)
        assert reply[:4] == [False, f"[{method}] Error getting image [987654].", 0x400, 987654]


def test_clone(one, nubo):
    src = ready_image(one, datablock(uniq("orig"), 300, 'DESCRIPTION = "base"\n'
                                                         "PERSISTENT = YES"), DEFAULT_DS)
    name = uniq("copy")
    copy = one.image.clone(src, name)
    c, s = wait_image(one, copy), one.image.info(src)
    assert (c.NAME, c.TYPE, c.SIZE, c.FORMAT, c.PERSISTENT, c.STATE, c.DATASTORE_ID) == (
        name, 2, 300, "raw", 1, 1, DEFAULT_DS)
    assert c.TEMPLATE["DESCRIPTION"] == "base" and s.STATE == 1 and s.CLONING_OPS == 0
    assert copy in ds_images(one, DEFAULT_DS) and c.SOURCE != s.SOURCE
    assert_image_file(c.SOURCE, "raw", 300)
    assert_valid(raw(nubo, "one.image.info", copy)[1], "image.xsd")
    with pytest.raises(pyone.OneException, match=f"NAME is already taken by IMAGE {copy}"):
        one.image.clone(src, name)
    with pytest.raises(pyone.OneActionException, match="Clone only supported for IMAGE_DS"):
        one.image.clone(src, uniq("c"), FILES_DS)
    with pytest.raises(pyone.OneNoExistsException, match=r"Error getting datastore \[987654\]"):
        one.image.clone(src, uniq("c"), 987654)
    kernel = one.image.allocate(f'NAME = "{uniq("k")}"\nTYPE = KERNEL\nSOURCE = /k\n'
                                'FORMAT = raw\nSIZE = 1', FILES_DS)
    with pytest.raises(pyone.OneActionException, match="CONTEXT cannot be cloned"):
        one.image.clone(kernel, uniq("c"))
    one.image.enable(src, False)
    reply = raw(nubo, "one.image.clone", src, uniq("c"))
    assert reply[:3] == [False, "[one.image.clone] Error allocating a new image. Cannot clone "
                                "image in state: DISABLED", ALLOCATE]


def test_enable_persistent_chtype(one, nubo):
    iid = ready_image(one, datablock(uniq("life")), DEFAULT_DS)
    one.image.enable(iid, False)
    assert one.image.info(iid).STATE == 3
    one.image.enable(iid, False)  # already disabled: nothing to do
    one.image.enable(iid, True)
    assert one.image.info(iid).STATE == 1
    one.image.persistent(iid, True)
    assert one.image.info(iid).PERSISTENT == 1
    one.image.persistent(iid, False)
    assert one.image.info(iid).PERSISTENT == 0
    one.image.chtype(iid, "cdrom")
    assert one.image.info(iid).TYPE == 1
    with pytest.raises(pyone.OneActionException, match="incompatible type"):
        one.image.chtype(iid, "KERNEL")
    with pytest.raises(pyone.OneInternalException, match="Unknown type FLOPPY"):
        one.image.chtype(iid, "FLOPPY")
    kernel = one.image.allocate(f'NAME = "{uniq("k")}"\nTYPE = KERNEL\nSOURCE = /k\n'
                                'FORMAT = raw\nSIZE = 1', FILES_DS)
    with pytest.raises(pyone.OneActionException, match="must be non-persistent"):
        one.image.persistent(kernel, True)
    one.image.chtype(kernel, "RAMDISK")
    assert one.image.info(kernel).TYPE == 4
    with pytest.raises(pyone.OneActionException, match="incompatible type"):
        one.image.chtype(kernel, "OS")
    assert_valid(raw(nubo, "one.image.info", kernel)[1], "image.xsd")


def test_update_rename_chmod_chown_lock(one, nubo, client_for):
    iid = ready_image(one, datablock(uniq("meta"), extra='DESCRIPTION = "a"'), DEFAULT_DS)
    one.image.update(iid, 'NOTES = "n"', 1)
    t = one.image.info(iid).TEMPLATE
    assert (t["DESCRIPTION"], t["NOTES"]) == ("a", "n")
    one.image.update(iid, 'ONLY = "this"', 0)
    assert dict(one.image.info(iid).TEMPLATE) == {"ONLY": "this"}
    new = uniq("renamed")
    one.image.rename(iid, new)
    assert one.image.info(iid).NAME == new
    one.image.chmod(iid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    p = one.image.info(iid).PERMISSIONS
    assert (p.GROUP_U, p.OTHER_U, p.OTHER_M) == (1, 1, 0)
    uid, user = new_user(one, client_for)
    assert user.image.info(iid).ID == iid  # OTHER_U lets anyone see it
    with pytest.raises(pyone.OneAuthorizationException, match="MANAGE IMAGE"):
        user.image.rename(iid, uniq("x"))
    one.image.chown(iid, uid, 1)
    img = one.image.info(iid)
    assert (img.UID, img.GID, img.GNAME) == (uid, 1, "users")
    user.image.rename(iid, uniq("theirs"))
    one.image.lock(iid, 2, False)
    assert one.image.info(iid).LOCK.LOCKED == 2
    assert_valid(raw(nubo, "one.image.info", iid)[1], "image.xsd")
    with pytest.raises(pyone.OneException, match="locked"):
        one.image.enable(iid, False)
    with pytest.raises(pyone.OneException, match="locked"):
        one.image.delete(iid)
    one.image.unlock(iid)
    one.image.delete(iid)


def test_non_admin_images(one, client_for):
    uid, user = new_user(one, client_for)
    theirs = ready_image(user, datablock(uniq("u")), DEFAULT_DS)
    admins = ready_image(one, datablock(uniq("a")), DEFAULT_DS)
    assert {i.ID for i in user.imagepool.info(-2, -1, -1).IMAGE} >= {theirs}
    assert admins not in {i.ID for i in user.imagepool.info(-2, -1, -1).IMAGE}
    assert {i.ID for i in one.imagepool.info(uid, -1, -1).IMAGE} == {theirs}
    for call in (lambda: user.image.info(admins), lambda: user.image.delete(admins),
                 lambda: user.image.enable(admins, False),
                 lambda: user.image.clone(admins, uniq("steal"))):
        with pytest.raises(pyone.OneAuthorizationException):
            call()
    with pytest.raises(pyone.OneAuthorizationException, match=r"MANAGE IMAGE \[\d+\]"):
        user.image.update(admins, "A = 1", 1)
    with pytest.raises(pyone.OneAuthorizationException, match=r"ADMIN IMAGE"):
        user.image.chmod(theirs, -1, -1, 1, -1, -1, -1, -1, -1, -1)
    clone = user.image.clone(theirs, uniq("mine"))
    assert one.image.info(clone).UID == uid
    user.image.delete(clone)


def test_delete(one, nubo):
    iid = ready_image(one, datablock(uniq("gone")), DEFAULT_DS)
    source = one.image.info(iid).SOURCE
    assert iid in ds_images(one, DEFAULT_DS) and os.path.isfile(source)
    assert one.image.delete(iid) == iid
    wait_gone(one, iid)  # DELETE until the driver removed the file
    assert iid not in ds_images(one, DEFAULT_DS) and not os.path.exists(source)
    with pytest.raises(pyone.OneNoExistsException):
        one.image.info(iid)
    with pytest.raises(pyone.OneNoExistsException):
        one.image.delete(iid)


def test_delete_refused_while_vms_use_it(one, nubo):
    """No VMs yet: mark the image used in the store, as attaching a disk will."""
    from nubo.core.pool_set import make_pools
    from nubo.store import image_vms
    from nubo.store.db import Database

    iid = ready_image(one, datablock(uniq("busy")), DEFAULT_DS)
    db, pools = Database(nubo.database_url), make_pools()
    try:
        with db.write() as conn:
            image = pools.images.get(conn, iid)
            image.state = image.prev_state = 2  # USED
            image_vms.add(conn, iid, 7)  # the VMs using an image are rows of their table
            image_vms.add(conn, iid, 8)
            pools.images.update(conn, image)
        reply = raw(nubo, "one.image.delete", iid)
        assert reply[:3] == [False, "[one.image.delete] Cannot delete image. There are 2 VMs "
                                    "using it.", 0x800]
        with pytest.raises(pyone.OneInternalException, match="cannot be in state USED"):
            one.image.persistent(iid, True)
        assert iid in ds_images(one, DEFAULT_DS)
        with db.write() as conn:
            image.state = image.prev_state = 1
            image_vms.remove(conn, iid, 7)
            image_vms.remove(conn, iid, 8)
            pools.images.update(conn, image)
    finally:
        db.close()
    one.image.delete(iid)
