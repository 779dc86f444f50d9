"""The object pools of one cloud, each bound to its table and model class."""
from __future__ import annotations

from dataclasses import dataclass

from nubo.model.infra import Cluster, Datastore, Host
from nubo.model.resources import Image, VirtualNetwork, VmTemplate, vnet_short_body
from nubo.model.user import Group, User
from nubo.model.vm import VirtualMachine
from nubo.model.vmbody import short_body
from nubo.model.secgroup import SecurityGroup
from nubo.model.vmgroup import VmGroup
from nubo.model.vntemplate import VnTemplate
from nubo.store import schema
from nubo.store.image_vms import ImagePool
from nubo.store.secgroup_vms import SecGroupPool
from nubo.store.last_poll import PolledPool
from nubo.store.pools import Pool, owner_columns
from nubo.store.write_cache import WriteCache

#: VMs and hosts the life-cycle manager keeps parsed between their transitions: enough
#: for every VM in flight during a burst, and every host of a large cloud.
VM_WRITE_CACHE = 8192
HOST_WRITE_CACHE = 8192


@dataclass
class Pools:
    users: Pool[User]
    groups: Pool[Group]
    hosts: Pool[Host]
    clusters: Pool[Cluster]
    datastores: Pool[Datastore]
    templates: Pool[VmTemplate]
    vms: Pool[VirtualMachine]
    images: ImagePool
    vnets: Pool[VirtualNetwork]
    vmgroups: Pool[VmGroup]
    vntemplates: Pool[VnTemplate]
    secgroups: SecGroupPool


def make_pools() -> Pools:
    return Pools(
        users=Pool(schema.user_pool, User, "user",
                   lambda u: {"gid": u.gid, "auth_driver": u.auth_driver, "enabled": u.enabled}),
        groups=Pool(schema.group_pool, Group, "group", lambda g: {}),
        hosts=Pool(schema.host_pool, Host, "host",
                   lambda h: {"state": h.state, "cid": h.cluster_id},
                   write_cache=WriteCache(HOST_WRITE_CACHE)),
        clusters=Pool(schema.cluster_pool, Cluster, "cluster", lambda c: {}),
        datastores=Pool(schema.datastore_pool, Datastore, "datastore", owner_columns),
        templates=Pool(schema.template_pool, VmTemplate, "virtual machine template",
                       owner_columns),
        vms=PolledPool(schema.vm_pool, VirtualMachine, "virtual machine",
                 lambda v: {**owner_columns(v), "state": v.state, "lcm_state": v.lcm_state},
                 short=short_body, write_cache=WriteCache(VM_WRITE_CACHE)),
        images=ImagePool(schema.image_pool, Image, "image",
                         lambda i: {**owner_columns(i), "state": i.state, "ds_id": i.datastore_id}),
        vnets=Pool(schema.network_pool, VirtualNetwork, "virtual network",
                   lambda n: {**owner_columns(n), "pid": int(n.parent_network_id or -1)},
                   short=vnet_short_body),
        vmgroups=Pool(schema.vmgroup_pool, VmGroup, "VM group", owner_columns),
        vntemplates=Pool(schema.vntemplate_pool, VnTemplate, "virtual network template",
                         owner_columns),
        secgroups=SecGroupPool(schema.secgroup_pool, SecurityGroup, "security group", owner_columns),
    )
