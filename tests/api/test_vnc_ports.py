"""VNC ports through pyone: a VM with GRAPHICS gets START + its id at deploy (oned's
VNC_PORTS), a port held by another VM of the cluster is refused, and a finished VM's
port is free again."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import ACTIVE, DONE, RUNNING, wait_state


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _vm(one, graphics: str = 'GRAPHICS = [ TYPE = "VNC", LISTEN = "0.0.0.0" ]') -> int:
    return one.vm.allocate(f'NAME = "{uniq("vnc")}"\nCPU = 0.1\nMEMORY = 16\n{graphics}', False)


def test_ports_are_given_per_cluster_and_freed(one):
    host = one.host.allocate(uniq("vnc-host"), "dummy", "dummy", -1)
    first, second = _vm(one), _vm(one)
    for vm in (first, second):
        one.vm.deploy(vm, host)
        wait_state(one, vm, (ACTIVE, RUNNING))
        assert int(one.vm.info(vm).TEMPLATE["GRAPHICS"]["PORT"]) == 5900 + vm
    # a PORT another VM of the cluster holds: refused, and nothing changes
    taken = str(5900 + first)
    clash = _vm(one, f'GRAPHICS = [ TYPE = "VNC", PORT = "{taken}" ]')
    with pytest.raises(pyone.OneActionException,
                       match="Requested VNC port already assigned to a VM"):
        one.vm.deploy(clash, host)
    assert one.vm.info(clash).STATE == 1  # still PENDING
    # freed when the holder is done
    one.vm.action("terminate-hard", first)
    wait_state(one, first, (DONE, 0))
    one.vm.deploy(clash, host)
    wait_state(one, clash, (ACTIVE, RUNNING))
    assert one.vm.info(clash).TEMPLATE["GRAPHICS"]["PORT"] == taken
    # no GRAPHICS: no port
    plain = _vm(one, "")
    one.vm.deploy(plain, host)
    wait_state(one, plain, (ACTIVE, RUNNING))
    assert "GRAPHICS" not in one.vm.info(plain).TEMPLATE
