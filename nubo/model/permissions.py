"""OpenNebula's per-object permission bits: owner/group/other x use/manage/admin.

Every pool object carries these nine bits (``<PERMISSIONS>`` in its XML). They
are the first thing authorization looks at, before any ACL rule; chmod edits
them and the umask decides their value when an object is created.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from nubo.errors import ApiError

FIELD_NAMES: tuple[str, ...] = (
    "owner_u", "owner_m", "owner_a",
    "group_u", "group_m", "group_a",
    "other_u", "other_m", "other_a",
)
"""The nine bits in shared.xsd's PERMISSIONS order (also one.*.chmod's argument order)."""

DEFAULT_UMASK = 0o177
"""oned.conf's shipped DEFAULT_UMASK: new objects get 600 (owner use+manage)."""

_TAGS = tuple(n.upper() for n in FIELD_NAMES)

# Octal weight of each bit, in FIELD_NAMES order (0400 = owner use ... 0001 = other admin).
_WEIGHTS: tuple[int, ...] = (0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001)


@dataclass(frozen=True, slots=True)
class Permissions:
    """The nine permission bits of one object, each 0 or 1.

    The defaults are OpenNebula's own (a fresh PoolObjectSQL is 600).
    Field order is the XML element order, so model serialisers can walk it.
    """

    owner_u: int = 1
    owner_m: int = 1
    owner_a: int = 0
    group_u: int = 0
    group_m: int = 0
    group_a: int = 0
    other_u: int = 0
    other_m: int = 0
    other_a: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (0, 1) or not isinstance(value, int):
                raise ValueError(f"permission bit {f.name.upper()} must be 0 or 1, not {value!r}")
            if type(value) is not int:  # normalise bools to plain ints for XML output
                object.__setattr__(self, f.name, int(value))

    # -- conversions -------------------------------------------------------
    def as_tuple(self) -> tuple[int, ...]:
        """The bits in FIELD_NAMES order."""
        return (self.owner_u, self.owner_m, self.owner_a, self.group_u, self.group_m,
                self.group_a, self.other_u, self.other_m, self.other_a)

    @classmethod
    def from_tuple(cls, values: tuple[int, ...] | list[int]) -> Permissions:
        """Build from nine bits in FIELD_NAMES order."""
        if len(values) != 9:
            raise ValueError(f"expected 9 permission bits, got {len(values)}")
        return cls(*values)

    @property
    def mode(self) -> int:
        """The bits as a Unix-like mode number (e.g. 0o640)."""
        return sum(w for w, bit in zip(_WEIGHTS, self.as_tuple()) if bit)

    @classmethod
    def from_mode(cls, mode: int) -> Permissions:
        """Build from a mode number (0 .. 0o777)."""
        if not 0 <= mode <= 0o777:
            raise ApiError(f"Permission mode {mode:o} is out of range (000-777)")
        return cls(*(1 if mode & w else 0 for w in _WEIGHTS))

    @classmethod
    def from_octal(cls, octal: str | int) -> Permissions:
        """Parse an octal mode as the CLI takes it: "640" or 0o640 -> owner U+M, group U.

        An int is taken as the mode number itself, so pass 0o640, not 640.
        """
        if isinstance(octal, str):
            text = octal.strip()
            if not text or len(text) > 4 or any(c not in "01234567" for c in text):
                raise ApiError(f"Invalid octal permissions '{octal}'")
            return cls.from_mode(int(text, 8))
        return cls.from_mode(octal)

    def to_octal(self) -> str:
        """Three octal digits, e.g. "640"."""
        return f"{self.mode:03o}"

    def to_xml(self) -> str:
        """``<PERMISSIONS>`` exactly as oned writes it (shared.xsd order, no whitespace)."""
        body = "".join(f"<{tag}>{v}</{tag}>" for tag, v in zip(_TAGS, self.as_tuple()))
        return f"<PERMISSIONS>{body}</PERMISSIONS>"

    def triplets(self) -> tuple[str, str, str]:
        """The CLI's "um-" style strings for owner, group and other."""
        bits = self.as_tuple()
        return tuple(  # type: ignore[return-value]
            "".join(ch if bits[i + k] else "-" for k, ch in enumerate("uma")) for i in (0, 3, 6))

    # -- one.*.chmod -------------------------------------------------------
    def chmod(self, *values: int) -> Permissions:
        """Apply one.*.chmod's nine arguments: 1 sets, 0 clears, -1 keeps the bit."""
        _check_chmod_args(values)
        current = self.as_tuple()
        return Permissions(*(cur if new == -1 else new for cur, new in zip(current, values)))

    def chmod_needs(self, *values: int) -> tuple[bool, bool]:
        """What a chmod asks for: (needs ADMIN instead of MANAGE, changes 'other' bits).

        Mirrors RequestManagerChmod: arguments equal to the current value count
        as unchanged, ADMIN is needed to change any *_A bit, and changing an
        OTHER_* bit is refused unless ENABLE_OTHER_PERMISSIONS (or the caller
        is an administrator).
        """
        _check_chmod_args(values)
        cur = dict(zip(FIELD_NAMES, self.as_tuple()))
        new = dict(zip(FIELD_NAMES, values))
        changed = {n for n in ("owner_a", "group_a", "other_u", "other_m", "other_a")
                   if new[n] != -1 and new[n] != cur[n]}
        needs_admin = bool(changed & {"owner_a", "group_a", "other_a"})
        touches_other = bool(changed & {"other_u", "other_m", "other_a"})
        return needs_admin, touches_other


def _check_chmod_args(values: tuple[int, ...]) -> None:
    if len(values) != 9:
        raise ApiError(f"chmod needs 9 permission values, got {len(values)}")
    for name, value in zip(FIELD_NAMES, values):
        if isinstance(value, bool) or not isinstance(value, int) or value not in (-1, 0, 1):
            raise ApiError(
                f"New permission values must be -1, 0 or 1: {name.upper()} is {value!r}")


def parse_umask(umask: str | int) -> int:
    """A umask as oned reads it: an octal string ("177") or an int mode (0o177)."""
    if isinstance(umask, str):
        text = umask.strip()
        if not text or any(c not in "01234567" for c in text):
            raise ValueError(f"Invalid umask '{umask}'")
        umask = int(text, 8)
    if not 0 <= umask <= 0o777:
        raise ValueError(f"umask {umask:o} is out of range (000-777)")
    return umask


def apply_umask(umask: str | int = DEFAULT_UMASK, uid: int = -1, gid: int = -1,
                enable_other: bool = True) -> Permissions:
    """Permissions of a new object, as PoolObjectSQL::set_umask computes them.

    Objects of oneadmin (uid 0) or the oneadmin group (gid 0) start from 777,
    others from 666 (660 when ENABLE_OTHER_PERMISSIONS is off); the umask then
    clears bits. With the default umask 177 every object starts as 600.
    """
    base = 0o777 if uid == 0 or gid == 0 else (0o666 if enable_other else 0o660)
    return Permissions.from_mode(base & ~parse_umask(umask) & 0o777)
