"""``python -m nubo.guestimage register`` against a running nubo (no hypervisor
needed): the kernel and initrd become READY KERNEL and RAMDISK images of the
nubo-files datastore and the nubo-guest template boots them; a second run reuses
them."""
from __future__ import annotations

import subprocess
import sys

import pyone
import pytest

from server import NuboServer


@pytest.fixture
def nubo(tmp_path):
    server = NuboServer(tmp_path / "data").start()
    yield server
    server.stop()


def test_register_makes_the_images_and_the_template_once(nubo, tmp_path):
    guest = tmp_path / "guest"
    guest.mkdir()
    (guest / "vmlinuz").write_bytes(b"\x7fkernel" * 1000)
    (guest / "initrd.img").write_bytes(b"\x1f\x8binitrd" * 1000)
    cmd = [sys.executable, "-m", "nubo.guestimage", "register", "--endpoint", nubo.endpoint,
           "--session", nubo.session, str(guest)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    ids = dict(word.split("=") for word in first.stdout.split())
    one = pyone.OneServer(nubo.endpoint, session=nubo.session)
    ds = one.datastore.info(int(ids["datastore"]))
    assert ds.NAME == "nubo-files" and ds.TYPE == 2
    kernel, initrd = one.image.info(int(ids["kernel"])), one.image.info(int(ids["ramdisk"]))
    assert (kernel.TYPE, kernel.STATE, initrd.TYPE, initrd.STATE) == (3, 1, 4, 1)
    template = one.template.info(int(ids["template"]))
    assert template.NAME == "nubo-guest"
    os_ = template.TEMPLATE["OS"]
    assert os_["KERNEL_DS"] == f"$FILE[IMAGE_ID={ids['kernel']}]"
    assert os_["INITRD_DS"] == f"$FILE[IMAGE_ID={ids['ramdisk']}]"
    assert "console=ttyS0" in os_["KERNEL_CMD"]
    assert template.TEMPLATE["MEMORY"] == "128"
    assert template.TEMPLATE["CONTEXT"]["SSH_PUBLIC_KEY"] == "$USER[SSH_PUBLIC_KEY]"
    assert len([i for i in one.imagepool.info(-2, -1, -1).IMAGE]) == 2
