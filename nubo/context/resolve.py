"""The CONTEXT section resolved at allocate, as oned's VirtualMachine::parse_context.

In order: FILES_DS is set aside; every value has its variables replaced
(nubo.context.variables); NETWORK = "YES" adds the ETHn_* of every NIC
(nubo.context.network); FILES_DS's ``$FILE[...]`` become ``SOURCE:'name'`` of
CONTEXT images; TOKEN = "YES" adds ONEGATE_ENDPOINT and VMID; TARGET and DISK_ID
are filled when no one set them. What the cloud knows beyond the VM (networks,
images, the owner) comes through :class:`Sources`, so this stays free of I/O.

Unlike oned, a reference to something the VM does not have (``$NIC[IP,
NETWORK="x"]`` with no NIC of network x, ``$IMAGE[SIZE, IMAGE="y"]`` with no
such disk) is refused instead of silently becoming "": such a context would
hand the guest an empty address.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from nubo.context.network import apply_network
from nubo.context.variables import ContextSyntaxError, Variable, parse_value
from nubo.model.vm import VirtualMachine
from nubo.template import VectorAttribute


class ContextError(ValueError):
    """A CONTEXT that cannot be resolved: the message names the attribute and why."""


@dataclass(frozen=True)
class FileImage:
    """An image ``$FILE[...]`` names: what FILES_DS needs of it."""

    id: int
    name: str
    source: str
    type: str    # OS, CDROM, ..., CONTEXT
    state: str   # READY, USED, ...
    datastore_id: int = -1  # where it is (OS/KERNEL_DS's *_DS_DSID)


class Sources(Protocol):
    """What the resolution reads outside the VM; "" when there is no such attribute."""

    def vm_xml(self) -> str:
        """The VM's whole body (for $TEMPLATE)."""

    def network_attribute(self, vnet_id: int, ar_id: int | None, name: str) -> str:
        """An attribute of the network's address range ``ar_id``, else of the network;
        TEMPLATE is the network's body in base64."""

    def image_attribute(self, image_id: int, name: str) -> str:
        """An attribute of the image's template; TEMPLATE is its body in base64."""

    def user_attribute(self, name: str) -> str:
        """An attribute of the owner's template; TEMPLATE is its body in base64."""

    def file_image(self, ref: dict[str, str]) -> FileImage:
        """The image a ``$FILE[...]`` names (IMAGE_ID, or IMAGE with IMAGE_UNAME /
        IMAGE_UID, default the VM's owner); raises ContextError if there is none."""


def b64(xml: str) -> str:
    """oned's to_xml64: the body in base64, on one line."""
    return base64.b64encode(xml.encode()).decode()


def parse_context(vm: VirtualMachine, sources: Sources, onegate_endpoint: str = "") -> None:
    """Resolve the VM's CONTEXT in place (nothing to do without one); ContextError if a
    value is malformed or names what the VM does not have."""
    context = vm.template.get_vector("CONTEXT")
    if context is None:
        return
    files_ds = context.get("FILES_DS")
    context.remove("FILES_DS")
    resolver = Resolver(vm, sources)
    for key, value in list(context.items()):
        if "$" in value:
            context.set(key, resolver.substitute(key, value))
    apply_network(context, nics_of(vm), resolver.network_of_nic)
    if files_ds:
        context.set("FILES_DS", _files_ds(files_ds, sources))
    if (context.get("TOKEN") or "").strip().upper() == "YES":
        token_context(vm, context, onegate_endpoint)
    fill_target(vm, context)


def token_context(vm: VirtualMachine, context: VectorAttribute, onegate_endpoint: str) -> None:
    """TOKEN = "YES": VMID, and ONEGATE_ENDPOINT when one is configured (oned refuses
    the VM without one; nubo accepts it, as templates made for clouds with OneGate
    ask for TOKEN without needing it), and CREATED_BY in the user template (vm.xsd's
    TEMPLATE has no place for it)."""
    if onegate_endpoint:
        context.set("ONEGATE_ENDPOINT", onegate_endpoint)
    context.set("VMID", str(vm.id))
    vm.user_template.set("CREATED_BY", str(vm.uid))


def nics_of(vm: VirtualMachine) -> list[VectorAttribute]:
    """The NICs and NIC aliases whose ETHn_* the context gets."""
    return [*vm.template.get_vectors("NIC"), *vm.template.get_vectors("NIC_ALIAS")]


def fill_target(vm: VirtualMachine, context: VectorAttribute) -> None:
    """The context CD-ROM's DISK_ID (after the VM's disks) and TARGET (the first free
    hd*), unless already set (the disks' allocation assigns them with the disks)."""
    disks = vm.template.get_vectors("DISK")
    if not context.get("DISK_ID"):
        context.set("DISK_ID", str(len(disks)))
    if not context.get("TARGET"):
        used = {(d.get("TARGET") or "").strip() for d in disks}
        context.set("TARGET", next(f"hd{c}" for c in "abcdefghijklmnopqrstuvwxyz"
                                   if f"hd{c}" not in used))


