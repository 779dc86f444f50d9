"""A VM's last poll spliced into its stored bodies gives the bodies it would have had."""
from __future__ import annotations

import pytest

from nubo.api.wire import escape_text
from nubo.model import xmlobj
from nubo.model.vm import Lock
from nubo.model.vm_poll import with_poll, wire_with_poll
from nubo.model.vm_template import build_vm
from nubo.model.vmbody import short_body
from nubo.model.xmlobj import RawXml
from nubo.template import parse

POLL = ("<MONITORING><CPU>12.5</CPU><ID>4</ID><MEMORY>1024</MEMORY><NETRX>5</NETRX>"
        "<NETTX>6</NETTX><TIMESTAMP>1700000000</TIMESTAMP></MONITORING>")
LATER = POLL.replace("12.5", "99").replace("1700000000", "1700000060")


def _vm(locked: bool):
    # Names and template values that mimic the markers must not fool the splice.
    vm = build_vm(4, parse('NAME = "<LAST_POLL>1</LAST_POLL><MONITORING/>"\nCPU = 1\n'
                           'MEMORY = 64\nGRAPHICS = [ TYPE = "vnc", MONITORING = "x", '
                           'TEMPLATE = "<MONITORING>" ]\nMONITORING = "in the template"'),
                  uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=1)
    if locked:
        vm.lock = Lock(locked=1, owner=0, time=1, req_id=-1)
    return vm


def _renders(vm) -> tuple[str, str]:
    return xmlobj.render(vm, "VM"), short_body(vm)


@pytest.mark.parametrize("locked", [False, True])
def test_both_bodies_read_as_if_the_poll_were_stored(locked):
    vm = _vm(locked)
    stored = _renders(vm)
    vm.last_poll, vm.monitoring = 1700000000, RawXml(POLL)
    polled = _renders(vm)
    assert polled != stored
    for before, after in zip(stored, polled):
        assert with_poll(before, 1700000000, POLL) == after
        assert wire_with_poll(escape_text(before), 1700000000, escape_text(POLL)) == \
            escape_text(after)
    vm.last_poll, vm.monitoring = 1700000060, RawXml(LATER)
    for before, after in zip(polled, _renders(vm)):  # a body with a poll, polled again
        assert with_poll(before, 1700000060, LATER) == after
        assert wire_with_poll(escape_text(before), 1700000060, escape_text(LATER)) == \
            escape_text(after)
