"""Leases of virtual network addresses: the vn_lease rows, the only record of who holds what.

A lease is one row (vnet, AR, index) -> owner. The primary key makes handing an address
out twice impossible whatever a caller does (two processes included: the loser of a race
moves on to the next free address), and freeing deletes rows, so an address is freed at
most once. The network's body keeps its ARs (with NEXT_INDEX) but no leases: readers
render LEASES, ALLOCATED and USED_LEASES from the table (``by_range``), so taking a lease
costs a few indexed look-ups and one small body write however full the network is.

Owners are ``("VM", id)``, ``("VNET", id)`` (a reservation) or ``("VROUTER", id)``; a
lease held with one.vn.hold belongs to VM -1, as in OpenNebula. Callers run these
functions inside ``Database.write()`` and pass the network pool.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from nubo.errors import ActionError, InternalError
from nubo.model.address_range import AddressRange, Lease, UsedLeases
from nubo.model.resources import VirtualNetwork, address_ranges, set_address_ranges
from nubo.store.pools import Pool
from nubo.store.schema import vn_lease
from nubo.template import Template

Owner = tuple[str, int]
HOLD: Owner = ("VM", -1)
OWNER_TYPES = ("VM", "VNET", "VROUTER")
MAC_PREFIX = "02:00"  # oned.conf MAC_PREFIX's default (the mac_prefix setting)
Vnets = Pool[VirtualNetwork]
Action = Callable[..., int]
RangeLeases = dict[int, list[tuple[int, dict[str, int]]]]  # AR id -> (index, owner) in order
_CHUNK = 500  # network ids per IN (...) list


class LeaseError(InternalError):
    """No such address, or it is taken (oned answers these with INTERNAL)."""


@dataclass(frozen=True)
class LeaseRow:
    vnet_id: int
    ar_id: int
    index: int
    owner: Owner


@dataclass(frozen=True)
class NicLease:
    """An address handed to an owner: what a NIC gets, and the AR it came from."""

    vnet_id: int
    ar_id: int
    index: int
    address: Lease
    ar: AddressRange  # its extra attributes (GATEWAY, DNS...) are what a NIC may inherit

    def attributes(self) -> dict[str, str]:
        """AR_ID plus the lease's MAC/IP/IP6 attributes, named as in a NIC."""
        return {"AR_ID": str(self.ar_id), **self.address.attributes()}


# -- reading ----------------------------------------------------------------------------------

def leases(conn: Connection, vnet_id: int, ar_id: int | None = None) -> list[LeaseRow]:
    """The leases of a network (or of one of its ARs), by AR and index."""
    t = vn_lease
    q = select(t.c.ar_id, t.c.idx, t.c.owner_type, t.c.owner_id).where(t.c.vnet_id == vnet_id)
    if ar_id is not None:
        q = q.where(t.c.ar_id == ar_id)
    return [LeaseRow(vnet_id, r.ar_id, r.idx, (r.owner_type, r.owner_id))
            for r in conn.execute(q.order_by(t.c.ar_id, t.c.idx))]


def leases_of(conn: Connection, owner: Owner) -> list[LeaseRow]:
    """Every lease an owner has, in any network."""
    t = vn_lease
    q = (select(t.c.vnet_id, t.c.ar_id, t.c.idx)
         .where(t.c.owner_type == owner[0], t.c.owner_id == owner[1])
         .order_by(t.c.vnet_id, t.c.ar_id, t.c.idx))
    return [LeaseRow(r.vnet_id, r.ar_id, r.idx, owner) for r in conn.execute(q)]


def used_indexes(conn: Connection, vnet_id: int, ar_id: int) -> UsedLeases:
    t = vn_lease
    q = select(t.c.idx).where(t.c.vnet_id == vnet_id, t.c.ar_id == ar_id).order_by(t.c.idx)
    return UsedLeases(conn.execute(q).scalars(), presorted=True)


def max_index(conn: Connection, vnet_id: int, ar_id: int) -> int | None:
    """The highest index leased in an AR (what bounds a smaller SIZE), or None."""
    t = vn_lease
    return conn.execute(select(func.max(t.c.idx))
                        .where(t.c.vnet_id == vnet_id, t.c.ar_id == ar_id)).scalar()


