"""OpenNebula's commands (onevm, onehost, ...) with OpenNebula's syntax, on the same verbs."""
from __future__ import annotations

import json

from conftest import Cli


def test_classic_commands_speak_opennebulas_syntax(cli: Cli, unique) -> None:
    host = unique("h")
    out = cli("create", host, "--im", "dummy", "--vm", "dummy", command="onehost").stdout
    assert out.startswith("ID: ")  # as OpenNebula's tools print it
    out = cli("create", "--name", unique("db"), "--type", "DATABLOCK", "--size", "16",
              "-d", "default", command="oneimage").stdout
    image = out.split()[1]
    net = unique("net")
    cli("create", "-", input=f"NAME={net}\nVN_MAD=dummy\nBRIDGE=br0\n"
        "AR=[TYPE=IP4, IP=10.7.0.1, SIZE=4]\n", command="onevnet")
    name = unique("web")
    vm = cli("create", "--name", name, "--cpu", "1", "--memory", "64", "--disk", image,
             "--nic", net, command="onevm").stdout.split()[1]
    cli("deploy", name, host, "--wait", command="onevm")
    assert name in cli("list", command="onevm").stdout
    data = json.loads(cli("show", vm, "-j", command="onevm").stdout)
    assert data["VM"]["TEMPLATE"]["DISK"]["IMAGE_ID"] == image
    assert data["VM"]["HISTORY_RECORDS"]["HISTORY"]["HOSTNAME"] == host
    cli("terminate", vm, "--hard", "--wait", command="onevm")
    for command in ("onecluster", "onedatastore", "onetemplate", "oneuser", "onegroup",
                    "oneacl", "onehook", "onevnet", "oneimage", "onehost"):
        proc = cli("list", "-x", command=command)
        assert proc.stdout.startswith("<"), command
    proc = cli("frob", command="onevm", ok=False)
    assert proc.returncode == 2 and proc.stderr.startswith("usage: onevm")
