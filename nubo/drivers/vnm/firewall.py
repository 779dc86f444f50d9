"""A VM's security groups as nftables rulesets (pure: text in, text out).

OpenNebula's iptables driver gives each NIC an inbound and an outbound chain: replies
to allowed traffic pass (ESTABLISHED, RELATED), then the rules of the NIC's groups
(RETURN = allowed), then DROP; IPv6 neighbour discovery always passes; MAC and IP
anti-spoofing when the NIC says FILTER_MAC_SPOOFING / FILTER_IP_SPOOFING = YES. Here
the same as two nftables tables per VM, replaced atomically on every change:

* ``inet one_vm_<id>``: stateful, on the forward and input hooks; bridged traffic
  reaches it through br_netfilter (net.bridge.bridge-nf-call-iptables = 1), where the
  bridge port is not visible, so a NIC's traffic is told by its MAC (to it: inbound,
  from it: outbound);
* ``bridge one_vm_<id>``: anti-spoofing on the tap itself (the frames a NIC sends
  must carry its MAC and IP), which also makes the MAC a trustworthy key above.

A rule's remote end (IP + SIZE, or a NETWORK_ID expanded into its address ranges) is
the source of inbound and the destination of outbound traffic; RANGE is the
destination port of either (the VM's port inbound, the remote one outbound).
"""
from __future__ import annotations

import ipaddress

from nubo.drivers.vnm.nics import Nic, VmNetwork, VnmError

#: ICMPv6 neighbour discovery, let through as OpenNebula does (in: RA, NS, NA, redirect;
#: out: RS, NS, NA).
_ND_IN = "134, 135, 136, 137"
_ND_OUT = "133, 135, 136"


def table_name(vm_id: int) -> str:
    return f"one_vm_{vm_id}"


def _chain(nic: Nic, direction: str) -> str:
    return f"nic{nic.nic_id}_{direction}"


def _ranges(rule: dict[str, str], where: str) -> list[tuple[str, str]]:
    """(family, "first-last") of the rule's remote end; [] for any, None-like skip."""
    size_text = rule.get("SIZE") or "1"
    if not size_text.isdigit() or int(size_text) < 1:
        raise VnmError(f"{where}: SIZE {size_text!r} is not a positive number")
    size = int(size_text)
    out = []
    for key in ("IP", "IP6", "IP6_GLOBAL", "IP6_ULA"):
        text = rule.get(key) or ""
        if not text:
            continue
        try:
            first = ipaddress.ip_address(text)
        except ValueError:
            raise VnmError(f"{where}: {key} {text!r} is not an address") from None
        last = first + (size - 1)
        family = "ip" if first.version == 4 else "ip6"
        out.append((family, f"{first}-{last}" if size > 1 else str(first)))
    return out


def _ports(text: str, where: str) -> str:
    """RANGE ("22,80:90") as an nft port or set; spans given high:low are turned round
    and overlapping ones merged (an nft set refuses both)."""
    spans: list[list[int]] = []
    try:
        pairs = sorted(sorted(int(x) for x in part.split(":", 1) * (2 - part.count(":")))
                       for part in text.split(",") if part.strip())
    except ValueError:
        raise VnmError(f"{where}: RANGE {text!r} is not a list of ports") from None
    for low, high in pairs:
        if spans and low <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], high)
        else:
            spans.append([low, high])
    items = [str(a) if a == b else f"{a}-{b}" for a, b in spans]
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _match(rule: dict[str, str], where: str) -> str:
    proto = (rule.get("PROTOCOL") or "").upper()
    if proto in ("TCP", "UDP"):
        ports = (rule.get("RANGE") or "").strip()
        name = proto.lower()
        return f"{name} dport {_ports(ports, where)}" if ports else f"meta l4proto {name}"
    if proto == "ICMP":
        kind = (rule.get("ICMP_TYPE") or "").strip()
        return f"icmp type {kind}" if kind else "meta l4proto icmp"
    if proto == "ICMPV6":
        kind = (rule.get("ICMPV6_TYPE") or "").strip()
        return f"icmpv6 type {kind}" if kind else "meta l4proto ipv6-icmp"
    if proto == "IPSEC":
        return "meta l4proto { esp, ah }"
    if proto == "ALL":
        return ""
    raise VnmError(f"{where}: PROTOCOL {proto!r} is not TCP, UDP, ICMP, ICMPV6, IPSEC or ALL")


