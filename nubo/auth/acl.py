"""ACL rules in OpenNebula's 64-bit encoding, their text form and their checks.

A rule is four 64-bit numbers (AclRule.h):
  user      = selector flag (#, @, *) in bits 32-35 | user or group id in bits 0-31
  resource  = object type bits (36-63) | selector flag (#, @, %, *) | object id
  rights    = USE 0x1 | MANAGE 0x2 | ADMIN 0x4 | CREATE 0x8
  zone      = selector flag (#, *) | zone id
The values are kept as signed 64-bit ints, like oned's ``long long`` (and the
BIGINT columns that store them); clients see them as lowercase hex, as oned's
``std::hex`` prints them. Pure functions only: storing rules is someone else's job.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from nubo.errors import ApiError, InternalError

INDIVIDUAL_ID = 0x0000_0001_0000_0000  # '#'
GROUP_ID = 0x0000_0002_0000_0000       # '@'
ALL_ID = 0x0000_0004_0000_0000         # '*'
CLUSTER_ID = 0x0000_0008_0000_0000     # '%'
NONE_ID = 0x1000_0000_0000_0000        # never part of a valid rule; a mask that matches nothing
ID_MASK = 0xFFFF_FFFF
SELECTOR_MASK = 0xF_0000_0000
_MASK64 = (1 << 64) - 1


class ObjectType(enum.IntEnum):
    """PoolObjectSQL::ObjectType bits, used as the resource part of a rule."""

    NONE = 0
    VM = 0x0000_0010_0000_0000
    HOST = 0x0000_0020_0000_0000
    NET = 0x0000_0040_0000_0000
    IMAGE = 0x0000_0080_0000_0000
    USER = 0x0000_0100_0000_0000
    TEMPLATE = 0x0000_0200_0000_0000
    GROUP = 0x0000_0400_0000_0000
    ACL = 0x0000_0800_0000_0000
    DATASTORE = 0x0000_1000_0000_0000
    CLUSTER = 0x0000_2000_0000_0000
    DOCUMENT = 0x0000_4000_0000_0000
    ZONE = 0x0000_8000_0000_0000
    SECGROUP = 0x0001_0000_0000_0000
    VDC = 0x0002_0000_0000_0000
    VROUTER = 0x0004_0000_0000_0000
    MARKETPLACE = 0x0008_0000_0000_0000
    MARKETPLACEAPP = 0x0010_0000_0000_0000
    VMGROUP = 0x0020_0000_0000_0000
    VNTEMPLATE = 0x0040_0000_0000_0000
    HOOK = 0x0080_0000_0000_0000
    BACKUPJOB = 0x0100_0000_0000_0000
    SCHEDULEDACTION = 0x0200_0000_0000_0000


class Operation(enum.IntEnum):
    """AuthRequest::Operation; the *_NO_LCK variants ignore object locks."""

    NONE = 0x0
    USE = 0x1
    MANAGE = 0x2
    ADMIN = 0x4
    CREATE = 0x8
    USE_NO_LCK = 0x11
    MANAGE_NO_LCK = 0x12
    ADMIN_NO_LCK = 0x14
    CREATE_NO_LCK = 0x18


USE, MANAGE, ADMIN, CREATE = Operation.USE, Operation.MANAGE, Operation.ADMIN, Operation.CREATE

RULE_TYPES: tuple[ObjectType, ...] = (
    ObjectType.VM, ObjectType.HOST, ObjectType.NET, ObjectType.IMAGE, ObjectType.USER,
    ObjectType.TEMPLATE, ObjectType.GROUP, ObjectType.DATASTORE, ObjectType.CLUSTER,
    ObjectType.DOCUMENT, ObjectType.ZONE, ObjectType.SECGROUP, ObjectType.VDC,
    ObjectType.VROUTER, ObjectType.MARKETPLACE, ObjectType.MARKETPLACEAPP,
    ObjectType.VMGROUP, ObjectType.VNTEMPLATE, ObjectType.BACKUPJOB)
"""Types a rule's text form can name, in the order oned prints them (AclRule::pool_objects)."""

RULE_RIGHTS: tuple[Operation, ...] = (USE, MANAGE, ADMIN, CREATE)

_OBJ = ObjectType
INVALID_CLUSTER_OBJECTS = (
    _OBJ.VM | _OBJ.IMAGE | _OBJ.USER | _OBJ.TEMPLATE | _OBJ.GROUP | _OBJ.ACL | _OBJ.CLUSTER
    | _OBJ.DOCUMENT | _OBJ.ZONE | _OBJ.SECGROUP | _OBJ.VDC | _OBJ.VROUTER | _OBJ.MARKETPLACE
    | _OBJ.MARKETPLACEAPP | _OBJ.VMGROUP | _OBJ.VNTEMPLATE)
