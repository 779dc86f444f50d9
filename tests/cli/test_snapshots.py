"""Snapshot tests of tables and show output, on a core of their own (so ids are stable).

Expected outputs live in tests/cli/snapshots/NAME.txt, with dates, durations and
UUIDs masked. After an intended change of the output, regenerate them with
``NUBO_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cli/test_snapshots.py``
and review the diff.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import pyone

from conftest import Cli, make_cli
from images import wait_image
from server import NuboServer

SNAPSHOTS = Path(__file__).parent / "snapshots"
_MASKS = ((re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "YYYY-MM-DD hh:mm:ss"),
          (re.compile(r"\b\d+d \d\dh\d\d\b"), "Nd HHhMM"),
          (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"))


def mask(text: str) -> str:
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory):
    """A core of its own with a small, fixed population."""
    base = tmp_path_factory.mktemp("cli-snap")
    server = NuboServer(base / "data").start()
    try:  # stopped even when the population fails, so no server outlives the test
        cli = make_cli(server, base / "client")
        one = pyone.OneServer(server.endpoint, session=server.session)
        # Images on the dummy datastore driver: no file, so SOURCE and capacity are the same
        # on every machine.
        one.datastore.update(1, 'DS_MAD = "dummy"', 1)
        cli("host", "create", "kvm-node-01", "--im", "dummy", "--vm", "dummy")
        cli("host", "create", "kvm-node-02-with-a-rather-long-name", "--im", "dummy", "--vm", "dummy")
        cli("image", "create", "--name", "ubuntu-24.04", "--type", "OS", "--size", "2G",
            "-d", "default")
        wait_image(one, 0)  # READY once its datastore driver answered
        cli("vnet", "create", "-", input='NAME=private\nVN_MAD=dummy\nBRIDGE=br0\n'
            'AR=[TYPE=IP4, IP=192.168.10.1, SIZE=16]\n')
        cli("template", "create", "--name", "small", "--cpu", "0.5", "--memory", "512",
            "--disk", "ubuntu-24.04", "--nic", "private")
        cli("template", "instantiate", "small", "--name", "web-1")
        cli("template", "instantiate", "small", "--name",
            "a-virtual-machine-with-a-very-long-name-indeed", "--hold")
        cli("vm", "create", "--name", "db-1", "--cpu", "2", "--memory", "4G")
        cli("vm", "deploy", "web-1", "kvm-node-01", "--wait")
        cli("vm", "update", "web-1", "-", input='LABELS="web,prod"\n')
        yield cli
    finally:
        server.stop()


CASES = {
    "vm_list": (("vm", "list", "--sort", "ID"), {"COLUMNS": "120"}),
    "vm_list_narrow": (("vm", "list", "--sort", "ID"), {"COLUMNS": "60"}),
    "vm_list_columns": (("vm", "list", "--list", "ID,NAME,STAT,HOST", "--filter", "STAT!=hold",
                         "--sort=-ID"), {}),
    "vm_show": (("vm", "show", "web-1"), {}),
    "host_list": (("host", "list", "--sort", "ID"), {"COLUMNS": "120"}),
    "host_show": (("host", "show", "kvm-node-01"), {}),
    "image_list": (("image", "list"), {}),
    "image_show": (("image", "show", "ubuntu-24.04"), {}),
    "vnet_show": (("vnet", "show", "private"), {}),
    "template_show": (("template", "show", "small"), {}),
    "datastore_list": (("datastore", "list", "--sort", "ID"), {}),
    "user_list": (("user", "list", "--sort", "ID"), {}),
    "acl_list": (("acl", "list", "--sort", "ID"), {}),
    "cluster_show": (("cluster", "show", "default"), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(fresh: Cli, name: str) -> None:
    args, env = CASES[name]
    got = mask(fresh(*args, **env).stdout)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("NUBO_UPDATE_SNAPSHOTS"):
        path.write_text(got)
    assert path.exists(), f"no snapshot {path.name}: run with NUBO_UPDATE_SNAPSHOTS=1"
    assert got == path.read_text()
