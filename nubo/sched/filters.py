"""Why a host (or datastore) cannot take a VM: tiny predicates and the messages they give.

Each filter answers for one host and one VM; nubo.sched.cycle applies them in
the order below (cheapest and most permanent first) and, when no host is left,
tells the VM's SCHED_MESSAGE which filter removed the last ones.
"""
from __future__ import annotations

from nubo.sched.records import PLACEABLE_STATES, DatastoreRecord, HostRecord

# SCHED_MESSAGE texts, as OpenNebula's scheduler words them where it has one.
NO_HOSTS = "No host is enabled and MONITORED to run VMs"
NO_REQUIREMENTS = "No host meets SCHED_REQUIREMENTS"
NO_AUTOMATIC = "No host meets the VM's automatic requirements (AUTOMATIC_REQUIREMENTS)"
NO_CAPACITY = "No host with enough capacity to deploy the VM"
NO_DS = "No system datastore meets SCHED_DS_REQUIREMENTS"
NO_DS_CAPACITY = "No system datastore in the hosts' clusters with enough capacity for the VM"
NO_AFFINITY = "No host meets the VM group's affinity rules"
NO_IMAGE_DS = "Image datastore does not have enough capacity for the VM's disk clones"

#: The order of the reasons when several removed hosts: the most specific wins.
REASONS = (NO_AFFINITY, NO_DS_CAPACITY, NO_CAPACITY)


def placeable(host: HostRecord) -> bool:
    """MONITORED (an enabled host that answered its last probe)."""
    return host.state in PLACEABLE_STATES


def has_room(host: HostRecord, cpu: int, mem: int) -> bool:
    """CPU and memory left below MAX_CPU / MAX_MEM (over-commitment already applied)."""
    return host.fits(cpu, mem)


def under_limit(dispatched: int, max_host: int) -> bool:
    """Fewer VMs dispatched to the host in this cycle than MAX_HOST (0: no limit)."""
    return max_host == 0 or dispatched < max_host


def images_fit(datastores: dict[int, DatastoreRecord], needs: tuple[tuple[int, int], ...]
                ) -> bool:
    """Room in each image datastore for the VM's clones made there (CLONE_TARGET = SELF)."""
    return all(ds_id not in datastores or datastores[ds_id].fits(mb) for ds_id, mb in needs)


def datastore_takes(ds: DatastoreRecord, host: HostRecord, disk_mb: int) -> bool:
    """A system datastore of the host's cluster with room for the VM's disks."""
    return host.cluster_id in ds.clusters and ds.fits(disk_mb)
