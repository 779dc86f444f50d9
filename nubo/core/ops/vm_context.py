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
from nubo.context.resolve import (ContextError, Resolver, nics_of, parse_context,
                                  token_context)
from nubo.core import context_sources
from nubo.core.context_sources import CloudSources
from nubo.core.ops.call import Call
from nubo.core.ops.common import authorize, object_auth
from nubo.core.ops.images import IMAGE
from nubo.model.resources import Image
from nubo.model.vm import VirtualMachine
from nubo.model.vm_template import VmTemplateError
from nubo.template import VectorAttribute


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
        parse_context(vm, sources(call, conn, vm),
                      getattr(call.cloud.config, "onegate_endpoint", ""))
    except ContextError as e:
        raise VmTemplateError(str(e)) from None


def refresh_network(call: Call, conn: Connection, vm: VirtualMachine,
                    leaving: VectorAttribute | None = None) -> None:
    """The ETHn_* of a VM whose NICs changed (``leaving``: a NIC being detached)."""
    context_sources.refresh_network(call.cloud.pools, conn, vm, leaving)


def sources(call: Call, conn: Connection, vm: VirtualMachine) -> CloudSources:
    """The cloud as the caller's CONTEXT sees it: USE needed on FILES_DS images."""
    def check_use(image: Image) -> None:
        authorize(call, A.USE, object_auth(IMAGE, image), IMAGE.acl_name)
    return CloudSources(call.cloud.pools, conn, vm, check_use)


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
    resolver = Resolver(vm, sources(call, conn, vm))
    try:
        for key, value in list(context.items()):
            if "$" in value and (before is None or before.get(key) != value):
                context.set(key, resolver.substitute(key, value))
    except ContextError as e:
        raise VmTemplateError(str(e)) from None
    apply_network(context, nics_of(vm), resolver.network_of_nic)
    if (context.get("TOKEN") or "").strip().upper() == "YES":
        token_context(vm, context, getattr(call.cloud.config, "onegate_endpoint", ""))