def by_range(conn: Connection, vnet_ids: Iterable[int]) -> dict[int, RangeLeases]:
    """The leases of these networks, per network and AR, as their XML shows them:
    (index, {"VM"|"VNET"|"VROUTER": id}) in index order."""
    t = vn_lease
    out: dict[int, RangeLeases] = {}
    ids = sorted(set(vnet_ids))
    for start in range(0, len(ids), _CHUNK):
        q = (select(t.c.vnet_id, t.c.ar_id, t.c.idx, t.c.owner_type, t.c.owner_id)
             .where(t.c.vnet_id.in_(ids[start:start + _CHUNK]))
             .order_by(t.c.vnet_id, t.c.ar_id, t.c.idx))
        for vnet_id, ar_id, idx, kind, oid in conn.execute(q):
            out.setdefault(vnet_id, {}).setdefault(ar_id, []).append((idx, {kind: oid}))
    return out


def count(conn: Connection, vnet_id: int, *, exclude: Owner | None = None) -> int:
    """How many leases a network has (all, or all but those of one owner, e.g. HOLD)."""
    t = vn_lease
    q = select(func.count()).select_from(t).where(t.c.vnet_id == vnet_id)
    if exclude is not None:
        q = q.where((t.c.owner_type != exclude[0]) | (t.c.owner_id != exclude[1]))
    return int(conn.execute(q).scalar_one())


# -- address ranges ---------------------------------------------------------------------------

def new_range(attrs: dict[str, str], ar_id: int, vnet_template: Template,
              others: list[AddressRange], mac_prefix: str = MAC_PREFIX) -> AddressRange:
    """A client's AR, inheriting the network's IPAM_MAD, checked against the other ARs;
    its MACs start with ``mac_prefix`` (the ``mac_prefix`` setting) if it gives none."""
    attrs = dict(attrs)
    ipam = vnet_template.get("IPAM_MAD")
    if ipam and not attrs.get("IPAM_MAD"):
        attrs["IPAM_MAD"] = ipam
    ar = AddressRange.from_attributes(ar_id, attrs, mac_prefix)
    check_overlaps(ar, others)
    return ar


def check_overlaps(ar: AddressRange, others: list[AddressRange]) -> None:
    """ARs of one network may not share an address: the key alone could not stop it
    being leased twice, once in each AR (oned does not check this)."""
    for other in others:
        why = other.ar_id != ar.ar_id and ar.overlap(other)
        if why:
            raise InternalError(f"Address ranges cannot overlap: {why}.", ar.ar_id)


# -- the body ---------------------------------------------------------------------------------

def ranges_of(vnet: VirtualNetwork) -> list[AddressRange]:
    """The network's ARs as stored (their leases are in the table, not here)."""
    return [ar for ar, _ in address_ranges(vnet)]


def save(conn: Connection, vnets: Vnets, vnet: VirtualNetwork,
         ars: list[AddressRange]) -> None:
    """Write the network with these ARs (their NEXT_INDEX), without leases: the table
    holds those. Every change of a network's leases ends here, so its row's version
    moves with them."""
    set_address_ranges(vnet, [(ar, []) for ar in ars])
    vnets.update(conn, vnet)


# -- taking and freeing -----------------------------------------------------------------------

def take(conn: Connection, vnet_id: int, ar: AddressRange, index: int, owner: Owner) -> bool:
    """Insert one lease; False if the address is already leased (the key says so)."""
    if owner[0] not in OWNER_TYPES:
        raise ValueError(f"lease owner type must be one of {OWNER_TYPES}, not {owner[0]!r}")
    if not 0 <= index < ar.size:
        raise IndexError(f"lease index {index} outside AR {ar.ar_id}")
    try:
        with conn.begin_nested():  # a failed INSERT must not abort the whole transaction
            conn.execute(insert(vn_lease).values(vnet_id=vnet_id, ar_id=ar.ar_id, idx=index,
                                                 owner_type=owner[0], owner_id=owner[1]))
    except IntegrityError:
        return False
    return True


def free_rows(conn: Connection, vnet_id: int, *, ar_id: int | None = None,
              index: int | None = None, owner: Owner | None = None,
              between: tuple[int, int] | None = None) -> int:
    """Delete matching leases (indexes in [a, b) with between); returns how many were freed."""
    t = vn_lease
    q = delete(t).where(t.c.vnet_id == vnet_id)
    if ar_id is not None:
        q = q.where(t.c.ar_id == ar_id)
    if index is not None:
        q = q.where(t.c.idx == index)
    if between is not None:
        q = q.where(t.c.idx >= between[0], t.c.idx < between[1])
    if owner is not None:
        q = q.where(t.c.owner_type == owner[0], t.c.owner_id == owner[1])
    return conn.execute(q).rowcount or 0


