"""``nubo vntemplate`` and ``nubo vnet recover`` against a live core."""
from __future__ import annotations

from conftest import Cli
from test_objects import field, owned_verbs


def test_vntemplates(cli: Cli, unique) -> None:
    name = unique("vnt")
    tid = str(cli.id("vntemplate", "create", "-", input=(
        f'NAME={name}\nVN_MAD=bridge\nAR=[TYPE=IP4, IP=198.51.100.100, SIZE=4]\n')))
    assert name in cli("vntemplate", "list").stdout
    assert "VIRTUAL NETWORK TEMPLATE" in cli("vntemplate", "show", name).stdout
    owned_verbs(cli, "vntemplate", tid, unique("vnt2"), "VNTEMPLATE")
    copy = str(cli.id("vntemplate", "clone", tid, unique("vntcopy")))
    net = unique("fromtmpl")
    vid = str(cli.id("vntemplate", "instantiate", tid, "--name", net))
    assert field(cli, "vnet", vid, "VNET", "TEMPLATE_ID") == tid
    assert field(cli, "vnet", vid, "VNET", "NAME") == net
    cli("vnet", "delete", vid)
    cli("vntemplate", "delete", copy)
    cli("vntemplate", "delete", tid)


def test_vnet_recover_says_why_it_cannot(cli: Cli, unique) -> None:
    vid = str(cli.id("vnet", "create", "-", input=(
        f'NAME={unique("rec")}\nVN_MAD=bridge\nAR=[TYPE=ETHER, SIZE=2]\n')))
    assert field(cli, "vnet", vid, "VNET", "STATE") == "1"
    proc = cli("vnet", "recover", vid, "--failure", ok=None)
    assert proc.returncode != 0 and "wrong state READY" in proc.stderr
    cli("vnet", "delete", vid)
