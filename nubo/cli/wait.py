"""Waiting for VMs to reach a state: ``nubo vm wait`` and ``--wait`` on actions.

Polls ``one.vm.info`` (the API has no push channel); a progress line goes to
stderr, only when stderr is a terminal, so scripts see nothing but the result.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nubo.cli.context import Context
from nubo.cli.error_output import CliError, UsageError
from nubo.lifecycle.states import (FAILURE_LCM_STATES, SHORT_LCM_NAMES, SHORT_STATE_NAMES,
                                   TRANSIENT_LCM_STATES, LcmState, VmState, short_name,
                                   state_str)

_WAITING_STATES = frozenset({VmState.INIT, VmState.CLONING})
SHORT_NAMES = sorted({*SHORT_STATE_NAMES.values(), *SHORT_LCM_NAMES.values()} - {"", "actv"})


@dataclass(frozen=True)
class Seen:
    state: int
    lcm: int
    error: str

    @property
    def short(self) -> str:
        return short_name(self.state, self.lcm)

    @property
    def long(self) -> str:
        return state_str(self.state, self.lcm)

    @property
    def settled(self) -> bool:
        """Not waiting for a driver: the VM stays as it is until someone acts."""
        if self.state == VmState.ACTIVE:
            return LcmState(self.lcm) not in TRANSIENT_LCM_STATES
        return VmState(self.state) not in _WAITING_STATES

    @property
    def failed(self) -> bool:
        return (self.state == VmState.ACTIVE and LcmState(self.lcm) in FAILURE_LCM_STATES) or \
            self.state == VmState.CLONING_FAILURE


def target(name: str) -> Callable[[Seen], bool]:
    """What ``nubo vm wait ID NAME`` waits for: a short (runn) or long (RUNNING) name."""
    want = name.strip()
    names = {s.name for s in VmState} | {s.name for s in LcmState}
    if want.lower() in SHORT_NAMES:
        return lambda seen: seen.short == want.lower()
    if want.upper() in names:
        return lambda seen: seen.long == want.upper() or (
            want.upper() in VmState.__members__ and VmState(seen.state).name == want.upper())
    raise UsageError(f"unknown VM state '{name}': a short name ({', '.join(SHORT_NAMES)}) "
                     "or a STATE/LCM_STATE name such as RUNNING")


def look(ctx: Context, vm_id: int) -> Seen:
    el = ctx.conn.xml("one.vm.info", vm_id)
    return Seen(int(el.findtext("STATE") or 0), int(el.findtext("LCM_STATE") or 0),
                el.findtext("USER_TEMPLATE/ERROR") or "")


def wait_vm(ctx: Context, vm_id: int, done: Callable[[Seen], bool], what: str,
            timeout: float) -> Seen:
    """Poll until ``done``; a failure state (unless waited for) or the timeout is an error."""
    progress = ctx.stderr.isatty()
    start = time.monotonic()
    delay = 0.05
    while True:
        seen = look(ctx, vm_id)
        elapsed = time.monotonic() - start
        if progress:
            ctx.stderr.write(f"\rVM {vm_id}: {seen.short:<4} waiting for {what} "
                             f"({elapsed:.0f}s)\x1b[K")
            ctx.stderr.flush()
        if done(seen):
            break
        if seen.state == VmState.DONE:
            _end(ctx, progress)
            raise CliError(f"VM {vm_id} is DONE: it will never reach {what}")
        if seen.failed:
            _end(ctx, progress)
            detail = f": {seen.error}" if seen.error else ""
            raise CliError(f"VM {vm_id} failed ({seen.long}) while waiting for {what}{detail}")
        if elapsed > timeout:
            _end(ctx, progress)
            raise CliError(f"VM {vm_id} did not reach {what} within {timeout:g}s "
                           f"(now {seen.long})")
        time.sleep(delay)  # polling the API: there is no event to wait on
        delay = min(delay * 1.5, 1.0)
    _end(ctx, progress)
    return seen


def _end(ctx: Context, progress: bool) -> None:
    if progress:
        ctx.stderr.write("\r\x1b[K")
        ctx.stderr.flush()


def settle(ctx: Context, vm_id: int, timeout: float) -> Seen:
    """``--wait``: until the VM is no longer in a transient state; failing there is an error."""
    seen = wait_vm(ctx, vm_id, lambda s: s.settled, "the action to finish", timeout)
    if seen.failed:
        detail = f": {seen.error}" if seen.error else ""
        raise CliError(f"VM {vm_id} ended in {seen.long}{detail}")
    return seen
