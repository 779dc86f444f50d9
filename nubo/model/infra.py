"""Physical infrastructure: hosts, clusters and datastores."""
from __future__ import annotations

from dataclasses import dataclass, field

from nubo.model.permissions import Permissions
from nubo.model.xmlobj import RawXml, xml_field
from nubo.template import Template

# Host states (OpenNebula's Host::HostState).
HOST_INIT, HOST_MONITORING_MONITORED, HOST_MONITORED, HOST_ERROR, HOST_DISABLED = 0, 1, 2, 3, 4
HOST_MONITORING_ERROR, HOST_MONITORING_INIT, HOST_MONITORING_DISABLED, HOST_OFFLINE = 5, 6, 7, 8

# Datastore types and states.
DS_IMAGE, DS_SYSTEM, DS_FILE, DS_BACKUP = 0, 1, 2, 3
DS_TYPE_NAMES = {"IMAGE_DS": DS_IMAGE, "SYSTEM_DS": DS_SYSTEM, "FILE_DS": DS_FILE,
                 "BACKUP_DS": DS_BACKUP}
DS_READY, DS_DISABLED = 0, 1

# Image::DiskType: how a datastore's (or image's) disks are presented to VMs.
DISK_TYPE_NAMES = {"FILE": 0, "CDROM": 1, "BLOCK": 2, "RBD": 3, "RBD_CDROM": 4, "GLUSTER": 5,
                   "GLUSTER_CDROM": 6, "SHEEPDOG": 7, "SHEEPDOG_CDROM": 8, "ISCSI": 9}


#: oned.conf's DATASTORE_LOCATION: where datastores live on the hosts (a datastore's
#: BASE_PATH is this plus its id; a VM's system directory is BASE_PATH/VM_ID).
DATASTORE_LOCATION = "/var/lib/one//datastores/"


@dataclass
class HostDatastores:
    disk_usage: int = 0
    ds: RawXml = xml_field("DS", default=RawXml(""))
    free_disk: int = 0
    max_disk: int = 0
    used_disk: int = 0


@dataclass
class HostShare:
    """Capacity of a host, in CPU hundredths and KiB as OpenNebula counts them."""

    mem_usage: int = 0
    cpu_usage: int = 0
    total_mem: int = 0
    total_cpu: int = 0
    max_mem: int = 0
    max_cpu: int = 0
    running_vms: int = 0
    vms_thread: int = 1
    datastores: HostDatastores = field(default_factory=HostDatastores)
    pci_devices: RawXml = xml_field("PCI_DEVICES", default=RawXml("<PCI_DEVICES/>"))
    numa_nodes: RawXml = xml_field("NUMA_NODES", default=RawXml("<NUMA_NODES/>"))


@dataclass
class Host:
    id: int
    name: str
    state: int
    prev_state: int
    im_mad: str
    vm_mad: str
    cluster_id: int
    cluster: str
    host_share: HostShare = field(default_factory=HostShare)
    vms: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)
    monitoring: RawXml = xml_field("MONITORING", default=RawXml("<MONITORING/>"))

    TAG = "HOST"


@dataclass
class Cluster:
    id: int
    name: str
    hosts: list[int] = field(default_factory=list)
    datastores: list[int] = field(default_factory=list)
    vnets: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)

    TAG = "CLUSTER"


@dataclass
class Datastore:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    permissions: Permissions
    ds_mad: str
    tm_mad: str
    base_path: str
    type: int
    disk_type: int
    state: int
    clusters: list[int] = field(default_factory=list)
    total_mb: int = 0
    free_mb: int = 0
    used_mb: int = 0
    images: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)

    TAG = "DATASTORE"