def find_index(ar: AddressRange, *, ip: str | None = None, ip6: str | None = None,
               mac: str | None = None) -> int | None:
    """Index of the one address given (IPv4, static IPv6 or MAC) in an AR, or None."""
    if ip:
        return ar.index_of_ip(ip)
    if ip6:
        return ar.index_of_ip6(ip6)
    return ar.index_of_mac(mac) if mac else None


def allocate(conn: Connection, vnets: Vnets, vnet_id: int, owner: Owner, *,
             ip: str | None = None, ip6: str | None = None, mac: str | None = None,
             ar_id: int | None = None) -> NicLease:
    """Lease an address of a network to an owner (a VM NIC, a virtual router...).

    With ip, ip6 or mac that exact address (in AR ar_id, or in the first AR holding it);
    otherwise the next free address, walking the ARs in order from each NEXT_INDEX.
    """
    vnet = vnets.get(conn, vnet_id)
    ars = ranges_of(vnet)
    wanted = ip or ip6 or mac
    for ar in ars:
        if ar_id is not None and ar.ar_id != ar_id:
            continue
        if wanted:
            index = find_index(ar, ip=ip, ip6=ip6, mac=mac)
            if index is None or not take(conn, vnet_id, ar, index, owner):
                continue
        else:
            index = _take_next(conn, vnet_id, ar, owner)
            if index is None:
                continue
        if not wanted:  # walk on past it, so a freed address is not reused at once
            ar.next_index = (index + 1) % ar.size
        save(conn, vnets, vnet, ars)
        return NicLease(vnet_id, ar.ar_id, index, ar.address(index), ar)
    what = f"address {wanted}" if wanted else "a free address"
    raise LeaseError(f"Cannot get IP/MAC lease from virtual network {vnet_id}: {what} is "
                     "not part of its address ranges or is in use.", vnet_id)


def first_free(conn: Connection, vnet_id: int, ar_id: int, lo: int, hi: int) -> int | None:
    """The smallest unleased index in [lo, hi), found through the key's index.

    First the lease at ``lo`` (none: ``lo`` is free), else one ordered scan of the run
    of taken addresses from ``lo``: the first lease whose successor (LEAD) is not the
    next index ends it. Filling a range in order only ever asks the first; only a long
    run of taken addresses is walked, once (an anti-join here let PostgreSQL pick a
    nested loop that took minutes on a full 50,000-address range).
    """
    if lo >= hi:
        return None
    t = vn_lease
    mine = (t.c.vnet_id == vnet_id) & (t.c.ar_id == ar_id)
    first = conn.execute(select(t.c.idx).where(mine, t.c.idx >= lo)
                         .order_by(t.c.idx).limit(1)).scalar()
    if first is None or first > lo:
        return lo
    run = (select(t.c.idx, func.lead(t.c.idx).over(order_by=t.c.idx).label("next_idx"))
           .where(mine, t.c.idx >= lo, t.c.idx < hi).subquery())
    end = conn.execute(select(run.c.idx)
                       .where((run.c.next_idx.is_(None)) | (run.c.next_idx != run.c.idx + 1))
                       .order_by(run.c.idx).limit(1)).scalar()
    return end + 1 if end is not None and end + 1 < hi else None


def _take_next(conn: Connection, vnet_id: int, ar: AddressRange, owner: Owner) -> int | None:
    """Lease the first free index from NEXT_INDEX on, wrapping round (as oned walks)."""
    start = ar.next_index % ar.size
    for lo, hi in ((start, ar.size), (0, start)):
        index = first_free(conn, vnet_id, ar.ar_id, lo, hi)
        while index is not None:
            if take(conn, vnet_id, ar, index, owner):
                return index
            # Leased meanwhile by another process (the key refused it): look past it.
            index = first_free(conn, vnet_id, ar.ar_id, index + 1, hi)
    return None


def free_owner(conn: Connection, vnets: Vnets, owner: Owner,
               vnet_id: int | None = None) -> int:
    """Free every lease of an owner (in one network, or all); returns how many."""
    freed = 0
    touched = sorted({r.vnet_id for r in leases_of(conn, owner)
                      if vnet_id is None or r.vnet_id == vnet_id})
    for vid in touched:
        freed += free_rows(conn, vid, owner=owner)
        vnet = vnets.find(conn, vid)
        if vnet is not None:
            save(conn, vnets, vnet, ranges_of(vnet))
    return freed


