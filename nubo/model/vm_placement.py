"""Where a VM may run, from what it uses: oned 7's AUTOMATIC_REQUIREMENTS,
AUTOMATIC_DS_REQUIREMENTS and AUTOMATIC_NIC_REQUIREMENTS (VirtualMachine::
automatic_requirements).

The clusters a VM may run in are those shared by the datastores of its DISKs and the
networks of its NICs (each carries them in CLUSTER_ID, comma separated; a DISK or NIC
without CLUSTER_ID is a manual path or bridge and constrains nothing). Its system
datastores must be in one of those clusters, among those its image datastores allow
(COMPATIBLE_SYS_DS) and of the VM's TM_MAD_SYSTEM. Pure: the caller fills CLUSTER_ID.
"""
from __future__ import annotations

from typing import Iterable

from nubo.errors import InternalError
from nubo.template import SingleAttribute, Template, VectorAttribute

AUTOMATIC = ("AUTOMATIC_REQUIREMENTS", "AUTOMATIC_DS_REQUIREMENTS", "AUTOMATIC_NIC_REQUIREMENTS")


class IncompatibleResources(InternalError):
    """A VM whose DISKs and NICs share no cluster (oned's allocate refuses it, INTERNAL)."""


def _ids(text: str) -> set[int]:
    return {int(p) for p in (s.strip() for s in text.split(",")) if p.lstrip("-").isdigit()}


def _narrow(current: set[int] | None, vector: VectorAttribute, kind: str, what: str
            ) -> set[int] | None:
    """check_and_set_cluster_id: the clusters left once ``vector``'s are intersected."""
    text = vector.get("CLUSTER_ID")
    if text is None:
        return current
    mine = _ids(text)
    if not mine:
        raise IncompatibleResources(f"Missing clusters. {what} is not in any cluster")
    if current is None:
        return mine
    both = current & mine
    if not both:
        joined = ",".join(map(str, sorted(current)))
        raise IncompatibleResources(f"Incompatible clusters in {kind}. {what} is "
                                    "not in the same cluster as the one used by other VM "
                                    f"elements (cluster {joined})")
    return both


def cluster_ids(template: Template) -> set[int]:
    """The clusters shared by the VM's DISK datastores and NIC networks (empty: any)."""
    found: set[int] | None = None
    for i, disk in enumerate(template.get_vectors("DISK")):
        found = _narrow(found, disk, "DISK", f"Datastore for DISK {i}")
    for i, nic in enumerate(template.get_vectors("NIC")):
        found = _narrow(found, nic, "NIC", f"Network for NIC {i}")
    return found or set()


def host_requirements(clusters: Iterable[int], pinned: bool) -> str:
    """AUTOMATIC_REQUIREMENTS: the clusters, no public cloud, the pinning policy."""
    ids = sorted(clusters)
    text = ("(" + " | ".join(f"CLUSTER_ID = {c}" for c in ids) + ") & !(PUBLIC_CLOUD = YES)"
            if ids else "!(PUBLIC_CLOUD = YES)")
    return text + (" & (PIN_POLICY = PINNED)" if pinned else " & !(PIN_POLICY = PINNED)")


def _pinned(template: Template) -> bool:
    policy = next((t.get("PIN_POLICY") for t in template.get_vectors("TOPOLOGY")), None)
    return (policy or "NONE").strip().upper() != "NONE"


def compute(template: Template, compatible_ds: list[set[int]]) -> None:
    """Write the three AUTOMATIC_* attributes into the VM's TEMPLATE (replacing old ones).

    ``compatible_ds`` holds, per image DISK, the system datastores its datastore allows
    (COMPATIBLE_SYS_DS; empty: any). Raises IncompatibleResources as oned does.
    """
    clusters = cluster_ids(template)
    datastores: set[int] | None = None
    for i, allowed in enumerate(compatible_ds):
        if not allowed:
            continue
        if datastores is not None and not datastores & allowed:
            raise IncompatibleResources(
                f"Incompatible system datastore in DISK. Images Datastore for DISK {i} has "
                "not the same complatible system datastore(system datastores "
                f"{','.join(map(str, sorted(datastores)))})")
        datastores = allowed if datastores is None else datastores & allowed
    for name in AUTOMATIC:
        template.remove(name)
    template.add(SingleAttribute("AUTOMATIC_REQUIREMENTS",
                                 host_requirements(clusters, _pinned(template))))
    parts = []
    if clusters:
        in_clusters = "(" + " | ".join(f'"CLUSTERS/ID" @> {c}' for c in sorted(clusters)) + ")"
        template.add(SingleAttribute("AUTOMATIC_NIC_REQUIREMENTS", in_clusters))
        parts.append(in_clusters)
    if datastores:
        parts.append("(" + " | ".join(f'"ID" @> {d}' for d in sorted(datastores)) + ")")
    tm_mad_system = (template.get("TM_MAD_SYSTEM") or "").strip()
    if parts and tm_mad_system:
        parts.append(f'(TM_MAD = "{tm_mad_system}")')
    if any((d.get("SHAREABLE") or "").upper() == "YES" for d in template.get_vectors("DISK")):
        parts.append('(SHARED = "YES")')
    if parts:
        template.add(SingleAttribute("AUTOMATIC_DS_REQUIREMENTS", " & ".join(parts)))
