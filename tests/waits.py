"""Waiting for a condition instead of sleeping: the life-cycle moves on its own threads."""
from __future__ import annotations

import time
from collections.abc import Callable

# STATE / LCM_STATE numbers (docs/lifecycle.md).
PENDING, HOLD, ACTIVE, DONE, POWEROFF = 1, 2, 3, 6, 8
PROLOG, BOOT, RUNNING, BOOT_FAILURE, PROLOG_FAILURE = 1, 2, 3, 36, 39


def wait_for(what: str, probe: Callable[[], object], timeout: float = 20.0):
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def vm_state(one, vm_id: int) -> tuple[int, int]:
    vm = one.vm.info(vm_id)
    return vm.STATE, vm.LCM_STATE


def wait_state(one, vm_id: int, want: tuple[int, int], timeout: float = 20.0) -> None:
    """Wait until the VM is in (STATE, LCM_STATE) ``want``; the error shows the last seen."""
    seen: list[tuple[int, int]] = []

    def probe() -> bool:
        seen.append(vm_state(one, vm_id))
        return seen[-1] == want
    try:
        wait_for(f"VM {vm_id} in {want}", probe, timeout)
    except AssertionError:
        raise AssertionError(f"VM {vm_id} never reached {want}; last {seen[-1:]}") from None
