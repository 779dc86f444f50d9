"""The network drivers' pure parts: the VM XML read into NICs, and nftables rendered."""
from __future__ import annotations

import pytest

from nubo.drivers.vnm import firewall
from nubo.drivers.vnm.nics import VnmError, parse_vm


def vm(*parts: str, vm_id: int = 3) -> str:
    return f"<VM><ID>{vm_id}</ID><TEMPLATE>{''.join(parts)}</TEMPLATE></VM>"


NIC = ("<NIC><NIC_ID>0</NIC_ID><BRIDGE>br0</BRIDGE><VN_MAD>bridge</VN_MAD><IP>198.51.100.3</IP>"
       "<MAC>02:00:C6:33:64:03</MAC><SECURITY_GROUPS>0,100</SECURITY_GROUPS></NIC>")


def sgr(group: int, **values: str) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
    return (f"<SECURITY_GROUP_RULE><SECURITY_GROUP_ID>{group}</SECURITY_GROUP_ID>{inner}"
            "</SECURITY_GROUP_RULE>")


def test_rules_of_the_nics_groups_become_accepts_before_the_drop():
    text = firewall.inet_table(parse_vm(vm(
        NIC, sgr(100, PROTOCOL="TCP", RULE_TYPE="INBOUND", RANGE="22,80:90"),
        sgr(100, PROTOCOL="UDP", RULE_TYPE="OUTBOUND", IP="198.18.0.0", SIZE="256"),
        sgr(0, PROTOCOL="ICMP", RULE_TYPE="INBOUND", ICMP_TYPE="8"),
        sgr(0, PROTOCOL="IPSEC", RULE_TYPE="OUTBOUND"),
        sgr(7, PROTOCOL="ALL", RULE_TYPE="INBOUND"))))  # group 7: not the NIC's
    assert "table inet one_vm_3" in text
    assert "ether daddr 02:00:c6:33:64:03 jump nic0_in" in text
    assert "tcp dport { 22, 80-90 } accept" in text
    assert "ip daddr 198.18.0.0-198.18.0.255 meta l4proto udp accept" in text
    assert "icmp type 8 accept" in text and "meta l4proto { esp, ah } accept" in text
    inbound = text.split("chain nic0_in {")[1].split("}")[0]
    assert "meta l4proto" not in inbound.replace("tcp dport", "")  # no ALL from group 7
    assert text.count("    drop") == 2


def test_network_rules_without_addresses_allow_nothing():
    lines = firewall.rule_lines({"PROTOCOL": "ALL", "NETWORK_ID": "4", "TYPE": "ETHER"}, True,
                                "here")
    assert lines == []
    both = firewall.rule_lines({"PROTOCOL": "TCP", "IP": "198.51.100.1", "IP6": "2001:db8::1",
                                "SIZE": "2"}, False, "here")
    assert both == ["ip daddr 198.51.100.1-198.51.100.2 meta l4proto tcp accept",
                    "ip6 daddr 2001:db8::1-2001:db8::2 meta l4proto tcp accept"]


def test_no_groups_no_table_and_anti_spoofing_on_request():
    plain = NIC.replace("<SECURITY_GROUPS>0,100</SECURITY_GROUPS>", "")
    assert firewall.inet_table(parse_vm(vm(plain))) == ""
    spoof = plain.replace("</NIC>", "<FILTER_IP_SPOOFING>yes</FILTER_IP_SPOOFING></NIC>")
    text = firewall.bridge_table(parse_vm(vm(spoof)))
    assert 'iifname "one-3-0" ether type ip ip saddr != 198.51.100.3 drop' in text
    script = firewall.replace_script(parse_vm(vm(plain)))
    assert script.splitlines()[:2] == ["table inet one_vm_3 {}", "delete table inet one_vm_3"]


@pytest.mark.parametrize("xml, message", [
    ("<VM>", "does not parse"),
    ("<HOST><ID>1</ID></HOST>", "must be a <VM>"),
    (vm("<NIC><BRIDGE>b</BRIDGE></NIC>"), "without a NIC_ID"),
    (vm(NIC.replace("bridge</VN_MAD>", "vxlan</VN_MAD>")), "VN_MAD 'vxlan'"),
    (vm(NIC.replace("0,100", "web")), "SECURITY_GROUPS must be ids"),
    (vm(NIC.replace("<BRIDGE>br0</BRIDGE>", "")), "no BRIDGE"),
])
def test_bad_vm_xml_is_refused_with_where(xml, message):
    with pytest.raises(VnmError, match=message):
        parse_vm(xml)