class Resolver:
    """Values of the variables of one VM."""

    def __init__(self, vm: VirtualMachine, sources: Sources) -> None:
        self.vm = vm
        self.sources = sources

    def substitute(self, key: str, value: str) -> str:
        try:
            parts = parse_value(value)
        except ContextSyntaxError as e:
            raise ContextError(f"Cannot parse CONTEXT/{key}: {e}") from None
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif part.attr is None:
                out.append(self.single(part.name))
            else:
                out.append(self.vector(key, part))
        return "".join(out)

    def single(self, name: str) -> str:
        vm = self.vm
        known = {"UID": str(vm.uid), "UNAME": vm.uname, "GID": str(vm.gid),
                 "GNAME": vm.gname, "NAME": vm.name, "VM_ID": str(vm.id), "VMID": str(vm.id)}
        if name in known:
            return known[name]
        if name == "TEMPLATE":
            return b64(self.sources.vm_xml())
        return vm.template.get(name) or vm.user_template.get(name) or ""

    def vector(self, key: str, var: Variable) -> str:
        assert var.attr is not None
        if var.name == "USER":
            return self.sources.user_attribute(var.attr)
        if var.name == "NETWORK":
            nic = self._match(key, var, nics_of(self.vm), ("NETWORK", "NETWORK_ID", "NIC_ID"))
            return "" if nic is None else self.network_of_nic(nic, var.attr)
        if var.name == "IMAGE":
            disk = self._match(key, var, self.vm.template.get_vectors("DISK"),
                               ("IMAGE", "IMAGE_ID"))
            image_id = _number(disk.get("IMAGE_ID") if disk is not None else None)
            return "" if image_id is None else self.sources.image_attribute(image_id, var.attr)
        found = self._match(key, var, self.vm.template.get_vectors(var.name), None)
        return (found.get(var.attr) or "") if found is not None else ""

    def _match(self, key: str, var: Variable, vectors: Iterable[VectorAttribute],
               keys: tuple[str, ...] | None) -> VectorAttribute | None:
        """The first vector (no KEY) or the first whose KEY is VALUE (refused if none)."""
        vectors = list(vectors)
        if var.key is None:
            return vectors[0] if vectors else None
        if keys is not None and var.key not in keys:
            raise ContextError(f"Cannot parse CONTEXT/{key}: {var.text()} can select by "
                               f"{' or '.join(keys)} only")
        for vector in vectors:
            if vector.get(var.key) == var.value:
                return vector
        what = "NIC" if var.name == "NETWORK" else "DISK" if var.name == "IMAGE" else var.name
        raise ContextError(f"Cannot parse CONTEXT/{key}: the VM has no {what} with "
                           f'{var.key}="{var.value}" ({var.text()})')

    def network_of_nic(self, nic: VectorAttribute, name: str) -> str:
        vnet_id = _number(nic.get("NETWORK_ID"))
        if vnet_id is None:
            return ""
        return self.sources.network_attribute(vnet_id, _number(nic.get("AR_ID")), name)


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


# ------------------------------------------------------------------------------ FILES_DS

_FILE = re.compile(r"\$FILE\[([^\]]*)\]", re.IGNORECASE)
_PAIR = re.compile(r'\s*([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([A-Za-z0-9_.-]+))\s*(?:,|$)')


def file_references(text: str) -> list[dict[str, str]]:
    """The ``$FILE[IMAGE_ID=n]`` / ``$FILE[IMAGE="x", IMAGE_UNAME="u"]`` of a FILES_DS,
    each as {KEY: value}; ContextError if anything else is there."""
    refs: list[dict[str, str]] = []
    pos = 0
    for found in _FILE.finditer(text):
        if text[pos:found.start()].strip():
            raise ContextError(f"Cannot parse CONTEXT/FILES_DS: unexpected "
                               f"{text[pos:found.start()].strip()!r}; write $FILE[IMAGE_ID=n]")
        body, ref, at = found.group(1), {}, 0
        while at < len(body):
            pair = _PAIR.match(body, at)
            if pair is None or pair.end() == at:
                raise ContextError(f"Cannot parse CONTEXT/FILES_DS: malformed {found.group()}")
            ref[pair.group(1).upper()] = pair.group(2) if pair.group(2) is not None \
                else pair.group(3)
            at = pair.end()
        if not ({"IMAGE", "IMAGE_ID"} & ref.keys()):
            raise ContextError(f"Cannot parse CONTEXT/FILES_DS: {found.group()} names no "
                               "IMAGE or IMAGE_ID")
        refs.append(ref)
        pos = found.end()
    if text[pos:].strip():
        raise ContextError(f"Cannot parse CONTEXT/FILES_DS: unexpected {text[pos:].strip()!r};"
                           " write $FILE[IMAGE_ID=n]")
    return refs


def _files_ds(text: str, sources: Sources) -> str:
    """oned's FILES_DS value: ``SOURCE:'name' `` for each CONTEXT image named."""
    out = []
    for ref in file_references(text):
        image = sources.file_image(ref)
        if image.type != "CONTEXT":
            raise ContextError("Only images of type CONTEXT can be used in FILE_DS attribute.")
        if image.state != "READY":
            raise ContextError(f"{image.type} Image '{image.id}' not in READY state.")
        out.append(f"{image.source}:'{image.name}' ")
    return "".join(out)
