"""One registry routes every object's work to its driver and knows what each can do."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from nubo.drivers import DriverManager, DriverRegistry, DriverSpec
from nubo.drivers import capabilities as caps


def test_hosts_name_their_drivers_datastores_and_networks_are_routed():
    reg = DriverRegistry(None, transfer="tm-all", datastore="ds-all", network="",
                         routes={"tm": {"ceph": "tm-ceph"}, "vn": {"802.1Q": "vn-vlan"}})
    host = SimpleNamespace(vm_mad="kvm", im_mad="kvm-probe")
    assert (reg.vmm(host), reg.im(host)) == ("kvm", "kvm-probe")
    assert (reg.tm("ceph"), reg.tm("ssh"), reg.tm()) == ("tm-ceph", "tm-all", "tm-all")
    assert reg.ds("fs") == "ds-all"
    assert (reg.vn("802.1Q"), reg.vn("bridge")) == ("vn-vlan", "")
    with pytest.raises(ValueError, match="unknown kind"):
        DriverRegistry(None, routes={"xx": {}})


def test_capabilities_come_from_the_spec_and_default_to_everything():
    manager = DriverManager([DriverSpec("kvm", ["true"], capabilities=["live-resize"]),
                             DriverSpec("old", ["true"])])
    reg = DriverRegistry(manager)
    assert reg.missing("kvm", ["live-resize", "snapshots"]) == ["snapshots"]
    assert reg.missing("old", ["snapshots"]) == [] and reg.capabilities("nope") == caps.ALL
    with pytest.raises(ValueError, match="unknown capability bogus"):
        DriverSpec("x", ["true"], capabilities="live-resize,bogus")


def test_what_an_action_needs():
    assert caps.needed("nic-attach", True, ["ATTACHNIC"]) == ["live-nic-attach"]
    assert caps.needed("nic-attach", False, ["ATTACHNIC"]) == ["cold-nic-attach"]
    assert caps.needed("disk-attach", False, []) == ["cold-disk-attach"]
    assert caps.needed("migrate", True, ["SAVE"]) == ["cold-migration", "save-restore"]
    assert caps.needed("resize", True, ["RESIZE"]) == ["live-resize"]
    assert caps.needed("resize", False, []) == [] and caps.needed("poweroff", True,
                                                                  ["SHUTDOWN"]) == []
