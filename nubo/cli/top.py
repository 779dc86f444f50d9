"""``nubo top``: a live view of the VMs (and hosts), refreshed until Ctrl-C."""
from __future__ import annotations

import argparse

from nubo.cli.context import Context
from nubo.cli.kinds import HOST, VM
from nubo.cli.live import watch
from nubo.cli.tables import TableOptions, render
from nubo.cli.verbs import Verb, arg


def _frame(ctx: Context) -> str:
    from nubo.cli import host_verbs as host_view, vm_view  # only when top runs: start-up stays quick
    opts = TableOptions(width=ctx.width, colour=ctx.colour)
    hosts = ctx.conn.xml(HOST.pool, *HOST.pool_args).findall(HOST.tag)
    vms = ctx.conn.xml(VM.pool, *VM.pool_args).findall(VM.tag)
    return (f"HOSTS ({len(hosts)})\n" + render(hosts, host_view.COLUMNS, opts) +
            f"\nVMS ({len(vms)})\n" + render(vms, vm_view.COLUMNS, opts))


def _top(ctx: Context, a: argparse.Namespace) -> None:
    watch(ctx, lambda: _frame(ctx), a.delay, a.count)


TOP = Verb("top", "a live view of hosts and VMs", "{cmd} top --delay 5", _top,
           (arg("--delay", type=float, default=2.0, metavar="SECONDS",
                help="refresh interval (default 2)"),
            arg("--count", type=int, metavar="N", help="stop after N frames")))
