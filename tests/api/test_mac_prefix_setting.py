"""The mac_prefix setting (oned.conf's MAC_PREFIX): the first two bytes of the MACs of
ranges that give none, in allocate, add_ar and the documents' FIXED networks; reported
by one.system.config; a wrong one refused at start-up."""
from __future__ import annotations

import pyone
import pytest

from nubo.config import ConfigError, load_config
from server import NuboServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = NuboServer(tmp_path_factory.mktemp("macprefix") / "data",
                     extra_config='mac_prefix = "0a:bc"\n').start()
    yield srv
    assert srv.stop() == 0


@pytest.fixture
def one(server):
    return pyone.OneServer(server.endpoint, session=server.session)


def test_ranges_without_a_mac_start_with_the_configured_prefix(one):
    vnet = one.vn.allocate('NAME = "mp-net"\nVN_MAD = "dummy"\nBRIDGE = "nbmp"\n'
                           'AR = [ TYPE = "IP4", IP = "198.18.130.1", SIZE = "4" ]\n'
                           'AR = [ TYPE = "ETHER", SIZE = "4" ]\n'
                           'AR = [ TYPE = "ETHER", SIZE = "2", MAC = "02:00:00:00:00:10" ]', -1)
    one.vn.add_ar(vnet, 'AR = [ TYPE = "IP4", IP = "198.18.131.1", SIZE = "2" ]')
    ars = {int(a.AR_ID): a.MAC for a in one.vn.info(vnet).AR_POOL.AR}
    assert ars[0] == "0a:bc:c6:12:82:01"  # the prefix and the IPv4 address
    assert ars[1].startswith("0a:bc:")
    assert ars[2] == "02:00:00:00:00:10"  # its own MAC kept
    assert ars[3] == "0a:bc:c6:12:83:01"
    vm = one.vm.allocate(f'NAME = "mp-vm"\nCPU = 0.1\nMEMORY = 16\nNIC = [ NETWORK_ID = {vnet} ]',
                         True)
    assert one.vm.info(vm).TEMPLATE["NIC"]["MAC"] == "0a:bc:c6:12:82:01"


def test_a_fixed_network_of_the_documents_completes_its_macs_with_it(one):
    vnet = one.vn.allocate('NAME = "mp-fixed"\nTYPE = "FIXED"\nBRIDGE = "nbmp"\n'
                           'LEASES = [ IP = "198.18.132.5", MAC = "50:20:20:20:20:21" ]\n'
                           'LEASES = [ IP = "198.18.132.6" ]', -1)
    macs = sorted(a.MAC for a in one.vn.info(vnet).AR_POOL.AR)
    assert "0a:bc:c6:12:84:06" in macs


def test_one_system_config_reports_it(one):
    assert one.system.config().MAC_PREFIX == ["0a:bc"]


@pytest.mark.parametrize("value", ["03:00", "zz:00", "02", "02:00:00"])
def test_a_wrong_prefix_is_refused_at_start_up(tmp_path, value):
    path = tmp_path / "nubo.toml"
    path.write_text(f'mac_prefix = "{value}"\n')
    with pytest.raises(ConfigError, match="mac_prefix"):
        load_config(path)
    assert load_config(None).mac_prefix == "02:00"
