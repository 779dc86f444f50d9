"""The network driver's steps around the kvm driver's actions, on the VM's host.

OpenNebula's vmm/kvm actions call the VM's vnm driver: ``pre`` before the domain starts
(bridges, VLAN interfaces: libvirt plugs the taps into the bridge, which must exist),
``post`` once it runs (taps up, security groups as nftables rules), ``clean`` after it
stopped or left the host, ``attach_nic``/``detach_nic`` on hotplug. On this machine the
steps run in-process (nubo.drivers.vnm); on another host, the host's copy of the
network driver (``vnm.pyz`` in the remote directory, copied there on first use as the
probe is; or ``--vnm-command``) with the VM's body on stdin. A VM whose NICs name
no VN_MAD has nothing to wire.
"""
from __future__ import annotations

import shlex

from nubo.drivers import vnm
from nubo.drivers.kvm import remote
from nubo.drivers.kvm.call import ActionError, Call


def _wired(c: Call) -> bool:
    return any((nic.findtext("VN_MAD") or "").strip()
               for nic in c.vm.iterfind("TEMPLATE/NIC"))


def step(c: Call, name: str, host: str | None = None, nic_id: int | None = None) -> None:
    """Run network step ``name`` for the call's VM on ``host`` (default: the call's);
    ActionError with the network driver's message when it fails."""
    host = host or c.host
    if not _wired(c):
        return
    if c.hosts.is_local(host):
        try:
            vnm.run(name, c.req.payload, nic_id=nic_id)
        except vnm.VnmError as e:
            raise ActionError(f"network driver {name} on {host}: {e}") from None
        return
    argv = [*shlex.split(c.options.vnm_command or remote.vnm_command()), name]
    if nic_id is not None:
        argv += ["--nic-id", str(nic_id)]
    payload = c.req.payload.decode("utf-8", "replace")
    done = c.hosts.run(host, argv, stdin=payload)
    if not c.options.vnm_command and remote.missing_remote_file(done):
        try:
            remote.sync(host)  # first use of this host
        except remote.RemoteError as e:
            raise ActionError(f"network driver {name} on {host}: {e}") from None
        done = c.hosts.run(host, argv, stdin=payload)
    if done.returncode != 0:
        raise ActionError(f"network driver {name} on {host}: "
                          f"{done.stderr.strip() or f'exit {done.returncode}'}")


def clean(c: Call, host: str | None = None) -> None:
    """``clean`` whose failure is only logged: the VM is already gone from the host, and
    a leftover bridge must not turn a finished shutdown into a failed one."""
    try:
        step(c, "clean", host)
    except ActionError as e:
        c.log("W", str(e))
