"""The context CD-ROM of a VM: what OpenNebula's context transfer script makes with
``genisoimage -V CONTEXT -J -R``, here with pycdlib.

An ISO 9660 image labelled CONTEXT holding context.sh (nubo.context.script) and the
FILES / FILES_DS files under their names (a directory with its whole tree). Names
are 8.3 upper case in the ISO 9660 tree as genisoimage mangles them (CONTEXT.SH;1,
SERVI000.CON;1 for a second SERVICE.CON), and kept as they are in the Joliet and
Rock Ridge trees, which the guests read. The image is written beside ``dest`` and
renamed over it, so a reader never sees half of one.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pycdlib
from lxml import etree

from nubo.context.script import SCRIPT_NAME, context_files, render_context_sh
from nubo.template import VectorAttribute, parse_xml

LABEL = "CONTEXT"
_JOLIET_MAX = 64
_BAD = re.compile(r"[^A-Z0-9_]")
_FILES_DS_WORD = re.compile(r"(.+?):'([^']*)'")


class ContextIsoError(RuntimeError):
    """The CD-ROM cannot be made: a file to put on it is missing or unreadable."""


def context_of(vm_xml: str) -> VectorAttribute:
    """The CONTEXT vector of a VM body (``<VM>…<TEMPLATE>…``) or a bare TEMPLATE."""
    root = etree.fromstring(vm_xml.encode())
    template = root if root.tag == "TEMPLATE" else root.find("TEMPLATE")
    if template is None:
        return VectorAttribute("CONTEXT")
    found = parse_xml(etree.tostring(template)).get_vector("CONTEXT")
    return found if found is not None else VectorAttribute("CONTEXT")


def write_context_iso(vm_xml: str, dest: Path, files: list[Path]) -> None:
    """Write the VM's context CD-ROM to ``dest``: an ISO 9660 image labelled CONTEXT
    holding context.sh (from the CONTEXT vector of ``vm_xml``, the VM's body) and
    ``files`` (FILES_DS images and FILES paths)."""
    context = context_of(vm_xml)
    names = {os.path.normpath(f.source): f.name for f in context_files(context)}
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    tree = _Tree(iso)
    script = render_context_sh(context).encode()
    tree.add_bytes("/", SCRIPT_NAME, script)
    for given in files:
        path, name = _source_and_name(str(given), names)
        if path.is_dir():
            tree.add_tree("/", name, path)
        elif path.is_file():
            tree.add_file("/", name, path)
        else:
            raise ContextIsoError(f"cannot put {path} on the context CD-ROM: no such file")
    dest = Path(dest)
    partial = dest.with_name(dest.name + ".partial")
    try:
        iso.write(str(partial))
        os.replace(partial, dest)
    finally:
        iso.close()
        partial.unlink(missing_ok=True)


def _source_and_name(word: str, names: dict[str, str]) -> tuple[Path, str]:
    """A file of the CONTEXT line: a FILES_DS entry ``SOURCE:'name'`` or a path (named
    as CONTEXT's FILES / FILES_DS name it, else by its last component)."""
    entry = _FILES_DS_WORD.fullmatch(word)
    if entry is not None:
        return Path(entry.group(1)), entry.group(2)
    path = Path(word)
    return path, names.get(os.path.normpath(word), path.name)


class _Tree:
    """Adds files and directories to a new image, naming each in its three trees."""

    def __init__(self, iso: pycdlib.PyCdlib) -> None:
        self.iso = iso
        self.taken: dict[str, set[tuple[str, str]]] = {}  # ISO 9660 directory -> names
        self.keep: list[io.BytesIO] = []       # pycdlib reads them at write time

    def _paths(self, parent: str, name: str, directory: bool) -> tuple[str, str, str]:
        """(ISO 9660 path, Joliet path, Rock Ridge name) of ``name`` in ``parent``
        (parent given as its ISO 9660 path; its Joliet path kept alongside)."""
        iso_parent, joliet_parent = parent.split("\0") if "\0" in parent else (parent, parent)
        mangled = self._mangle(iso_parent, name, directory)
        iso_path = f"{iso_parent.rstrip('/')}/{mangled}"
        joliet_path = f"{joliet_parent.rstrip('/')}/{name[:_JOLIET_MAX]}"
        return iso_path, joliet_path, name

    def _mangle(self, parent: str, name: str, directory: bool) -> str:
        """genisoimage's level-1 name: 8 characters, a 3-character extension, a
        counter in the last three of the 8 if that name is taken."""
        upper = name.upper()
        base, _, ext = upper.rpartition(".") if "." in upper and not directory else (upper, "", "")
        base = _BAD.sub("_", base)[:8] or "_"
        ext = _BAD.sub("_", ext)[:3]
        taken = self.taken.setdefault(parent, set())
        candidate, counter = base, 0
        while (candidate, ext) in taken:
            candidate = f"{base[:5]}{counter:03d}"
            counter += 1
        taken.add((candidate, ext))
        full = f"{candidate}.{ext}" if ext else candidate
        return full if directory else f"{full};1"

    def add_bytes(self, parent: str, name: str, data: bytes) -> None:
        iso_path, joliet_path, rr_name = self._paths(parent, name, False)
        stream = io.BytesIO(data)
        self.keep.append(stream)
        self.iso.add_fp(stream, len(data), iso_path, rr_name=rr_name, joliet_path=joliet_path)

    def add_file(self, parent: str, name: str, path: Path) -> None:
        iso_path, joliet_path, rr_name = self._paths(parent, name, False)
        try:
            self.iso.add_file(str(path), iso_path, rr_name=rr_name, joliet_path=joliet_path)
        except OSError as e:
            raise ContextIsoError(f"cannot put {path} on the context CD-ROM: {e}") from None

    def add_tree(self, parent: str, name: str, path: Path) -> None:
        iso_path, joliet_path, rr_name = self._paths(parent, name, True)
        self.iso.add_directory(iso_path, rr_name=rr_name, joliet_path=joliet_path)
        here = f"{iso_path}\0{joliet_path}"
        for child in sorted(path.iterdir()):
            if child.is_dir():
                self.add_tree(here, child.name, child)
            elif child.is_file():
                self.add_file(here, child.name, child)
