"""The source documents' CONTEXT example (the OGF talk's "Contextualization" slide), as
written, single-quoted value included, on a VM with a NIC of a network "Private LAN".

The slide wraps ``/service/service.conf`` across two lines; the template below has it
on one, as the slide's author typed it. FILES is allowed under /service by the
configuration (``context_files_dirs``), oneadmin may set it (a restricted attribute).
"""
from __future__ import annotations

import io
import subprocess
import uuid

import pycdlib
import pyone
import pytest

from nubo.context.iso import write_context_iso
from nubo.context.script import render_context_sh
from nubo.template import VectorAttribute
from server import NuboServer
from xsd import raw_call

SEED_CONTEXT = """CONTEXT = [
   hostname = "$NAME",
   ip_private = '$NIC[IP, NETWORK="Private LAN"]',
   ip_gen = "10.0.0.$VM_ID",
   files = "/service/init.sh /service/service.conf /service/certificates",
   target = "sdc"
]
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    srv = NuboServer(tmp_path_factory.mktemp("seedctx") / "data",
                     extra_config='context_files_dirs = ["/service"]\n'
                                  'onegate_endpoint = "http://198.51.100.1:5030"\n').start()
    yield srv, pyone.OneServer(srv.endpoint, session=srv.session)
    assert srv.stop() == 0


def test_the_seed_context_example(cloud, tmp_path):
    srv, one = cloud
    one.vn.allocate('NAME = "Private LAN"\nVN_MAD = "dummy"\nBRIDGE = "br-lan"\n'
                    'AR = [ TYPE = "IP4", IP = "198.51.100.20", SIZE = "10" ]', -1)
    name = f"seed-{uuid.uuid4().hex[:6]}"
    vm_id = one.vm.allocate(f'NAME = "{name}"\nCPU = 0.1\nMEMORY = 64\n'
                            'NIC = [ NETWORK = "Private LAN" ]\n' + SEED_CONTEXT, True)
    vm = one.vm.info(vm_id)
    ip = vm.TEMPLATE["NIC"]["IP"]
    assert ip == "198.51.100.20"
    ctx = dict(vm.TEMPLATE["CONTEXT"])
    assert ctx["HOSTNAME"] == name
    assert ctx["IP_PRIVATE"] == ip
    assert ctx["IP_GEN"] == f"10.0.0.{vm_id}"
    assert ctx["FILES"] == "/service/init.sh /service/service.conf /service/certificates"
    assert ctx["TARGET"] == "sdc"

    # context.sh as the guest reads it, sourced by a real shell.
    script = render_context_sh(VectorAttribute("CONTEXT", ctx))
    (tmp_path / "context.sh").write_text(script)
    out = subprocess.run(["/bin/sh", "-c", '. ./context.sh; echo "$HOSTNAME|$IP_PRIVATE|$IP_GEN"'
                          '"|$TARGET"'], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    assert out == f"{name}|{ip}|10.0.0.{vm_id}|sdc\n"

    # The CD-ROM the transfer driver makes from the VM's body holds the same script.
    body = raw_call(srv.endpoint, "one.vm.info", srv.session, vm_id)[1]
    dest = tmp_path / "disk.1"
    write_context_iso(body, dest, [])
    iso = pycdlib.PyCdlib()
    iso.open(str(dest))
    try:
        got = io.BytesIO()
        iso.get_file_from_iso_fp(got, rr_path="/context.sh")
    finally:
        iso.close()
    assert got.getvalue().decode() == script


def test_files_outside_the_allowed_directories_are_refused(cloud):
    _, one = cloud
    with pytest.raises(pyone.OneException, match="CONTEXT/FILES cannot use /service/../etc/shadow"):
        one.vm.allocate('NAME = "x"\nCPU = 0.1\nMEMORY = 64\n'
                        'CONTEXT = [ FILES = "/service/../etc/shadow" ]', True)


def test_token_gets_the_configured_onegate_endpoint(cloud):
    _, one = cloud
    vm_id = one.vm.allocate('NAME = "t"\nCPU = 0.1\nMEMORY = 64\nCONTEXT = [ TOKEN = "YES" ]', True)
    vm = one.vm.info(vm_id)
    assert vm.TEMPLATE["CONTEXT"]["ONEGATE_ENDPOINT"] == "http://198.51.100.1:5030"
    assert vm.TEMPLATE["CONTEXT"]["VMID"] == str(vm_id)
    assert vm.USER_TEMPLATE["CREATED_BY"] == "0"
