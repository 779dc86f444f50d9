"""Absurd numbers get a clear error naming them, and change nothing (issue 9, item 9).

Every value the hostile review used: MEMORY=2**63, CPU=1e308, VCPU=99999999999999999999,
a volatile DISK of SIZE=-100, NIC=[NETWORK_ID=99999999999999999999], one.vm.deploy with
ds_id=-99 (what a driver reports: tests/integration/test_host_monitoring.py).
"""
from __future__ import annotations

import uuid
import urllib.request

import pyone
import pytest

from waits import HOLD

SMALL = "CPU = 0.1\nMEMORY = 64\n"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def user(plain_user):
    return plain_user[1]


def vm_ids(one) -> list[int]:
    return sorted(vm.ID for vm in one.vmpool.info(-2, -1, -1, -2).VM)


ABSURD = [
    (f"CPU = 0.1\nMEMORY = {2**63}", "MEMORY"),
    ("CPU = 1e308\nMEMORY = 64", "CPU"),
    (SMALL + "VCPU = 99999999999999999999", "VCPU"),
    (SMALL + 'DISK = [ TYPE = "fs", SIZE = -100 ]', "DISK/SIZE"),
    (SMALL + "NIC = [ NETWORK_ID = 99999999999999999999 ]", "NIC/NETWORK_ID"),
    (SMALL + "DISK = [ IMAGE_ID = -5 ]", "DISK/IMAGE_ID"),
    (SMALL + "TOPOLOGY = [ CORES = 99999999999 ]", "TOPOLOGY/CORES"),
]


@pytest.mark.parametrize("text, name", ABSURD, ids=[n for _, n in ABSURD])
def test_vm_allocate_names_the_absurd_attribute(one, user, text: str, name: str):
    before = vm_ids(one)
    with pytest.raises(pyone.OneInternalException, match=f"{name} attribute must be"):
        user.vm.allocate(text, False)
    assert vm_ids(one) == before
    # a VM template refuses them too, and so does instantiate
    with pytest.raises(pyone.OneInternalException, match=f"{name} attribute must be"):
        user.template.allocate(f'NAME = "{uniq("t")}"\n{text}')
    tid = user.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}')
    with pytest.raises(pyone.OneException, match=f"{name} attribute must be"):
        user.template.instantiate(tid, "", True, text, False)
    assert vm_ids(one) == before


def test_resize_attach_and_attachnic_name_it(one, user):
    vm_id = user.vm.allocate(SMALL, True)
    before = repr(one.vm.info(vm_id).TEMPLATE)
    with pytest.raises(pyone.OneApiException, match="MEMORY attribute must be"):
        user.vm.resize(vm_id, f"MEMORY = {2**63}", False)
    with pytest.raises(pyone.OneApiException, match="VCPU attribute must be"):
        user.vm.resize(vm_id, "VCPU = 99999999999999999999", False)
    with pytest.raises(pyone.OneInternalException, match="DISK/SIZE attribute must be"):
        user.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = -100 ]')
    with pytest.raises(pyone.OneInternalException, match="NIC/NETWORK_ID attribute must be"):
        user.vm.attachnic(vm_id, "NIC = [ NETWORK_ID = 99999999999999999999 ]")
    for vector, name in (('ACTION = "hold", TIME = "99999999999999999999"', "TIME"),
                         ('ACTION = "hold", TIME = "+60", REPEAT = 0, DAYS = 1, END_TYPE = 2, '
                          f'END_VALUE = "{2**64}"', "END_VALUE")):
        with pytest.raises(pyone.OneApiException, match=f"SCHED_ACTION/{name} attribute must"):
            user.vm.schedadd(vm_id, f"SCHED_ACTION = [ {vector} ]")
    assert repr(one.vm.info(vm_id).TEMPLATE) == before


def test_deploy_takes_minus_one_as_the_only_negative_id(one):
    vm_id = one.vm.allocate(SMALL, True)
    host = one.host.allocate(uniq("absurd-host"), "dummy", "dummy", -1)
    for args, name in (((host, False, -99), "ds_id -99"), ((-7, False, -1), "host_id -7")):
        with pytest.raises(pyone.OneApiException, match=f"Wrong {name}"):
            one.vm.deploy(vm_id, *args)
    assert one.vm.info(vm_id).STATE == HOLD and not one.host.info(host).VMS.ID
    with pytest.raises(pyone.OneApiException, match="Wrong id -2"):
        one.vm.info(-2)


def _post(nubo, method: str, params: str) -> bytes:
    body = (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>"
            f"<param><value><string>{nubo.session}</string></value></param>{params}"
            "</params></methodCall>").encode()
    request = urllib.request.Request(nubo.endpoint, body, {"Content-Type": "text/xml"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read()


def test_integer_arguments_beyond_32_bits_are_faults(nubo):
    for value in ("<i8>99999999999</i8>", "<i8>-9223372036854775808</i8>"):
        reply = _post(nubo, "one.vm.info", f"<param><value>{value}</value></param>")
        assert b"<fault>" in reply and b"32-bit int" in reply, reply
    reply = _post(nubo, "one.vm.info", "<param><value><i4>99999999999</i4></value></param>")
    assert b"<fault>" in reply, reply  # the wire parser refuses an i4 out of its range


def test_infrastructure_figures_are_range_checked(one):
    host = one.host.allocate(uniq("absurd-host"), "dummy", "dummy", -1)
    before = repr(one.host.info(host).TEMPLATE)
    for text, name in ((f"RESERVED_MEM = {2**70}", "RESERVED_MEM"),
                       ('RESERVED_CPU = "5000%"', "RESERVED_CPU")):
        with pytest.raises(pyone.OneInternalException, match=f"{name} attribute must be"):
            one.host.update(host, text, 1)
        with pytest.raises(pyone.OneInternalException, match=f"{name} attribute must be"):
            one.cluster.update(0, text, 1)
    assert repr(one.host.info(host).TEMPLATE) == before
    with pytest.raises(pyone.OneInternalException, match="DUMMY_TOTAL_MB attribute must be"):
        one.datastore.update(1, f"DUMMY_TOTAL_MB = {2**70}", 1)
    with pytest.raises(pyone.OneInternalException, match="SIZE attribute must be"):
        one.image.allocate(f'NAME = "{uniq("i")}"\nTYPE = DATABLOCK\nSIZE = {2**62}', 1, False)
    with pytest.raises(pyone.OneInternalException, match="AR/SIZE attribute must be"):
        one.vn.allocate(f'NAME = "{uniq("n")}"\nVN_MAD = "dummy"\nBRIDGE = "br0"\n'
                        f'AR = [ TYPE = "IP6", GLOBAL_PREFIX = "2001:db8::", SIZE = {2**70} ]',
                        -1)
