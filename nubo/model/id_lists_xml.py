"""Id lists spliced into stored bodies (``<VMS><ID>1</ID>...</VMS>``).

Lists that grow with the cloud (the VMs using an image or a security group) live in
tables of their own, one row per member, so adding a member never rewrites a growing
body; every read puts them back into the body here. The lists are top-level elements
before TEMPLATE, so the first occurrence of a tag after ``start`` is theirs: a user
attribute of the same name can only come later.
"""
from __future__ import annotations

from collections.abc import Sequence


def put_ids(body: str, tag: str, ids: Sequence[int], start: int = 0) -> tuple[str, int]:
    """``body`` with its first ``<tag>`` list (at or after ``start``) holding ``ids``
    sorted, written ``<tag></tag>`` when empty; also where that element ends (``start``
    unchanged when there is none)."""
    begin = body.find(f"<{tag}", start)
    if begin < 0:
        return body, start
    empty = f"<{tag}/>"
    if body.startswith(empty, begin):
        stop = begin + len(empty)
    else:
        close = f"</{tag}>"
        stop = body.find(close, begin)
        if stop < 0:
            return body, start
        stop += len(close)
    listed = "".join(f"<ID>{i}</ID>" for i in sorted(ids))
    element = f"<{tag}>{listed}</{tag}>"
    return body[:begin] + element + body[stop:], begin + len(element)
