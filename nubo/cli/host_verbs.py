"""``nubo host`` / ``onehost``: hosts, their state and their capacity."""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from nubo.cli import units
from nubo.cli.shared_verbs import (delete_verb, list_verb, rename_verb, show_verb, simple,
                             update_verb)
from nubo.cli.context import Context
from nubo.cli.error_output import CliError
from nubo.cli.kinds import CLUSTER, HOST
from nubo.cli.show import ID, NAME, Section, col, state_colour, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, refs

Element = etree._Element
SYNC_AT_ONCE = 8  # hosts synced at once by ``host sync``

# Host::HostState and the OCA's SHORT_HOST_STATES.
STATES = ("INIT", "MONITORING_MONITORED", "MONITORED", "ERROR", "DISABLED",
          "MONITORING_ERROR", "MONITORING_INIT", "MONITORING_DISABLED", "OFFLINE")
SHORT = ("init", "update", "on", "err", "dsbl", "retry", "init", "dsbl", "off")


def _state(el: Element, names: tuple[str, ...]) -> str:
    try:
        return names[int(text(el, "STATE", "0"))]
    except (ValueError, IndexError):
        return text(el, "STATE")


def _int(el: Element, path: str) -> int:
    try:
        return int(text(el, path, "0") or 0)
    except ValueError:
        return 0


def allocated(el: Element, what: str) -> str:
    """``CPU_USAGE / MAX_CPU (pct%)``, memory in human units, as onehost list."""
    used, most = _int(el, f"HOST_SHARE/{what}_USAGE"), _int(el, f"HOST_SHARE/MAX_{what}")
    pct = f"{100 * used // most}%" if most else "-"
    if what == "MEM":
        return f"{units.size(used)} / {units.size(most)} ({pct})"
    return f"{used} / {most} ({pct})"


COLUMNS = (
    ID, NAME, Column("CLUSTER", lambda e: text(e, "CLUSTER"), shrink=True),
    Column("RVM", lambda e: text(e, "HOST_SHARE/RUNNING_VMS", "0"),
           key=lambda e: _int(e, "HOST_SHARE/RUNNING_VMS"), right=True),
    Column("ALLOCATED_CPU", lambda e: allocated(e, "CPU"),
           key=lambda e: _int(e, "HOST_SHARE/CPU_USAGE"), right=True),
    Column("ALLOCATED_MEM", lambda e: allocated(e, "MEM"),
           key=lambda e: _int(e, "HOST_SHARE/MEM_USAGE"), right=True),
    Column("STAT", lambda e: _state(e, SHORT), colour=state_colour),
    col("IM", "IM_MAD", hidden=True), col("VM", "VM_MAD", hidden=True),
    Column("STATE", lambda e: _state(e, STATES), hidden=True),
)


def sections(el: Element) -> list[Section]:
    hid = text(el, "ID")
    vms = [v.text or "" for v in el.findall("VMS/ID")]
    return [
        Section(f"HOST {hid} INFORMATION", [
            ("ID", hid), ("NAME", text(el, "NAME")), ("CLUSTER", text(el, "CLUSTER")),
            ("STATE", _state(el, STATES)), ("IM_MAD", text(el, "IM_MAD")),
            ("VM_MAD", text(el, "VM_MAD")),
            ("LAST MONITORING TIME", units.date(text(el, "MONITORING/TIMESTAMP", "0")))]),
        Section("HOST SHARES", [
            ("RUNNING VMS", text(el, "HOST_SHARE/RUNNING_VMS", "0")),
            ("ALLOCATED CPU", allocated(el, "CPU")), ("ALLOCATED MEMORY", allocated(el, "MEM")),
            ("TOTAL CPU", text(el, "HOST_SHARE/TOTAL_CPU", "0")),
            ("TOTAL MEMORY", units.size(_int(el, "HOST_SHARE/TOTAL_MEM")))]),
        _monitoring(el),
        template(el, "TEMPLATE", "HOST TEMPLATE"),
        Section("VIRTUAL MACHINES", [("IDS", ", ".join(vms))] if vms else []),
    ]


def _monitoring(el: Element) -> Section:
    """The last probe (the host's MONITORING): what the host itself reported."""
    if el.find("MONITORING/TIMESTAMP") is None:
        return Section("HOST MONITORING", [])
    return Section("HOST MONITORING", [
        ("PROBED AT", units.date(text(el, "MONITORING/TIMESTAMP", "0"))),
        ("USED CPU", text(el, "MONITORING/CAPACITY/USED_CPU", "0")),
        ("FREE CPU", text(el, "MONITORING/CAPACITY/FREE_CPU", "0")),
        ("USED MEMORY", units.size(_int(el, "MONITORING/CAPACITY/USED_MEMORY"))),
        ("FREE MEMORY", units.size(_int(el, "MONITORING/CAPACITY/FREE_MEMORY"))),
        ("NET RX", units.size(_int(el, "MONITORING/SYSTEM/NETRX") / 1024)),
        ("NET TX", units.size(_int(el, "MONITORING/SYSTEM/NETTX") / 1024))])


