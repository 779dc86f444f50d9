"""What a host probe means for each VM (nubo.core.vm_monitor), without a server."""
from __future__ import annotations

import pytest

from nubo.core import vm_monitor as vmm
from nubo.template import parse
from xsd import assert_valid

ACTIVE, SUSPENDED, POWEROFF = 3, 5, 8
RUNNING, UNKNOWN, BOOT, SHUTDOWN = 3, 16, 2, 12
NOW = 1_000_000


def watched(state: int, lcm: int = 0, stopped_at: int = 0) -> vmm.Watched:
    return vmm.Watched(7, 1, state, lcm, stopped_at)


RUNS = vmm.parse_poll("STATE=a CPU=50 MEMORY=65536 NETRX=0 NETTX=0")


@pytest.mark.parametrize("vm, poll, event", [
    # gone or off: POWEROFF (oned 6's MISSING_STATE); failed: UNKNOWN
    (watched(ACTIVE, RUNNING), None, "vm-poweroff"),
    (watched(ACTIVE, RUNNING), vmm.parse_poll("STATE=d"), "vm-poweroff"),
    (watched(ACTIVE, RUNNING), vmm.parse_poll("STATE=e"), "vm-missing"),
    (watched(ACTIVE, UNKNOWN), vmm.parse_poll("STATE=e"), None),
    (watched(ACTIVE, RUNNING), RUNS, None),
    (watched(ACTIVE, RUNNING), vmm.parse_poll("STATE=p"), "vm-suspended"),
    (watched(ACTIVE, UNKNOWN), RUNS, "vm-running"),
    (watched(ACTIVE, UNKNOWN), None, "vm-poweroff"),  # its host is back without it
    (watched(POWEROFF, 0, stopped_at=NOW - 60), RUNS, "vm-running"),
    (watched(POWEROFF, 0, stopped_at=NOW - 5), RUNS, None),  # within the grace
    (watched(SUSPENDED, 0, stopped_at=NOW - 60), RUNS, "vm-running"),
    (watched(POWEROFF, 0), None, None),
    (watched(ACTIVE, BOOT), None, None),  # transient states wait for their driver
    (watched(ACTIVE, SHUTDOWN), None, None),
])
def test_the_event_a_probe_means(vm, poll, event):
    assert vmm.event_for(vm, poll, NOW) == event


def test_a_host_in_error_makes_only_running_vms_unknown():
    assert vmm.host_error_event(watched(ACTIVE, RUNNING)) == "host-error"
    assert vmm.host_error_event(watched(ACTIVE, UNKNOWN)) is None
    assert vmm.host_error_event(watched(POWEROFF)) is None


def test_the_probe_lists_vms_with_their_poll():
    figures = parse('TOTALCPU="800"\nVM=[ID="3",DEPLOY_ID="one-3",POLL="STATE=a CPU=12 '
                    'MEMORY=1024 NETRX=5 NETTX=6"]\nVM=[ID="x",POLL="STATE=a"]\n'
                    'VM=[ID="4",DEPLOY_ID="one-4",POLL="STATE=d"]\n')
    listed = vmm.listed_vms(figures)
    assert set(listed) == {3, 4}
    assert listed[3].state == "a" and listed[3].figures["CPU"] == "12"
    assert listed[4].state == "d"


def test_records_follow_monitoring_data_xsd():
    vm = vmm.vm_record(3, vmm.parse_poll("STATE=a CPU=12.5 MEMORY=1024 NETRX=5 NETTX=6"), NOW)
    assert vm == ("<MONITORING><CPU>12.5</CPU><ID>3</ID><MEMORY>1024</MEMORY><NETRX>5</NETRX>"
                  f"<NETTX>6</NETTX><TIMESTAMP>{NOW}</TIMESTAMP></MONITORING>")
    host = vmm.host_record(1, parse('USEDCPU="150"\nUSEDMEMORY="2048"\nNETRX="1"'), NOW)
    assert "<CPU>150</CPU>" in host and "<NETTX>0</NETTX>" in host
    broken = vmm.vm_record(3, vmm.parse_poll("STATE=a CPU=lots MEMORY=nan NETRX=inf"), NOW)
    assert "<CPU>" not in broken and "<MEMORY>" not in broken and "<NETRX>" not in broken
    assert_valid(f"<MONITORING_DATA>{vm}{host}{broken}</MONITORING_DATA>",
                 "monitoring_data.xsd")
