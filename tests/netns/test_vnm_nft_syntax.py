"""Any rule the API accepts renders into a ruleset the kernel's nftables takes
(``nft -c``: checked, not applied, in a namespace of the test's own)."""
from __future__ import annotations

import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab import Lab
from nubo.drivers.vnm import firewall, parse_vm
from nubo.model import secgroup as sg
from nubo.template import VectorAttribute

ports = st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535)), min_size=1,
                 max_size=3).map(lambda ps: ",".join(f"{a}:{b}" if a != b else str(a)
                                                      for a, b in ps))
remote = st.one_of(
    st.just({}),
    st.builds(lambda i, n: {"IP": f"198.51.100.{i}", "SIZE": str(n)},
              st.integers(0, 200), st.integers(1, 50)),
    st.builds(lambda i, n: {"IP": f"2001:db8::{i:x}", "SIZE": str(n)},
              st.integers(0, 4000), st.integers(1, 1000)),
    st.builds(lambda i: {"NETWORK_ID": "4", "AR_ID": "0", "TYPE": "IP4",
                         "IP": f"198.18.{i}.0", "SIZE": "256"}, st.integers(0, 255)))


@st.composite
def rules(draw) -> dict[str, str]:
    proto = draw(st.sampled_from(sg.PROTOCOLS))
    rule = {"PROTOCOL": proto, "RULE_TYPE": draw(st.sampled_from(sg.RULE_TYPES)),
            "SECURITY_GROUP_ID": "100", **draw(remote)}
    if proto in ("TCP", "UDP") and draw(st.booleans()):
        rule["RANGE"] = draw(ports)
    if proto == "ICMP" and draw(st.booleans()):
        rule["ICMP_TYPE"] = str(draw(st.integers(0, 255)))
    if proto == "ICMPV6" and draw(st.booleans()):
        rule["ICMPV6_TYPE"] = str(draw(st.integers(0, 255)))
    return rule


def _vm(rule_list: list[dict[str, str]]) -> str:
    body = "".join("<SECURITY_GROUP_RULE>" + "".join(f"<{k}>{v}</{k}>" for k, v in r.items())
                   + "</SECURITY_GROUP_RULE>" for r in rule_list)
    return ("<VM><ID>21</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><BRIDGE>br0</BRIDGE>"
            "<VN_MAD>bridge</VN_MAD><MAC>02:00:c6:33:64:15</MAC><IP>198.51.100.21</IP>"
            "<SECURITY_GROUPS>100</SECURITY_GROUPS><FILTER_IP_SPOOFING>YES</FILTER_IP_SPOOFING>"
            f"<FILTER_MAC_SPOOFING>YES</FILTER_MAC_SPOOFING></NIC>{body}</TEMPLATE></VM>")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(rules(), min_size=1, max_size=5))
def test_every_valid_rule_makes_a_ruleset_nft_accepts(lab: Lab, rule_list):
    for rule in rule_list:  # what the API would have accepted
        sg.check_rule(VectorAttribute("RULE", {k: v for k, v in rule.items()
                                              if k not in ("SECURITY_GROUP_ID", "AR_ID",
                                                           "TYPE")}))
    script = firewall.replace_script(parse_vm(_vm(rule_list)))
    done = subprocess.run(["ip", "netns", "exec", lab.host, "nft", "-c", "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{done.stderr}\n{script}"
