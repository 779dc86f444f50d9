"""A VM's CONTEXT, resolved at allocate and kept up to date on NIC hotplug and updateconf.

The resolution itself is pure (nubo.context.resolve); this module gives it what it
reads from the cloud (networks and their address ranges, images, the owner), checks
what only the configuration may allow (FILES under ``context_files_dirs``) and USE
on the CONTEXT images FILES_DS names, in the caller's transaction, so a refusal
leaves nothing behind.
"""
from __future__ import annotations

import os

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.context.network import apply_network
from nubo.context.resolve import (ContextError, FileImage, Resolver, b64, nics_of,
                                  parse_context)
from nubo.core.ops.call import Call
from nubo.core.ops.common import authorize, object_auth
from nubo.core.ops.images import IMAGE
from nubo.model import xmlobj
from nubo.model.resources import IMAGE_STATE_NAMES, IMAGE_TYPE_NAMES, address_ranges
from nubo.model.vm import VirtualMachine
from nubo.model.vm_template import VmTemplateError
from nubo.template import VectorAttribute


class CloudSources:
    """nubo.context.resolve.Sources read in the caller's transaction."""

    def __init__(self, call: Call, conn: Connection, vm: VirtualMachine) -> None:
        self.call, self.conn, self.vm = call, conn, vm
        self.pools = call.cloud.pools

    def vm_xml(self) -> str:
        return xmlobj.render(self.vm, "VM")

    def network_attribute(self, vnet_id: int, ar_id: int | None, name: str) -> str:
        vnet = self.pools.vnets.find(self.conn, vnet_id)
        if vnet is None:
            return ""
        if name == "TEMPLATE":
            return b64(self.pools.vnets.body(self.conn, vnet_id))
        for ar, _ in address_ranges(vnet):
            if ar.ar_id == ar_id:
                value = ar.attributes().get(name)
                if value:
                    return value
        if name == "VLAN_ID" and vnet.vlan_id:
            return vnet.vlan_id
        return vnet.template.get(name) or ""

    def image_attribute(self, image_id: int, name: str) -> str:
        if name == "TEMPLATE":
            return b64(self.pools.images.body(self.conn, image_id)) \
                if self.pools.images.exists(self.conn, image_id) else ""
        image = self.pools.images.find(self.conn, image_id)
        return (image.template.get(name) or "") if image is not None else ""

    def user_attribute(self, name: str) -> str:
        if name == "TEMPLATE":
            return b64(self.pools.users.body(self.conn, self.vm.uid))
        user = self.pools.users.find(self.conn, self.vm.uid)
        return (user.template.get(name) or "") if user is not None else ""

    def file_image(self, ref: dict[str, str]) -> FileImage:
        pools, conn = self.pools, self.conn
        oid: int | None
        if ref.get("IMAGE_ID", "").isdigit():
            oid = int(ref["IMAGE_ID"])
        else:
            owner: int | None = self.vm.uid
            if ref.get("IMAGE_UID", "").isdigit():
                owner = int(ref["IMAGE_UID"])
            elif ref.get("IMAGE_UNAME"):
                owner = pools.users.oid_by_name(conn, ref["IMAGE_UNAME"])
            oid = None if owner is None else pools.images.oid_by_name(conn, ref.get("IMAGE", ""),
                                                                    owner)
        image = None if oid is None else pools.images.find(conn, oid)
        if image is None:
            named = ref.get("IMAGE_ID") or ref.get("IMAGE")
            raise ContextError(f"Cannot parse CONTEXT/FILES_DS: image {named} does not exist")
        authorize(self.call, A.USE, object_auth(IMAGE, image), IMAGE.acl_name)
        return FileImage(image.id, image.name, image.source,
                         IMAGE_TYPE_NAMES.get(image.type, "OS"),
                         IMAGE_STATE_NAMES[image.state] if image.state < len(IMAGE_STATE_NAMES)
                         else str(image.state))


def check_files(call: Call, context: VectorAttribute) -> None:
    """CONTEXT/FILES only under the directories ``context_files_dirs`` allows (none by
    default): front-end files put on a CD-ROM the VM's owner reads."""
    allowed = [os.path.realpath(d) for d in getattr(call.cloud.config, "context_files_dirs", [])]
    for path in (context.get("FILES") or "").split():
        real = os.path.realpath(path)
        if not os.path.isabs(path) or not any(real == d or real.startswith(d.rstrip("/") + "/")
                                              for d in allowed):
            raise VmTemplateError(f"CONTEXT/FILES cannot use {path}: it is not in a directory "
                                  "the configuration allows (context_files_dirs)")


def contextualize(call: Call, conn: Connection, vm: VirtualMachine) -> None:
    """Resolve the new VM's CONTEXT (after its images and leases are taken)."""
    context = vm.template.get_vector("CONTEXT")
    if context is None:
        return
    check_files(call, context)
    try:
        parse_context(vm, CloudSources(call, conn, vm),
                      getattr(call.cloud.config, "onegate_endpoint", ""))
    except ContextError as e:
        raise VmTemplateError(str(e)) from None


def refresh_network(call: Call, conn: Connection, vm: VirtualMachine,
                    leaving: VectorAttribute | None = None) -> None:
    """The ETHn_* of a VM whose NICs changed (``leaving``: a NIC being detached)."""
    context = vm.template.get_vector("CONTEXT")
    if context is None:
        return
    nics = [n for n in nics_of(vm) if n is not leaving and not _child_of(n, leaving)]
    apply_network(context, nics, Resolver(vm, CloudSources(call, conn, vm)).network_of_nic)


def _child_of(nic: VectorAttribute, parent: VectorAttribute | None) -> bool:
    return (parent is not None and nic.name == "NIC_ALIAS"
            and nic.get("PARENT_ID") == parent.get("NIC_ID"))


def update_context(call: Call, conn: Connection, vm: VirtualMachine,
                   before: VectorAttribute | None) -> None:
    """After one.vm.updateconf: the new or changed values' variables resolved, the
    ETHn_* and TOKEN attributes generated again, TARGET and DISK_ID kept (oned's
    VirtualMachine::updateconf)."""
    context = vm.template.get_vector("CONTEXT")
    if context is None:
        return
    if before is not None:
        for key in ("TARGET", "DISK_ID"):
            if before.get(key):
                context.set(key, before.get(key) or "")
    check_files(call, context)
    sources = CloudSources(call, conn, vm)
    resolver = Resolver(vm, sources)
    try:
        for key, value in list(context.items()):
            if "$" in value and (before is None or before.get(key) != value):
                context.set(key, resolver.substitute(key, value))
    except ContextError as e:
        raise VmTemplateError(str(e)) from None
    apply_network(context, nics_of(vm), resolver.network_of_nic)
    endpoint = getattr(call.cloud.config, "onegate_endpoint", "")
    if (context.get("TOKEN") or "").strip().upper() == "YES" and endpoint:
        context.set("ONEGATE_ENDPOINT", endpoint)
        context.set("VMID", str(vm.id))