def _create(ctx: Context, a: argparse.Namespace) -> None:
    cluster = ctx.resolve.one(CLUSTER, a.cluster) if a.cluster else -1
    ctx.created(ctx.conn.call("one.host.allocate", a.name, a.im, a.vm, cluster))


def _flush(ctx: Context, a: argparse.Namespace) -> None:
    """Disable the hosts and ask the scheduler to move their VMs elsewhere (resched)."""
    failed = 0
    for hid in ctx.resolve.many(HOST, a.ids):
        ctx.conn.call("one.host.status", hid, 1)
        for vm in ctx.conn.xml("one.host.info", hid).findall("VMS/ID"):
            try:
                ctx.conn.call("one.vm.action", "resched", int(vm.text or -1))
                ctx.note(f"host {hid}: VM {vm.text} rescheduled")
            except CliError as e:
                failed += 1
                ctx.stderr.write(f"host {hid}: VM {vm.text}: {e.message}\n")
    if failed:
        raise CliError(f"{failed} VMs could not be rescheduled")


def _sync(ctx: Context, a: argparse.Namespace) -> None:
    """Copy the kvm drivers' remote parts (the probe) to the hosts, as onehost sync: the
    named ones, else every host whose VM_MAD or IM_MAD is kvm; one line per host."""
    from nubo.drivers.kvm import remote
    pool = ctx.resolve.pool(HOST)
    by_id = {text(h, "ID"): h for h in pool.iterfind("HOST")}
    if a.hosts:
        chosen = [by_id.get(str(ctx.resolve.one(HOST, ref))) for ref in a.hosts]
        missing = [ref for ref, h in zip(a.hosts, chosen) if h is None]
        if missing:
            raise CliError(f"no such host: {', '.join(missing)}")
    else:
        chosen = [h for h in by_id.values() if "kvm" in (text(h, "VM_MAD"), text(h, "IM_MAD"))]
        if not chosen:
            ctx.out("no host has VM_MAD or IM_MAD kvm: nothing to sync")
            return
    cfg = remote.settings()
    cfg = remote.Settings(a.remote_dir or cfg.remote_dir, a.ssh or cfg.ssh, cfg.python,
                          cfg.uri, cfg.window, cfg.timeout)
    chosen.sort(key=lambda h: int(text(h, "ID", "0")))

    def one(host: Element) -> str | None:
        try:
            remote.sync(text(host, "NAME"), cfg)
        except remote.RemoteError as e:
            return str(e)
        return None
    failed = 0
    # A few at once (ssh connections take most of the time), reported in id order.
    with ThreadPoolExecutor(SYNC_AT_ONCE) as pool:
        for host, error in zip(chosen, pool.map(one, chosen)):
            name, hid = text(host, "NAME"), text(host, "ID")
            if error is None:
                ctx.out(f"host {hid} ({name}): synced {len(remote.REMOTE_FILES)} file(s) "
                        f"to {cfg.remote_dir}")
            else:
                failed += 1
                ctx.stderr.write(f"host {hid} ({name}): sync failed: {error}\n")
                ctx.stderr.flush()
    if failed:
        raise CliError(f"{failed} of {len(chosen)} host(s) could not be synced")


NOUN = Noun("host", HOST, (
    Verb("create", "add a host, with its information and virtualization drivers",
         "{cmd} create host-3 --im dummy --vm dummy -c production", _create,
         (arg("name", help="the host's name (its hostname)"),
          arg("-i", "--im", required=True, metavar="DRIVER", help="information driver (IM_MAD)"),
          arg("--vm", "--vmm", "-v", dest="vm", required=True, metavar="DRIVER",
              help="virtualization driver (VM_MAD)"),
          arg("-c", "--cluster", help="the cluster to add it to (id or name)"))),
    list_verb(HOST, COLUMNS, "{cmd} list --filter STAT=on"),
    show_verb(HOST, sections),
    update_verb(HOST), rename_verb(HOST), delete_verb(HOST),
    simple(HOST, "enable", "enable hosts: the scheduler may use them again", "status", 0),
    simple(HOST, "disable", "disable hosts: no new VMs, monitoring goes on", "status", 1),
    simple(HOST, "offline", "take hosts offline: no VMs, no monitoring", "status", 2),
    Verb("flush", "disable hosts and reschedule their VMs elsewhere", "{cmd} flush host-3",
         _flush, (refs("hosts"),)),
    Verb("sync", "copy the drivers' remote parts (the kvm probe) to the hosts again",
         "{cmd} sync host-3 host-4", _sync,
         (arg("hosts", nargs="*", metavar="HOST",
              help="hosts (ids or names); default: every host with kvm drivers"),
          arg("--remote-dir", metavar="DIR",
              help="where on the hosts (default: $NUBO_KVM_REMOTE_DIR or "
                   "/var/tmp/nubo/remotes)"),
          arg("--ssh", metavar="COMMAND", help="the ssh command line the host's name is "
              "appended to (default: $NUBO_KVM_SSH or ssh -o BatchMode=yes)"))),
))
