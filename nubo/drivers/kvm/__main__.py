"""``python -m nubo.drivers.kvm [options]``: the kvm virtualization driver on stdin/stdout.

Actions of one VM run in the order they came (a SHUTDOWN waits for the DEPLOY before
it); POLL and MONITOR run at once, whatever else is under way.
"""
from __future__ import annotations

import argparse
import os
import sys

from nubo.drivers import threaded
from nubo.drivers.kvm import remote
from nubo.drivers.kvm.hosts import LOCAL_URI, REMOTE_COMMAND, REMOTE_URI, Hosts
from nubo.drivers.kvm.vmm import Options, Vmm

#: What works and is declared in the INIT answer (nubo/drivers/capabilities.py).
#: disk-snapshots: DISKSNAPSHOTCREATE of a running VM (revert and delete go to the
#: transfer driver, as in OpenNebula).
CAPABILITIES = ("live-resize", "live-nic-attach", "cold-nic-attach", "live-disk-attach",
                "cold-disk-attach", "live-migration", "cold-migration", "snapshots",
                "disk-snapshots", "save-restore", "disk-resize")
_AT_ONCE = frozenset({"POLL", "MONITOR"})


def _env_defaults() -> tuple[str, str]:
    """The local URI and remote command ``nubo serve`` gives the kvm drivers in their
    environment (NUBO_KVM_URI, NUBO_KVM_SSH: the ssh command the host name follows)."""
    ssh = os.environ.get("NUBO_KVM_SSH", "").strip()
    return (os.environ.get("NUBO_KVM_URI", "").strip() or LOCAL_URI,
            f"{ssh} {{host}}" if ssh else REMOTE_COMMAND)


def _parser() -> argparse.ArgumentParser:
    local_uri, remote_command = _env_defaults()
    ap = argparse.ArgumentParser(
        prog="python -m nubo.drivers.kvm",
        description="nubo's kvm virtualization driver: runs VMs as libvirt domains "
        "(one-<ID>) on KVM/QEMU hosts. Actions: DEPLOY, SHUTDOWN, CANCEL, CLEANUP, SAVE, "
        "RESTORE, REBOOT, RESET, POLL, MIGRATE (live), ATTACHDISK, DETACHDISK, ATTACHNIC, "
        "DETACHNIC, SNAPSHOTCREATE, SNAPSHOTREVERT, SNAPSHOTDELETE, DISKSNAPSHOTCREATE, "
        "RESIZE, RESIZEDISK, "
        "UPDATECONF, "
        "UPDATESG, MONITOR (with nubo.drivers.kvm.probe). Speaks the driver protocol of "
        "docs/drivers.md on stdin/stdout.")
    ap.add_argument("--uri", default=REMOTE_URI, metavar="TEMPLATE",
                    help="libvirt URI of a remote host, {host} its name (default: %(default)s)")
    ap.add_argument("--local-uri", default=local_uri, metavar="URI",
                    help="libvirt URI of this machine, named localhost, by its host name or "
                    "by --local-name (default: $NUBO_KVM_URI, else %(default)s)")
    ap.add_argument("--local-name", action="append", default=[], metavar="NAME",
                    help="another name of this machine (repeatable)")
    ap.add_argument("--remote-command", default=remote_command, metavar="TEMPLATE",
                    help="how to run a command on a remote host, for the VM's directory, its "
                    "checkpoint and the KVM probe (default: '$NUBO_KVM_SSH {host}', else "
                    "%(default)s)")
    ap.add_argument("--datastore-location", default="/var/lib/one/datastores", metavar="DIR",
                    help="where the hosts keep the system datastores: a VM's files are in "
                    "DIR/<system DS_ID>/<VM ID>/ (default: %(default)s)")
    ap.add_argument("--shutdown-timeout", type=float, default=300.0, metavar="S",
                    help="seconds a guest has to power off after the ACPI button; a VM's "
                    "SHUTDOWN_TIMEOUT attribute overrides it (default: %(default)s)")
    ap.add_argument("--shutdown-destroy", default="true", choices=("true", "false"),
                    help="destroy a domain still running after the timeout (true) or fail the "
                    "SHUTDOWN (false) (default: %(default)s)")
    ap.add_argument("--domain-type", default="auto", choices=("auto", "kvm", "qemu"),
                    help="libvirt domain type: kvm, qemu (TCG emulation), or auto: kvm where "
                    "a probe run on the host shows KVM really executes guests at speed, "
                    "else qemu (default: %(default)s)")
    ap.add_argument("--emulator", default="", metavar="PATH",
                    help="the emulator binary (default: libvirt's for the domain type)")
    ap.add_argument("--migrate-uri", default="tcp://{host}", metavar="TEMPLATE",
                    help="where the source QEMU sends a live migration, {host} the "
                    "destination's name (default: %(default)s)")
    ap.add_argument("--vnm-command", default="", metavar="COMMAND",
                    help="the network driver (bridges, VLANs, security groups) on a remote "
                    "host, run through --remote-command with the step and the VM's body on "
                    "stdin; on this machine it runs in-process (default: the host's copy of "
                    "vnm.pyz in $NUBO_KVM_REMOTE_DIR, copied there on first use and by "
                    "'nubo host sync')")
    ap.add_argument("--qemu-user", default="self", metavar="self|libvirt|UID:GID",
                    help="who QEMU runs as: self, this driver's own user (as OpenNebula runs "
                    "it as oneadmin: the VMs' files are nubo's and private to it), libvirt "
                    "(qemu.conf's user, files relabelled), or numeric UID:GID "
                    "(default: %(default)s)")
    ap.add_argument("--migrate-local-name", default="", metavar="NAME",
                    help="this machine's name or address as other hosts reach it, for a "
                    "live migration to it (default: its libvirt host name)")
    ap.add_argument("--workers", type=int, default=16, help="actions run at once")
    return ap


def _qemu_user(value: str) -> str:
    if value == "self":
        return f"{os.getuid()}:{os.getgid()}"
    if value == "libvirt":
        return ""
    uid, sep, gid = value.partition(":")
    if not (sep and uid.isdigit() and gid.isdigit()):
        raise SystemExit(f"--qemu-user must be self, libvirt or UID:GID, got {value!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = {*remote.own_names(), *args.local_name}
    hosts = Hosts(names, args.uri, args.local_uri, args.remote_command, args.domain_type)
    vmm = Vmm(hosts, Options(datastore_location=args.datastore_location,
                             shutdown_timeout=args.shutdown_timeout,
                             shutdown_destroy=args.shutdown_destroy == "true",
                             emulator=args.emulator, migrate_uri=args.migrate_uri,
                             vnm_command=args.vnm_command,
                             qemu_user=_qemu_user(args.qemu_user),
                             migrate_local_name=args.migrate_local_name))
    try:
        return threaded.serve(
            vmm.handle, *threaded.protocol_pipes(), name="kvm", workers=args.workers,
            order_key=lambda r: None if r.action in _AT_ONCE else r.oid,
            init_info=f"CAPABILITIES={','.join(CAPABILITIES)}")
    finally:
        hosts.close()


if __name__ == "__main__":
    sys.exit(main())
