"""Turning what operators type (ids, names, ranges) into object ids.

``3``, ``web-1``, ``3,5,7-9`` and OpenNebula's ``7..9`` are all accepted
wherever ids are; names are looked up in the pool listing the user may see
(once per command and family), so a name that two objects share is refused
rather than guessed.
"""
from __future__ import annotations

import re

from lxml import etree

from nubo.cli.connection import Connection
from nubo.cli.error_output import CliError, UsageError
from nubo.cli.kinds import Kind

_RANGE = re.compile(r"(\d+)(?:-|\.\.)(\d+)\Z")
_MAX_RANGE = 100_000


def split_refs(spec: str) -> list[int | str]:
    """``"3,5,7-9,web"`` -> ``[3, 5, 7, 8, 9, "web"]`` (pure: names stay names)."""
    refs: list[int | str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            raise UsageError(f"empty item in the list '{spec}'")
        m = _RANGE.match(part)
        if part.isdigit():
            refs.append(int(part))
        elif m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi - lo >= _MAX_RANGE:
                raise UsageError(f"bad range '{part}': expected LOW-HIGH with LOW <= HIGH "
                                 f"and fewer than {_MAX_RANGE} ids")
            refs.extend(range(lo, hi + 1))
        else:
            refs.append(part)
    return refs


class Resolver:
    """Looks names up through the pool listings, caching one listing per family."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pools: dict[str, etree._Element] = {}

    def pool(self, kind: Kind, refresh: bool = False) -> etree._Element:
        if refresh or kind.pool not in self._pools:
            self._pools[kind.pool] = self._conn.xml(kind.pool, *kind.pool_args)
        return self._pools[kind.pool]

    def one(self, kind: Kind, ref: str) -> int:
        """The id of the object ``ref`` (an id or a name) names; exactly one."""
        ref = ref.strip()
        if re.fullmatch(r"-?\d+", ref):
            return int(ref)
        return self._by_name(kind, ref)

    def many(self, kind: Kind, spec: str) -> list[int]:
        """Ids for a list/range of ids and names, in the order given, without repeats."""
        ids = [r if isinstance(r, int) else self._by_name(kind, r) for r in split_refs(spec)]
        return list(dict.fromkeys(ids))

    def _by_name(self, kind: Kind, name: str) -> int:
        found = [int(el.findtext("ID")) for el in self.pool(kind).iterfind(kind.tag)
                 if el.findtext("NAME") == name]
        if not found:
            raise CliError(f"no {kind.label} named '{name}' (that you may see)")
        if len(found) > 1:
            ids = ", ".join(str(i) for i in sorted(found))
            raise CliError(f"{len(found)} {kind.label}s are named '{name}' (ids {ids}): "
                             "give an id")
        return found[0]
