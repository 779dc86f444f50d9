"""Network drivers (OpenNebula's vnm): a VM's bridges, VLANs, taps and security groups.

One call per step, for one VM on the host the call runs on (or inside a network
namespace of it, as the tests do)::

    from nubo.drivers import vnm
    vnm.run("pre", vm_xml)                 # before boot: bridges, VLAN interfaces
    vnm.run("post", vm_xml)                # after boot: taps plugged, security groups
    vnm.run("clean", vm_xml)               # after shutdown: rules, taps, unused bridges
    vnm.run("attach_nic", vm_xml, nic_id=2)   # hotplug (no nic_id: the NIC with ATTACH=YES)
    vnm.run("detach_nic", vm_xml, nic_id=2)

or ``python -m nubo.drivers.vnm STEP [--netns NS] [--nic-id N] < vm.xml``. VN_MADs
``bridge``, ``802.1Q`` and ``dummy``; a failure raises VnmError (the CLI: exit 1 and the
message on stderr), with what was already set up left for ``clean`` to remove.
"""
from __future__ import annotations

from nubo.drivers.vnm import steps
from nubo.drivers.vnm.host import Host
from nubo.drivers.vnm.nics import VmNetwork, VnmError, parse_vm

STEPS = ("pre", "post", "clean", "attach_nic", "detach_nic")


def run(step: str, vm_xml: str | bytes, netns: str | None = None,
        nic_id: int | None = None) -> VmNetwork:
    """Run ``step`` for the VM of ``vm_xml``; answers the VM's parsed network."""
    if step not in STEPS:
        raise VnmError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    vm = parse_vm(vm_xml)
    host = Host(netns)
    if step in ("attach_nic", "detach_nic"):
        if nic_id is None:
            attached = [n.nic_id for n in vm.nics if n.attach]
            if len(attached) != 1:
                raise VnmError(f"{step}: give the NIC_ID (VM {vm.vm_id} has "
                               f"{len(attached)} NIC(s) with ATTACH = YES)")
            nic_id = attached[0]
        getattr(steps, step)(host, vm, nic_id)
    else:
        getattr(steps, step)(host, vm)
    return vm


__all__ = ["run", "STEPS", "VnmError", "VmNetwork", "parse_vm"]