def rule_lines(rule: dict[str, str], inbound: bool, where: str) -> list[str]:
    """The nft rules (accept) for one SECURITY_GROUP_RULE in one direction."""
    match = _match(rule, where)
    remote = "saddr" if inbound else "daddr"
    ranges = _ranges(rule, where)
    if not ranges and rule.get("NETWORK_ID") is not None:
        return []  # a network with no IP range (ETHER): nothing to allow, as oned
    if not ranges:
        return [" ".join(p for p in (match, "accept") if p)]
    return [" ".join(p for p in (f"{family} {remote} {span}", match, "accept") if p)
            for family, span in ranges]


def _nic_chains(vm: VmNetwork, nic: Nic) -> list[str]:
    rules = vm.rules_of(nic)
    lines: list[str] = []
    for direction, inbound, nd in (("in", True, _ND_IN), ("out", False, _ND_OUT)):
        body = ["ct state established,related accept",
                f"icmpv6 type {{ {nd} }} accept"]
        for i, rule in enumerate(rules):
            if (rule.get("RULE_TYPE") or "").upper() != ("INBOUND" if inbound else "OUTBOUND"):
                continue
            where = f"VM {vm.vm_id} NIC {nic.nic_id} rule {i} (group " \
                    f"{rule.get('SECURITY_GROUP_ID')})"
            body += rule_lines(rule, inbound, where)
        body.append("drop")
        lines += [f"  chain {_chain(nic, direction)} {{", *(f"    {b}" for b in body), "  }"]
    return lines


def filtered(vm: VmNetwork) -> list[Nic]:
    """The NICs the firewall acts on: with security groups, or asking for anti-spoofing."""
    return [n for n in vm.nics if n.vn_mad != "dummy" and (n.groups or n.filter_mac
                                                           or n.filter_ip)]


def _require_mac(nic: Nic) -> None:
    if not nic.mac:
        raise VnmError(f"VM {nic.vm_id} NIC {nic.nic_id}: security groups need the NIC's MAC")


def inet_table(vm: VmNetwork) -> str:
    """The stateful table (security group rules) of the VM, or "" when none applies."""
    nics = [n for n in filtered(vm) if n.groups]
    if not nics:
        return ""
    jumps: list[str] = []
    chains: list[str] = []
    for nic in nics:
        _require_mac(nic)
        jumps += [f"ether daddr {nic.mac} jump {_chain(nic, 'in')}",
                  f"ether saddr {nic.mac} jump {_chain(nic, 'out')}"]
        chains += _nic_chains(vm, nic)
    out_jumps = [j for j in jumps if "saddr" in j]
    return "\n".join([
        f"table inet {table_name(vm.vm_id)} {{",
        "  chain forward {", "    type filter hook forward priority 0; policy accept;",
        *(f"    {j}" for j in jumps), "  }",
        "  chain input {", "    type filter hook input priority 0; policy accept;",
        *(f"    {j}" for j in out_jumps), "  }",
        *chains, "}", ""])


def bridge_table(vm: VmNetwork) -> str:
    """Anti-spoofing on the VM's taps (FILTER_MAC_SPOOFING / FILTER_IP_SPOOFING)."""
    lines: list[str] = []
    for nic in filtered(vm):
        tap = f'iifname "{nic.tap}"'
        if nic.filter_mac:
            _require_mac(nic)
            lines.append(f"{tap} ether saddr != {nic.mac} drop")
        if nic.filter_ip:
            lines.append(f"{tap} ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 "
                         "accept")  # DHCP (bootp) before the NIC has its address
            lines.append(f"{tap} ether type ip ip saddr != {nic.ip or '0.0.0.0'} drop")
            lines.append(f"{tap} ether type arp arp saddr ip != {{ 0.0.0.0, "
                         f"{nic.ip or '0.0.0.0'} }} drop")
            if nic.ip6:
                lines.append(f"{tap} ether type ip6 ip6 saddr != {{ fe80::/10, "
                             f"{', '.join(nic.ip6)} }} drop")
    if not lines:
        return ""
    hooks = []
    for hook in ("forward", "input"):
        hooks += [f"  chain {hook} {{",
                  f"    type filter hook {hook} priority -10; policy accept;",
                  *(f"    {line}" for line in lines), "  }"]
    return "\n".join([f"table bridge {table_name(vm.vm_id)} {{", *hooks, "}", ""])


def replace_script(vm: VmNetwork) -> str:
    """An ``nft -f`` script replacing the VM's tables in one transaction (removing them
    when nothing is left to filter)."""
    name = table_name(vm.vm_id)
    parts = [f"table inet {name} {{}}", f"delete table inet {name}",
             f"table bridge {name} {{}}", f"delete table bridge {name}",
             inet_table(vm), bridge_table(vm)]
    return "\n".join(p for p in parts if p) + "\n"