INVALID_GROUP_OBJECTS = _OBJ.HOST | _OBJ.GROUP | _OBJ.CLUSTER | _OBJ.ZONE | _OBJ.VDC
FEDERATED_OBJECTS = _OBJ.USER | _OBJ.GROUP | _OBJ.ZONE | _OBJ.ACL | _OBJ.VDC


def to_s64(value: int) -> int:
    """Wrap an int to a signed 64-bit value (C++ ``long long``)."""
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def _s32(value: int) -> int:
    value &= ID_MASK
    return value - (1 << 32) if value >> 31 else value


@dataclass(frozen=True, slots=True)
class AclRule:
    """One ACL rule; ``id`` is its oid (-1 before it is stored)."""

    id: int
    user: int
    resource: int
    rights: int
    zone: int

    def __post_init__(self) -> None:
        for name in ("id", "user", "resource", "rights", "zone"):
            value = getattr(self, name)
            if type(value) is not int or value != to_s64(value):  # plain, wrapped ints only
                object.__setattr__(self, name, to_s64(int(value)))

    @property
    def key(self) -> tuple[int, int, int, int]:
        """What makes two rules the same rule (oned ignores the id)."""
        return (self.user, self.resource, self.rights, self.zone)

    @property
    def user_id(self) -> int:
        return _s32(self.user)

    @property
    def resource_id(self) -> int:
        return _s32(self.resource)

    @property
    def zone_id(self) -> int:
        return _s32(self.zone)

    def to_string(self) -> str:
        """The rule as ``oneacl list`` and ``<STRING>`` show it, e.g. "@1 VM+IMAGE/* CREATE *"."""
        u, r = self.user, self.resource
        user = (f"@{self.user_id}" if u & GROUP_ID else f"#{self.user_id}" if u & INDIVIDUAL_ID
                else "*" if u & ALL_ID else "??")
        types = "+".join(t.name for t in RULE_TYPES if r & t)
        rid = self.resource_id
        sel = (f"@{rid}" if r & GROUP_ID else f"#{rid}" if r & INDIVIDUAL_ID
               else f"%{rid}" if r & CLUSTER_ID else "*" if r & ALL_ID else "??")
        rights = "+".join(op.name for op in RULE_RIGHTS if self.rights & op)
        zone = (f"#{self.zone_id}" if self.zone & INDIVIDUAL_ID else "*" if self.zone & ALL_ID
                else "??")
        return f"{user} {types}/{sel} {rights} {zone}"

    __str__ = to_string

    def to_xml(self) -> str:
        """``<ACL>`` as in one.acl.info (acl_pool.xsd); numbers in oned's lowercase hex."""
        return (f"<ACL><ID>{self.id}</ID><USER>{hex64(self.user)}</USER>"
                f"<RESOURCE>{hex64(self.resource)}</RESOURCE><RIGHTS>{hex64(self.rights)}</RIGHTS>"
                f"<ZONE>{hex64(self.zone)}</ZONE><STRING>{self.to_string()}</STRING></ACL>")

    def malformed(self) -> str | None:
        """oned's AclRule::malformed: every problem, '; '-joined, or None if the rule is valid."""
        return _malformed(self)


def hex64(value: int) -> str:
    """A component as oned prints it: lowercase hex of the unsigned 64-bit pattern, no 0x."""
    return format(value & _MASK64, "x")


def pool_to_xml(rules: Iterable[AclRule]) -> str:
    """one.acl.info's body. oned dumps its rule multimap, i.e. ordered by USER, then id."""
    ordered = sorted(rules, key=lambda r: (r.user, r.id))
    return "<ACL_POOL>" + "".join(r.to_xml() for r in ordered) + "</ACL_POOL>"


