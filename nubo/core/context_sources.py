"""What a VM's CONTEXT reads from the cloud (nubo.context.resolve.Sources) in a
transaction, and the ETHn_* kept in step with the VM's NICs.

Apart from the operations (nubo.core.ops.vm_context) because the driver's answer to a
NIC hotplug (nubo.core.vm_tasks: a failed attach drops its NIC, a successful detach
drops the detached one) changes the NICs too.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from nubo.context.network import apply_network
from nubo.context.resolve import ContextError, FileImage, Resolver, b64, nics_of
from nubo.core.pool_set import Pools
from nubo.model import xmlobj
from nubo.model.resources import (IMAGE_STATE_NAMES, IMAGE_TYPE_NAMES, Image, Range,
                                  VirtualNetwork, address_ranges)
from nubo.model.vm import VirtualMachine
from nubo.template import VectorAttribute

if TYPE_CHECKING:
    from nubo.core.vm_tasks import Handler, TaskContext


class CloudSources:
    """nubo.context.resolve.Sources read in the caller's transaction."""

    def __init__(self, pools: Pools, conn: Connection, vm: VirtualMachine,
                 check_use: Callable[[Image], None] | None = None) -> None:
        self.pools, self.conn, self.vm = pools, conn, vm
        self.check_use = check_use  # USE on a FILES_DS image, for the caller
        # A context names a network's attributes once per variable (ETH0_IP, ETH0_MASK...):
        # each network and its ranges are read once per VM, not once per variable.
        self._vnets: dict[int, tuple[VirtualNetwork, list[Range]] | None] = {}

    def _vnet(self, vnet_id: int) -> tuple[VirtualNetwork, list[Range]] | None:
        if vnet_id not in self._vnets:
            vnet = self.pools.vnets.find(self.conn, vnet_id)
            self._vnets[vnet_id] = None if vnet is None else (vnet, address_ranges(vnet))
        return self._vnets[vnet_id]

    def vm_xml(self) -> str:
        return xmlobj.render(self.vm, "VM")

    def network_attribute(self, vnet_id: int, ar_id: int | None, name: str) -> str:
        found = self._vnet(vnet_id)
        if found is None:
            return ""
        if name == "TEMPLATE":
            return b64(self.pools.vnets.body(self.conn, vnet_id))
        vnet, ranges = found
        for ar, _ in ranges:
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
        if self.check_use is not None:
            self.check_use(image)
        return FileImage(image.id, image.name, image.source,
                         IMAGE_TYPE_NAMES.get(image.type, "OS"),
                         IMAGE_STATE_NAMES[image.state] if image.state < len(IMAGE_STATE_NAMES)
                         else str(image.state), image.datastore_id)


def refresh_network(pools: Pools, conn: Connection, vm: VirtualMachine,
                    leaving: VectorAttribute | None = None) -> None:
    """The ETHn_* of a VM whose NICs changed (``leaving``: a NIC being detached, whose
    aliases go with it)."""
    context = vm.template.get_vector("CONTEXT")
    if context is None:
        return
    nics = [n for n in nics_of(vm) if n is not leaving and not _child_of(n, leaving)]
    apply_network(context, nics, Resolver(vm, CloudSources(pools, conn, vm)).network_of_nic)


def _child_of(nic: VectorAttribute, parent: VectorAttribute | None) -> bool:
    return (parent is not None and nic.name == "NIC_ALIAS"
            and nic.get("PARENT_ID") == parent.get("NIC_ID"))


def refreshing(handler: Handler) -> Handler:
    """A vm_tasks handler that changes the NICs, followed by the ETHn_* update."""
    def run(ctx: TaskContext) -> object:
        follow = handler(ctx)
        refresh_network(ctx.pools, ctx.conn, ctx.vm)
        return follow
    return run
