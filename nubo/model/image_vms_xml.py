"""An image's VMS and RUNNING_VMS as clients see them, spliced into its stored body.

The VMs using an image live in their own table (nubo.store.image_vms), one row per
(image, VM), so taking an image for one more VM never rewrites a list that grows with
the cloud. The stored body keeps ``<RUNNING_VMS>0</RUNNING_VMS>`` and an empty ``VMS``;
every read puts the table's rows there. Both are top-level elements that come before
TEMPLATE (image.xsd's order), so their first occurrence is theirs: a user attribute of
the same name can only come later. An empty VMS is written ``<VMS></VMS>``, as every
other id list of a body (nubo.model.xmlobj).
"""
from __future__ import annotations

from collections.abc import Sequence

from nubo.model.id_lists_xml import put_ids

_RUNNING = ("<RUNNING_VMS>", "</RUNNING_VMS>")


def without_vms(body: str) -> str:
    """A body as stored: no VM counted in it (its VMS are the table's)."""
    return with_vms(body, ())


def with_vms(body: str, vm_ids: Sequence[int]) -> str:
    """``body`` with RUNNING_VMS and VMS saying ``vm_ids`` (sorted, as oned lists them),
    whatever they said before."""
    start = body.find(_RUNNING[0])
    end = body.find(_RUNNING[1], start)
    if start < 0 or end < 0:
        return body
    body = body[:start + len(_RUNNING[0])] + str(len(vm_ids)) + body[end:]
    return put_ids(body, "VMS", vm_ids, end)[0]