# -- validation ---------------------------------------------------------------
def _malformed(rule: AclRule) -> str | None:
    user, res, zone, rights = rule.user, rule.resource, rule.zone, rule.rights
    out: list[str] = []

    def err(msg: str, sep: bool = True) -> None:
        # oned forgets the "; " before its zone GROUP message; keep that quirk.
        out.append(("; " if out and sep else "") + msg)

    if user & INDIVIDUAL_ID and user & GROUP_ID:
        err("[user] INDIVIDUAL (#) and GROUP (@) bits are exclusive")
    if user & INDIVIDUAL_ID and user & ALL_ID:
        err("[user] INDIVIDUAL (#) and ALL (*) bits are exclusive")
    if user & GROUP_ID and user & ALL_ID:
        err("[user] GROUP (@) and ALL (*) bits are exclusive")
    if user & 0x7_0000_0000 == 0:
        err("[user] is missing one of the INDIVIDUAL, GROUP or ALL bits")
    if rule.user_id < 0:
        err("[user] ID cannot be negative")
    if user & ALL_ID and rule.user_id != 0:
        err("when using the ALL bit, [user] ID must be 0")

    sel = res & SELECTOR_MASK
    if any(res & flag and sel != flag for flag in (INDIVIDUAL_ID, GROUP_ID, CLUSTER_ID, ALL_ID)):
        err("[resource] INDIVIDUAL (#), GROUP (@), CLUSTER (%) and ALL (*) bits are exclusive")
    rtype = res & 0xFFFF_FFF0_0000_0000
    if res & CLUSTER_ID and rtype & INVALID_CLUSTER_OBJECTS:
        err("[resource] CLUSTER(%) selector can be applied only to DATASTORE, HOST and NET types")
    if res & GROUP_ID and rtype & INVALID_GROUP_OBJECTS:
        err("[resource] GROUP(@) selector cannot be applied to HOST, GROUP, CLUSTER, ZONE "
            "or VDC types")
    if sel == 0:
        err("[resource] is missing one of the INDIVIDUAL, GROUP, CLUSTER or ALL bits")
    if rule.resource_id < 0:
        err("[resource] ID cannot be negative")
    if res & ALL_ID and rule.resource_id != 0:
        err("when using the ALL bit, [resource] ID must be 0")
    if rtype == 0:
        err("[resource] type is missing")
    if res & 0xFE80_0000_0000_0000:
        err("wrong [resource] type")

    if rights == 0:
        err("wrong [rights], it cannot be 0")
    if rights > 0xF:
        err("wrong [rights], it cannot be bigger than 0xF")

    if zone & GROUP_ID:
        err("[zone] GROUP (@) bit is not supported", sep=False)
    if zone & INDIVIDUAL_ID and zone & ALL_ID:
        err("[zone] INDIVIDUAL (#) and ALL (*) bits are exclusive")
    if zone & 0x7_0000_0000 == 0:
        err("[zone] is missing one of the INDIVIDUAL or ALL bits")
    if rule.zone_id < 0:
        err("[zone] ID cannot be negative")
    if zone & ALL_ID and rule.zone_id != 0:
        err("when using the ALL bit, [zone] ID must be 0")
    if zone & ALL_ID and res & INDIVIDUAL_ID and (rtype & FEDERATED_OBJECTS) != rtype:
        err("[resource] INDIVIDUAL(#) selector cannot be applied to ALL zones, except for "
            "USER, GROUP and ZONE types")
    return "".join(out) or None


def check_new_rule(rule: AclRule, existing: Iterable[AclRule] = ()) -> None:
    """AclManager::add_rule's checks, in its order: duplicate first, then malformed.

    Both fail as INTERNAL errors, with oned's messages.
    """
    if any(r.key == rule.key for r in existing):
        raise InternalError(f"Rule {rule.to_string()} already exists")
    problem = rule.malformed()
    if problem:
        raise InternalError(f"Rule {rule.to_string()} is malformed: {problem}")


def missing_rule_error(rule_id: int) -> InternalError:
    """one.acl.delrule's failure for an unknown id."""
    return InternalError(f"Rule {rule_id} does not exist", rule_id)


# -- one.acl.addrule's string arguments ----------------------------------------
_HEX_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX])?([0-9a-fA-F]*)")


def parse_hex(text: str) -> int:
    """Read a hex number like ``istringstream >> std::hex >> long long``.

    Leading blanks, a sign and a 0x prefix are accepted and trailing junk is
    ignored; no digits give 0 and overflow saturates, as in C++11 streams.
    """
    m = _HEX_RE.match(text)
    assert m is not None  # the pattern matches any string
    sign, prefix, digits = m.groups()
    if not digits:
        return 0  # "0x" alone parses its zero; nothing at all fails to 0
    value = int(digits, 16)
    if sign == "-":
        return -value if value <= 1 << 63 else -(1 << 63)
    return value if value < 1 << 63 else (1 << 63) - 1


def parse_hex_components(user: str, resource: str, rights: str, zone: str | None = None,
                         *, zone_id: int = 0) -> tuple[int, int, int, int]:
    """Decode and validate one.acl.addrule's hex string arguments.

    A missing (or, as in oned 7, empty) zone means this zone (``#zone_id``).
    Returns (user, resource, rights, zone); a malformed rule raises
    InternalError "Rule <text> is malformed: <problems>", as oned does.
    """
    args = {"user": user, "resource": resource, "rights": rights}
    if zone is not None:
        args["zone"] = zone
    for name, value in args.items():
        if not isinstance(value, str):
            raise ApiError(f"ACL {name} component must be a string, not {type(value).__name__}")
    zone_value = parse_hex(zone) if zone else INDIVIDUAL_ID | zone_id
    rule = AclRule(-1, parse_hex(user), parse_hex(resource), parse_hex(rights), zone_value)
    problem = rule.malformed()
    if problem:
        raise InternalError(f"Rule {rule.to_string()} is malformed: {problem}")
    return rule.key


