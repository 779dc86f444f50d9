"""Register a built guest with a running nubo through the XML-RPC API (pyone), as an
operator would: its kernel and initrd as KERNEL and RAMDISK images of a FILE
datastore and a template ``nubo-guest`` that boots them directly.

Idempotent: the images are named after the files' digests (a rebuild with the same
bytes reuses them), the datastore is made only if missing (its SAFE_DIRS extended
with the guest's directory, which the fs driver copies from), and the template is
replaced if it exists.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from nubo.guestimage.build import KERNEL_CMD

IMAGE_READY, IMAGE_ERROR = 1, 5
FILES = (("vmlinuz", "KERNEL"), ("initrd.img", "RAMDISK"))


class RegisterError(RuntimeError):
    """An image went to ERROR, or did not become READY in time."""


def template_text(kernel_id: int, initrd_id: int) -> str:
    """The nubo-guest template: direct kernel boot, the serial console, context."""
    return (f'NAME = "nubo-guest"\nCPU = "1"\nVCPU = "1"\nMEMORY = "128"\n'
            f'OS = [ KERNEL_DS = "$FILE[IMAGE_ID={kernel_id}]", '
            f'INITRD_DS = "$FILE[IMAGE_ID={initrd_id}]", KERNEL_CMD = "{KERNEL_CMD}" ]\n'
            f'CONTEXT = [ NETWORK = "YES", SET_HOSTNAME = "$NAME", '
            f'SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]" ]\n'
            f'DESCRIPTION = "nubo\'s test guest: busybox, applies its context, answers ping '
            f'(docs/guest-image.md)"\n')


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _files_datastore(one, name: str, directory: Path) -> int:
    """The FILE datastore ``name``, made if missing; ``directory`` in its SAFE_DIRS."""
    for ds in one.datastorepool.info().DATASTORE:
        if ds.NAME == name:
            safe = str(ds.TEMPLATE.get("SAFE_DIRS") or "").split()
            if str(directory) not in safe:
                one.datastore.update(ds.ID, f'SAFE_DIRS = "{" ".join([*safe, str(directory)])}"',
                                     1)
            return ds.ID
    return one.datastore.allocate(
        f'NAME = "{name}"\nTYPE = "FILE_DS"\nDS_MAD = "fs"\nTM_MAD = "shared"\n'
        f'SAFE_DIRS = "/var/tmp {directory}"', -1)


def _wait_ready(one, image_id: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        image = one.image.info(image_id)
        if image.STATE == IMAGE_READY:
            return
        if image.STATE == IMAGE_ERROR:
            raise RegisterError(f"image {image_id} in ERROR: {image.TEMPLATE.get('ERROR')}")
        if time.monotonic() > deadline:
            raise RegisterError(f"image {image_id} not READY after {timeout} s")
        time.sleep(0.1)


def register(endpoint: str, session: str, directory: Path, datastore: str = "nubo-files",
             template: str = "nubo-guest", timeout: float = 120) -> dict[str, int]:
    """Register DIR/vmlinuz and DIR/initrd.img; returns the ids made or found."""
    import pyone

    one = pyone.OneServer(endpoint, session=session)
    directory = Path(directory).resolve()
    ds_id = _files_datastore(one, datastore, directory)
    existing = {i.NAME: i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE}
    ids = {"datastore": ds_id}
    for filename, image_type in FILES:
        path = directory / filename
        name = f"nubo-guest-{filename.split('.')[0]}-{_digest(path)}"
        image_id = existing.get(name)
        if image_id is None:
            image_id = one.image.allocate(
                f'NAME = "{name}"\nTYPE = "{image_type}"\nPATH = "{path}"', ds_id)
        _wait_ready(one, image_id, timeout)
        ids[image_type.lower()] = image_id
    text = template_text(ids["kernel"], ids["ramdisk"]).replace('"nubo-guest"',
                                                               f'"{template}"', 1)
    found = [t.ID for t in one.templatepool.info(-2, -1, -1).VMTEMPLATE if t.NAME == template]
    if found:
        one.template.update(found[0], text, 0)
        ids["template"] = found[0]
    else:
        ids["template"] = one.template.allocate(text)
    return ids
