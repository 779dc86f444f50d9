"""The ETHn_* variables a CONTEXT with NETWORK = "YES" gets, one set per NIC and alias.

As oned's generate_network_context: each variable comes from the NIC itself, else
(for the attributes an address range or network defines) from the NIC's address
range, then its network; a variable with no value is present and empty, as the
guest packages expect every ETHn_* of a NIC they configure. A NIC_ALIAS's variables
are ETH<PARENT_ID>_ALIAS<ALIAS_ID>_*.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from nubo.template import VectorAttribute


class _Var(NamedTuple):
    suffix: str          # ETHn_<suffix>
    nic_name: str        # the NIC attribute it comes from
    alternative: str     # a second NIC attribute tried ("" for none)
    network: bool        # else looked up in the NIC's address range and network


#: oned's NETWORK_CONTEXT and NETWORK6_CONTEXT (EXTERNAL is in both: once here).
NETWORK_VARIABLES: tuple[_Var, ...] = (
    _Var("IP", "IP", "", False),
    _Var("MAC", "MAC", "", False),
    _Var("MASK", "NETWORK_MASK", "", True),
    _Var("NETWORK", "NETWORK_ADDRESS", "", True),
    _Var("GATEWAY", "GATEWAY", "", True),
    _Var("DNS", "DNS", "", True),
    _Var("SEARCH_DOMAIN", "SEARCH_DOMAIN", "", True),
    _Var("MTU", "GUEST_MTU", "", True),
    _Var("METRIC", "METRIC", "", True),
    _Var("METHOD", "METHOD", "", True),
    _Var("VLAN_ID", "VLAN_ID", "", True),
    _Var("VROUTER_IP", "VROUTER_IP", "", False),
    _Var("VROUTER_MANAGEMENT", "VROUTER_MANAGEMENT", "", False),
    _Var("EXTERNAL", "EXTERNAL", "", False),
    _Var("IP6", "IP6_GLOBAL", "IP6", False),
    _Var("IP6_ULA", "IP6_ULA", "", False),
    _Var("IP6_GATEWAY", "GATEWAY6", "", True),
    _Var("IP6_METRIC", "IP6_METRIC", "", True),
    _Var("IP6_METHOD", "IP6_METHOD", "", True),
    _Var("IP6_PREFIX_LENGTH", "PREFIX_LENGTH", "", True),
    _Var("VROUTER_IP6", "VROUTER_IP6_GLOBAL", "VROUTER_IP6", False),
)

#: Looks up an attribute of the NIC's address range, then of its network ("" if none).
NetworkLookup = Callable[[VectorAttribute, str], str]

_GENERATED = re.compile(r"ETH[0-9]+_(?:ALIAS[0-9]+_)?(?:%s)" % "|".join(
    sorted((v.suffix for v in NETWORK_VARIABLES), key=len, reverse=True)))


def wants_network(context: VectorAttribute) -> bool:
    """NETWORK = "YES" (any case), as oned reads a boolean."""
    return (context.get("NETWORK") or "").strip().upper() == "YES"


def prefix(nic: VectorAttribute) -> str | None:
    """``ETH0_`` for NIC 0, ``ETH0_ALIAS1_`` for alias 1 of NIC 0 (None: no id yet)."""
    if nic.name == "NIC_ALIAS":
        parent, alias = nic.get("PARENT_ID"), nic.get("ALIAS_ID")
        if not parent or not alias:
            return None
        return f"ETH{parent}_ALIAS{alias}_"
    nic_id = nic.get("NIC_ID")
    return f"ETH{nic_id}_" if nic_id else None


def nic_variables(nic: VectorAttribute, lookup: NetworkLookup) -> dict[str, str]:
    """The ETHn_* (or ETHn_ALIASm_*) variables of one NIC or alias."""
    head = prefix(nic)
    if head is None:
        return {}
    out: dict[str, str] = {}
    for var in NETWORK_VARIABLES:
        value = nic.get(var.nic_name) or (nic.get(var.alternative) if var.alternative else "")
        if not value and var.network:
            value = lookup(nic, var.nic_name)
        out[head + var.suffix] = value or ""
    return out


def network_variables(nics: Iterable[VectorAttribute], lookup: NetworkLookup) -> dict[str, str]:
    """Every NIC's and alias's variables; NICs still to be placed (NETWORK_MODE = auto,
    no network yet) have none, as oned leaves them to the deployment."""
    out: dict[str, str] = {}
    for nic in nics:
        if (nic.get("NETWORK_MODE") or "").upper() == "AUTO" and not nic.get("NETWORK_ID"):
            continue
        out.update(nic_variables(nic, lookup))
    return out


def apply_network(context: VectorAttribute, nics: Iterable[VectorAttribute],
                  lookup: NetworkLookup) -> None:
    """Recompute the context's ETHn_* for ``nics``: the variables of NICs no longer there
    go (a detached NIC), those of the others are set anew (an attached one); other
    ETHn_ attributes the user wrote (ETH0_CONTEXT_FORCE_IPV4...) stay."""
    for key, _ in list(context.items()):
        if _GENERATED.fullmatch(key):
            context.remove(key)
    if wants_network(context):
        for key, value in network_variables(nics, lookup).items():
            context.set(key, value)