# -- the text form, as the Ruby OCA's Acl.parse_rule reads it -------------------
_ID_RE = re.compile(r"(?:[#@%][0-9]+|\*)\Z")
_SELECTORS = {"#": INDIVIDUAL_ID, "@": GROUP_ID, "%": CLUSTER_ID}
_TYPES_BY_NAME = {t.name: int(t) for t in RULE_TYPES}
_RIGHTS_BY_NAME = {op.name: int(op) for op in RULE_RIGHTS}


def _ruby_split(text: str, sep: str) -> list[str]:
    parts = text.split(sep)
    while parts and parts[-1] == "":  # Ruby's String#split drops trailing empty fields
        parts.pop()
    return parts


def _ids(text: str) -> int:
    if not _ID_RE.match(text):
        raise ValueError(f"ID string '{text}' malformed")
    return ALL_ID if text == "*" else _SELECTORS[text[0]] + int(text[1:])


def _resources(text: str) -> int:
    parts = _ruby_split(text, "/")
    if len(parts) != 2:
        raise ValueError("Resource '[" + ", ".join(f'"{p}"' for p in parts) + "]' malformed")
    total = 0
    for name in _ruby_split(parts[0], "+"):
        if name.upper() not in _TYPES_BY_NAME:
            raise ValueError(f"Resource '{name}' does not exist")
        total += _TYPES_BY_NAME[name.upper()]  # Ruby adds, so "VM+VM" really is HOST
    return total + _ids(parts[1])


def _rights(text: str) -> int:
    total = 0
    for name in _ruby_split(text, "+"):
        if name.upper() not in _RIGHTS_BY_NAME:
            raise ValueError(f"Right '{name}' does not exist")
        total += _RIGHTS_BY_NAME[name.upper()]
    return total


def parse_rule_string(text: str) -> tuple[str, ...]:
    """Turn "#5 HOST+VM/@12 USE+MANAGE [#0]" into addrule's hex strings (3 or 4).

    Same rules and messages as the Ruby OCA (what ``oneacl create`` uses);
    all component errors are reported together in one ApiError.
    """
    words = text.split()
    if len(words) not in (3, 4):
        raise ApiError("String needs three components: User, Resource, Rights")
    parsers = (_ids, _resources, _rights, _ids)
    out: list[str] = []
    errors: list[str] = []
    for word, parse in zip(words, parsers):
        try:
            out.append(format(parse(word), "x"))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ApiError(", ".join(errors))
    return tuple(out)


def parse_rule(text: str, rule_id: int = -1, *, zone_id: int = 0) -> AclRule:
    """Text form to a validated rule, e.g. for the CLI or for seeding rules."""
    return AclRule(rule_id, *parse_hex_components(*parse_rule_string(text), zone_id=zone_id))


# -- bootstrap -----------------------------------------------------------------
def default_rules(zone_id: int = 0, *, with_default_vdc: bool = True) -> list[AclRule]:
    """The rules a fresh oned has, ids 0-5.

    0-2 come from AclManager's bootstrap; 3-5 appear when the default VDC
    (id 0) takes the "users" group (1) and all clusters of the zone, with
    oned.conf's default DEFAULT_VDC_CLUSTER_{HOST,NET,DATASTORE}_ACL
    (MANAGE, USE, USE). Pass with_default_vdc=False to get only 0-2.
    """
    t = ObjectType
    rules = [
        AclRule(0, GROUP_ID | 1,
                ALL_ID | t.VM | t.IMAGE | t.TEMPLATE | t.DOCUMENT | t.SECGROUP | t.VMGROUP
                | t.BACKUPJOB, CREATE, ALL_ID),
        AclRule(1, ALL_ID, ALL_ID | t.ZONE, USE, ALL_ID),
        AclRule(2, ALL_ID, ALL_ID | t.MARKETPLACE | t.MARKETPLACEAPP, USE, ALL_ID),
    ]
    if with_default_vdc:
        here = INDIVIDUAL_ID | zone_id
        rules += [
            AclRule(3, GROUP_ID | 1, ALL_ID | t.HOST, MANAGE, here),
            AclRule(4, GROUP_ID | 1, ALL_ID | t.NET, USE, here),
            AclRule(5, GROUP_ID | 1, ALL_ID | t.DATASTORE, USE, here),
        ]
    return rules


def type_names(resource: int) -> Sequence[str]:
    """Names of the rule types set in a resource component."""
    return [t.name for t in RULE_TYPES if resource & t]
