"""The context CD-ROM of a VM (stub until contextualization lands)."""
from __future__ import annotations

from pathlib import Path


def write_context_iso(vm_xml: str, dest: Path, files: list[Path]) -> None:
    """Write the VM's context CD-ROM to ``dest``: an ISO 9660 image labelled CONTEXT
    holding context.sh (from the CONTEXT vector of ``vm_xml``, the VM's body) and
    ``files`` (FILES_DS images and FILES paths)."""
    raise NotImplementedError("context CD-ROMs are not built yet")
