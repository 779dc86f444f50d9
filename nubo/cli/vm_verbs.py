"""``nubo vm`` / ``onevm``: virtual machines and every life-cycle action."""
from __future__ import annotations

import argparse
from collections.abc import Callable

from nubo.cli import build
from nubo.cli.shared_verbs import (each, edit, list_verb, lock_verbs, owned, read_file,
                             show_verb, update_verb)
from nubo.cli.context import Context
from nubo.cli.error_output import UsageError
from nubo.cli.kinds import DATASTORE, HOST, IMAGE, VM, VNET, Kind
from nubo.cli.show import template_text
from nubo.cli.verbs import Arg, Noun, Verb, arg, flag, ref, refs
from nubo.cli.vm_view import COLUMNS, sections
from nubo.cli.wait import settle, target, wait_vm
from nubo.lifecycle.machine import RECOVER_OPERATIONS

Call = Callable[[Context, argparse.Namespace, int], None]
VMS = refs("VMs")


def acting(call: Call) -> Call:
    """Run a life-cycle call, then (with --wait) wait until the VM has settled."""
    def run(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
        call(ctx, a, vm_id)
        ctx.note(f"VM {vm_id}: {a.verb}")
        if getattr(a, "wait", False):
            seen = settle(ctx, vm_id, a.timeout)
            ctx.note(f"VM {vm_id}: {seen.short}")
    return run


def verb(name: str, help: str, example: str, call: Call,  # noqa: A002
         *args: Arg, one: bool = False) -> Verb:
    """A VM verb over a range of VMs (or one VM with ``one``) that can --wait."""
    target_arg = ref("id", "VM") if one else VMS
    run = each(VM, acting(call))
    if one:
        def run_one(ctx: Context, a: argparse.Namespace) -> None:
            acting(call)(ctx, a, ctx.resolve.one(VM, a.id))
        return Verb(name, help, example, run_one, (target_arg, *args), wait=True)
    return Verb(name, help, example, run, (target_arg, *args), wait=True)


def action(name: str, help: str, hard: str = "") -> Verb:  # noqa: A002
    """One of one.vm.action's actions; ``hard`` names what --hard does instead.
    With --schedule it becomes a SCHED_ACTION the core runs when due."""
    def call(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
        what = f"{name}-hard" if getattr(a, "hard", False) else name
        if a.schedule:
            ctx.conn.call("one.vm.schedadd", vm_id, f'SCHED_ACTION=[ACTION="{what}", '
                          f'TIME="{build.schedule_time(a.schedule)}"]')
        else:
            ctx.conn.call("one.vm.action", what, vm_id)
    extra = (flag("--hard", help=hard),) if hard else ()
    return verb(name, help, f"{{cmd}} {name} 3,5,7-9" + (" --hard" if hard else ""), call,
                *extra, arg("--schedule", metavar="TIME", help="do it later: an epoch, "
                            "+SECONDS after the VM started, or YYYY-MM-DD HH:MM"))


def _create(ctx: Context, a: argparse.Namespace) -> None:
    text = build.vm_template(a, read_file(a.file) if a.file else None)
    for i in range(a.multiple):
        body = text.replace("%i", str(i)) if a.multiple > 1 else text
        vm_id = ctx.conn.call("one.vm.allocate", body, a.hold)
        ctx.created(vm_id)
        if a.wait:
            settle(ctx, vm_id, a.timeout)


def _deploy(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    ds = ctx.resolve.one(DATASTORE, a.datastore) if a.datastore else -1
    ctx.conn.call("one.vm.deploy", vm_id, ctx.resolve.one(HOST, a.host), a.enforce, ds, "")


def _migrate(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    ds = ctx.resolve.one(DATASTORE, a.datastore) if a.datastore else -1
    kind = 2 if a.poweroff_hard else 1 if a.poweroff else 0
    ctx.conn.call("one.vm.migrate", vm_id, ctx.resolve.one(HOST, a.host), a.live, a.enforce,
                  ds, kind)


_RECOVER = {"failure": 0, "success": 1, "retry": 2, "delete": 3, "delete_recreate": 4}
assert set(RECOVER_OPERATIONS) == set(_RECOVER.values())  # the API's numbers, as oned's


def _recover(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    chosen = [op for op in _RECOVER if getattr(a, op)]
    if len(chosen) != 1:
        raise UsageError("recover needs exactly one of --success, --failure, --retry, "
                         "--delete, --delete-recreate")
    ctx.conn.call("one.vm.recover", vm_id, _RECOVER[chosen[0]])


def _delete(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    ctx.conn.call("one.vm.recover", vm_id, _RECOVER["delete"])


def _resize(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    if not (a.cpu or a.vcpu or a.memory):
        raise UsageError("resize needs --cpu, --vcpu or --memory")
    ctx.conn.call("one.vm.resize", vm_id, build.vm_template(a, None), a.enforce)


def _one_of(a: argparse.Namespace, what: str, **options: str | None) -> str:
    given = [k for k, v in options.items() if v]
    if len(given) != 1:
        raise UsageError(f"{what} needs one of " + ", ".join(f"--{k}" for k in options))
    return given[0]


def _attach(method: str, vector: str, option: str, kind: Kind, id_attr: str,
            extra: str, extra_attr: str) -> Call:
    """disk-attach / nic-attach: an object by id or name (plus one attribute), or a file."""
    def call(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
        if _one_of(a, f"{vector.lower()}-attach", **{option: getattr(a, option),
                                                      "file": a.file}) == "file":
            body = read_file(a.file)
        else:
            oid = ctx.resolve.one(kind, getattr(a, option))
            more = f",{extra_attr}={getattr(a, extra)}" if getattr(a, extra) else ""
            body = f"{vector}=[{id_attr}={oid}{more}]"
        ctx.conn.call(method, vm_id, body)
    return call


_disk_attach = _attach("one.vm.attach", "DISK", "image", IMAGE, "IMAGE_ID", "target", "TARGET")
_nic_attach = _attach("one.vm.attachnic", "NIC", "network", VNET, "NETWORK_ID", "ip", "IP")


def _updateconf(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
    if a.file:
        new = read_file(a.file)
    else:
        new = edit(template_text(ctx.conn.xml("one.vm.info", vm_id).find("TEMPLATE")),
                   f"VM {vm_id}")
        if new is None:
            return
    ctx.conn.call("one.vm.updateconf", vm_id, new, 1 if a.append else 0)


def _wait(ctx: Context, a: argparse.Namespace) -> None:
    done = target(a.state)
    for vm_id in ctx.resolve.many(VM, a.ids):
        seen = wait_vm(ctx, vm_id, done, a.state, a.timeout)
        ctx.note(f"VM {vm_id}: {seen.short}")


def _call(method: str, *names: str) -> Call:
    """``one.vm.<method>(id, a.<name>...)``."""
    def call(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
        ctx.conn.call(method, vm_id, *(getattr(a, n) for n in names))
    return call


def _call_file(method: str, *names: str) -> Call:
    """``one.vm.<method>(id, a.<name>..., the file's text)``."""
    def call(ctx: Context, a: argparse.Namespace, vm_id: int) -> None:
        ctx.conn.call(method, vm_id, *(getattr(a, n) for n in names), read_file(a.file))
    return call


_SCHED_ID = arg("sched_id", type=int, metavar="SCHED_ID", help="the scheduled action's id")
ENFORCE = flag("--enforce", help="refuse if the host lacks the capacity")
_HOST = arg("host", metavar="HOST", help="the host: id or name")
_DS = arg("datastore", nargs="?", metavar="DATASTORE", help="the system datastore (id or name)")

NOUN = Noun("vm", VM, (
    Verb("create", "create VMs from a template file and/or options",
         "{cmd} create --name web-1 --cpu 1 --memory 512M --disk ubuntu --nic private",
         _create, (build.FILE, *build.VM_OPTIONS, build.HOLD,
                   arg("-m", "--multiple", type=int, default=1, metavar="N",
                       help="create N VMs (%%i in the name becomes 0..N-1)")), wait=True),
    list_verb(VM, COLUMNS, "{cmd} list --filter STAT=runn --list ID,NAME,HOST"),
    show_verb(VM, sections),
    update_verb(VM, what="user template", path="USER_TEMPLATE"),
    *owned(VM),
    verb("delete", "delete VMs wherever they are (recover --delete)", "{cmd} delete 3,5",
         _delete),
    *lock_verbs(VM),
    verb("deploy", "deploy VMs on a host", "{cmd} deploy web-1 host-3", _deploy, _HOST, _DS,
         ENFORCE),
    verb("migrate", "move VMs to another host", "{cmd} migrate 3 host-2 --live", _migrate,
         _HOST, _DS, flag("--live", help="live migration (the VM keeps running)"), ENFORCE,
         flag("--poweroff", help="cold migration: shut the VM down instead of saving it"),
         flag("--poweroff-hard", help="cold migration: power the VM off hard")),
    action("hold", "hold pending VMs: the scheduler leaves them alone"),
    action("release", "release held VMs"),
    action("poweroff", "power VMs off (they stay on their host)", "power off hard"),
    action("suspend", "suspend VMs (memory saved on the host)"),
    action("resume", "resume stopped, suspended, powered-off or undeployed VMs"),
    action("stop", "stop VMs (saved and moved to the front-end)"),
    action("undeploy", "shut VMs down and move them to the front-end", "power off hard"),
    action("reboot", "reboot VMs", "reset instead of rebooting"),
    action("terminate", "shut VMs down and delete them", "destroy without a guest shutdown"),
    action("resched", "ask the scheduler to move VMs"),
    action("unresched", "clear the reschedule flag"),
    verb("recover", "recover VMs stuck in a state or failure", "{cmd} recover 3 --retry",
         _recover, flag("--success", help="carry on as if the pending operation had worked"),
         flag("--failure", help="carry on as if it had failed"),
         flag("--retry", help="send the failed operation again"),
         flag("--delete", help="clean up and finish the VM (from any state)"),
         flag("--delete-recreate", help="clean up and send the VM back to PENDING")),
    verb("resize", "change a VM's CPU and memory", "{cmd} resize 3 --cpu 2 --memory 2G",
         _resize, arg("--cpu", help="physical CPUs"), arg("--vcpu", help="virtual CPUs"),
         arg("--memory", help="memory: 512, 512M, 2G"), ENFORCE, one=True),
    verb("disk-attach", "attach a disk (an image, or a DISK in a file)",
         "{cmd} disk-attach 3 --image data", _disk_attach,
         arg("--image", help="image id or name"), arg("--target", help="target, e.g. vdb"),
         arg("--file", help="a file with DISK=[...]"), one=True),
    verb("disk-detach", "detach a disk", "{cmd} disk-detach 3 1", _call("one.vm.detach",
                                                                         "disk_id"),
         arg("disk_id", type=int, metavar="DISK_ID", help="the disk's DISK_ID"), one=True),
    verb("nic-attach", "attach a network interface", "{cmd} nic-attach 3 --network private",
         _nic_attach, arg("--network", help="virtual network id or name"),
         arg("--ip", help="ask for this address"), arg("--file", help="a file with NIC=[...]"),
         one=True),
    verb("nic-detach", "detach a network interface", "{cmd} nic-detach 3 1",
         _call("one.vm.detachnic", "nic_id"),
         arg("nic_id", type=int, metavar="NIC_ID", help="the interface's NIC_ID"), one=True),
    verb("snapshot-create", "take a VM snapshot", "{cmd} snapshot-create 3 before-upgrade",
         _call("one.vm.snapshotcreate", "name"),
         arg("name", nargs="?", default="", help="the snapshot's name"), one=True),
    verb("snapshot-revert", "go back to a VM snapshot", "{cmd} snapshot-revert 3 0",
         _call("one.vm.snapshotrevert", "snap_id"),
         arg("snap_id", type=int, metavar="SNAPSHOT_ID", help="the snapshot's id"), one=True),
    verb("snapshot-delete", "delete a VM snapshot", "{cmd} snapshot-delete 3 0",
         _call("one.vm.snapshotdelete", "snap_id"),
         arg("snap_id", type=int, metavar="SNAPSHOT_ID", help="the snapshot's id"), one=True),
    verb("updateconf", "change a VM's configuration (OS, CONTEXT, GRAPHICS...)",
         "{cmd} updateconf 3 conf.tmpl", _updateconf,
         arg("file", nargs="?", metavar="FILE", help="template file (default: $EDITOR)"),
         flag("-a", "--append", help="merge instead of replacing"), one=True),
    verb("sched-add", "add scheduled actions (SCHED_ACTION=[...] in a file)",
         "{cmd} sched-add 3 nightly.tmpl", _call_file("one.vm.schedadd"),
         arg("file", metavar="FILE", help="a file with SCHED_ACTION=[...] ('-': stdin)"),
         one=True),
    verb("sched-update", "change a scheduled action", "{cmd} sched-update 3 0 new.tmpl",
         _call_file("one.vm.schedupdate", "sched_id"), _SCHED_ID,
         arg("file", metavar="FILE", help="a file with SCHED_ACTION=[...] ('-': stdin)"),
         one=True),
    verb("sched-delete", "delete a scheduled action", "{cmd} sched-delete 3 0",
         _call("one.vm.scheddelete", "sched_id"), _SCHED_ID, one=True),
    Verb("wait", "wait until VMs reach a state (short or long name)",
         "{cmd} wait 3,5 runn --timeout 120", _wait,
         (VMS, arg("state", metavar="STATE", help="e.g. runn, poff, done, RUNNING"),
          arg("--timeout", type=float, default=300, metavar="SECONDS",
              help="give up after this long (default 300)"))),
))
