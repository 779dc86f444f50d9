"""``nubo secgroup`` / ``onesecgroup`` against a real core."""
from __future__ import annotations

import json

from conftest import Cli


def show(cli: Cli, noun: str, ref: str) -> dict:
    return json.loads(cli(noun, "show", ref, "-j").stdout)


def test_secgroup_verbs(cli: Cli, unique) -> None:
    name = unique("sg")
    gid = str(cli.id("secgroup", "create", "-", input=f'NAME={name}\n'
                     'RULE=[PROTOCOL=TCP, RULE_TYPE=INBOUND, RANGE="22,80:90"]\n'))
    assert name in cli("secgroup", "list").stdout
    text = cli("secgroup", "show", name).stdout
    assert "RULES" in text and "22,80:90" in text
    bad = cli("secgroup", "update", gid, "-", input="RULE=[PROTOCOL=SCTP, RULE_TYPE=INBOUND]\n",
              ok=False)
    assert bad.returncode == 1 and "Wrong PROTOCOL" in bad.stderr
    cli("secgroup", "update", gid, "-", "--append", input="DESCRIPTION=web\n")
    assert show(cli, "secgroup", gid)["SECURITY_GROUP"]["TEMPLATE"]["DESCRIPTION"] == "web"
    copy = str(cli.id("secgroup", "clone", gid, unique("sg-copy")))
    cli("secgroup", "rename", copy, unique("sg-renamed"))
    cli("secgroup", "chmod", copy, "644")
    assert show(cli, "secgroup", copy)["SECURITY_GROUP"]["PERMISSIONS"]["OTHER_U"] == "1"
    net = unique("sg-net")
    nid = str(cli.id("vnet", "create", "-", input=f"NAME={net}\nVN_MAD=dummy\nBRIDGE=br7\n"
                     'AR=[TYPE=IP4, IP=198.51.100.20, SIZE=4]\n'))
    vm = str(cli.id("vm", "create", "-", input=f"NAME={unique('sg-vm')}\nCPU=0.1\nMEMORY=16\n"
                    f"NIC=[NETWORK_ID={nid}]\n"))
    cli("secgroup", "attach", vm, "0", gid)
    nic = show(cli, "vm", vm)["VM"]["TEMPLATE"]["NIC"]
    assert nic["SECURITY_GROUPS"] == f"0,{gid}"
    refused = cli("secgroup", "delete", gid, ok=False)
    assert refused.returncode == 1 and "use it" in refused.stderr
    cli("secgroup", "commit", gid, "--recover")
    cli("secgroup", "detach", vm, "0", gid)
    cli("secgroup", "delete", f"{gid},{copy}")
    assert name not in cli("secgroup", "list").stdout
