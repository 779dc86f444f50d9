"""A VM's kernel and initrd from the files datastore: OS/KERNEL_DS and OS/INITRD_DS.

Users name them as images, ``KERNEL_DS = "$FILE[IMAGE_ID=4]"``; at allocate, as oned's
VirtualMachine::set_os_file, the image is checked (its type, READY, USE for the
caller) and the OS vector gets what the PROLOG needs: ``KERNEL_DS_SOURCE``,
``KERNEL_DS_DSID`` and ``KERNEL_DS_TM``. The PROLOG's script then copies the file into
the VM's directory as ``kernel`` / ``initrd`` (nubo.lifecycle.transfer), where the
hypervisor driver boots it from.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.context.resolve import ContextError, file_references
from nubo.core.ops.call import Call
from nubo.core.ops.vm_context import sources
from nubo.model.vm import VirtualMachine
from nubo.model.vm_template import VmTemplateError

#: OS attribute -> the image type it takes.
OS_FILES = {"KERNEL": "KERNEL", "INITRD": "RAMDISK"}


def resolve(call: Call, conn: Connection, vm: VirtualMachine) -> None:
    """Fill the OS vector's *_DS_SOURCE/_DSID/_TM from the images KERNEL_DS and INITRD_DS
    name; VmTemplateError says what is wrong with one."""
    os_ = vm.template.get_vector("OS")
    if os_ is None:
        return
    for base, kind in OS_FILES.items():
        text = (os_.get(f"{base}_DS") or "").strip()
        if not text:
            continue
        where = f"OS/{base}_DS"
        try:
            refs = file_references(text)
            if len(refs) != 1:
                raise ContextError(f"names {len(refs)} images, not one")
            image = sources(call, conn, vm).file_image(refs[0])
        except ContextError as e:
            raise VmTemplateError(f"Cannot parse {where}: {_reason(e)}") from None
        if image.type != kind:
            raise VmTemplateError(f"Cannot parse {where}: image {image.id} is of type "
                                  f"{image.type}, not {kind}")
        if image.state != "READY":
            raise VmTemplateError(f"Cannot parse {where}: {kind} image {image.id} is not in "
                                  "READY state")
        ds = call.cloud.pools.datastores.find(conn, image.datastore_id)
        os_.set(f"{base}_DS_SOURCE", image.source)
        os_.set(f"{base}_DS_DSID", str(image.datastore_id))
        os_.set(f"{base}_DS_TM", ds.tm_mad if ds is not None else "")


def _reason(e: ContextError) -> str:
    """The FILES_DS parser's message without its own place (this is not FILES_DS)."""
    return str(e).replace("Cannot parse CONTEXT/FILES_DS: ", "")