def hold(conn: Connection, vnets: Vnets, vnet_id: int, *, ip: str | None = None,
         ip6: str | None = None, mac: str | None = None, ar_id: int | None = None) -> int:
    """Mark an address used (owner VM -1) in AR ar_id, or in every AR holding it.

    Fails, changing nothing, unless at least one AR holds it free (as oned's hold).
    """
    vnet = vnets.get(conn, vnet_id)
    ars = ranges_of(vnet)
    held = 0
    for ar in ars:
        if ar_id is not None and ar.ar_id != ar_id:
            continue
        index = find_index(ar, ip=ip, ip6=ip6, mac=mac)
        if index is not None and take(conn, vnet_id, ar, index, HOLD):
            held += 1
    if not held:
        raise LeaseError("Address is not part of the address range or in use.", vnet_id)
    save(conn, vnets, vnet, ars)
    return held


def release(conn: Connection, vnets: Vnets, vnet_id: int, *, ip: str | None = None,
            ip6: str | None = None, mac: str | None = None, ar_id: int | None = None) -> int:
    """Free a held address (only holds: a VM's lease stays); returns how many were freed."""
    vnet = vnets.get(conn, vnet_id)
    ars = ranges_of(vnet)
    freed = 0
    for ar in ars:
        if ar_id is not None and ar.ar_id != ar_id:
            continue
        index = find_index(ar, ip=ip, ip6=ip6, mac=mac)
        if index is not None:
            freed += free_rows(conn, vnet_id, ar_id=ar.ar_id, index=index, owner=HOLD)
    if freed:
        save(conn, vnets, vnet, ars)
    return freed


def free_block(ar: AddressRange, used: UsedLeases, size: int,
               start: int | None = None) -> int | None:
    """Where ``size`` consecutive free leases begin (at ``start`` if given), for reservations."""
    if start is not None:
        fits = start + size <= ar.size and not any(start <= i < start + size for i in used)
        return start if fits else None
    begin = 0
    for index in used:
        if index - begin >= size:
            return begin
        begin = index + 1
    return begin if ar.size - begin >= size else None


# -- reservations -----------------------------------------------------------------------------

def reserve(conn: Connection, vnets: Vnets, parent_id: int, rid: int, size: int,
            new_ar_id: int, *, ar_id: int | None = None, ip: str | None = None,
            ip6: str | None = None, mac: str | None = None) -> AddressRange:
    """Lease ``size`` consecutive addresses of a network to reservation ``rid``.

    They come from AR ar_id (starting at ip/ip6/mac if given) or from the first AR with
    room; the result is the reservation's new AR (PARENT_NETWORK_AR_ID set).
    """
    parent = vnets.get(conn, parent_id)
    ars = ranges_of(parent)
    wanted = ip or ip6 or mac
    for ar in ars:
        if ar_id is not None and ar.ar_id != ar_id:
            continue
        start = find_index(ar, ip=ip, ip6=ip6, mac=mac) if wanted else None
        if wanted and start is None:
            continue
        first = free_block(ar, used_indexes(conn, parent_id, ar.ar_id), size, start)
        if first is None:
            continue
        conn.execute(insert(vn_lease), [
            {"vnet_id": parent_id, "ar_id": ar.ar_id, "idx": i, "owner_type": "VNET",
             "owner_id": rid} for i in range(first, first + size)])
        save(conn, vnets, parent, ars)
        return _reservation_ar(ar, first, size, new_ar_id)
    if ar_id is None:
        raise ActionError("Not enough free addresses in an address range", parent_id)
    raise ActionError(f"Not enough free addresses in address range {ar_id}, or it does not "
                      "exist", parent_id)


def _reservation_ar(ar: AddressRange, first: int, size: int, new_ar_id: int) -> AddressRange:
    """The parent's AR narrowed to the reserved block."""
    attrs = ar.attributes()
    start = ar.address(first)
    attrs.update(SIZE=str(size), MAC=start.mac)
    if start.ip is not None:
        attrs["IP"] = start.ip
    if start.ip6 is not None:
        attrs["IP6"] = start.ip6
    reserved = AddressRange.from_attributes(new_ar_id, attrs)
    reserved.parent_network_ar_id = ar.ar_id
    return reserved


def give_back(conn: Connection, vnets: Vnets, parent_id: int, rid: int,
              reserved: AddressRange) -> int:
    """Free in the parent the block a reservation's AR came from; returns how many."""
    parent = vnets.find(conn, parent_id)
    if parent is None:
        return 0
    ars = ranges_of(parent)
    source = next((a for a in ars if a.ar_id == reserved.parent_network_ar_id), None)
    first = source.index_of_mac(reserved.address(0).mac) if source is not None else None
    if source is None or first is None:
        return 0
    freed = free_rows(conn, parent_id, ar_id=source.ar_id, owner=("VNET", rid),
                      between=(first, first + reserved.size))
    save(conn, vnets, parent, ars)
    return freed
