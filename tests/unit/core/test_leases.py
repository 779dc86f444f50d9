"""Lease bookkeeping against a real SQLite store: allocate, hold, release, free, reserve."""
from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)
from lxml import etree

from nubo.core import leases
from nubo.core.pool_set import make_pools
from nubo.errors import ActionError, InternalError, NoExistsError
from nubo.model.address_range import AddressRange
from nubo.model.permissions import Permissions
from nubo.model.address_range_xml import listed_with_leases
from nubo.model.resources import (VNET_READY, VirtualNetwork, address_ranges,
                                  set_address_ranges, vnet_info_body)
from nubo.store.db import Database

_ids = itertools.count(1000)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    db = Database(f"sqlite:///{Path(tmp_path_factory.mktemp('leases')) / 'nubo.db'}")
    db.migrate()
    yield db, make_pools()
    db.close()


def _ars() -> list[AddressRange]:
    return [AddressRange.from_attributes(0, {"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "6",
                                             "GATEWAY": "10.0.0.254"}),
            AddressRange.from_attributes(1, {"TYPE": "ETHER", "MAC": "02:aa:00:00:00:00",
                                             "SIZE": "3"}),
            AddressRange.from_attributes(2, {"TYPE": "IP4_6_STATIC", "IP": "10.1.0.1",
                                             "IP6": "2001:db8::1", "PREFIX_LENGTH": "64",
                                             "SIZE": "4"})]


def new_vnet(db: Database, pools, ars: list[AddressRange] | None = None,
             parent: int = -1) -> int:
    """Insert a network with the given ARs straight into the store."""
    oid = next(_ids)
    vnet = VirtualNetwork(
        id=oid, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name=f"net{oid}", lock=None,
        permissions=Permissions(), clusters=[0], bridge="br0", bridge_type="linux",
        state=VNET_READY, prev_state=VNET_READY,
        parent_network_id="" if parent < 0 else str(parent), template_id="-1",
        vn_mad="bridge", phydev="", vlan_id="", outer_vlan_id="", vlan_id_automatic="0",
        outer_vlan_id_automatic="0", used_leases=0)
    set_address_ranges(vnet, [(ar, []) for ar in (_ars() if ars is None else ars)])
    with db.write() as conn:
        pools.vnets.insert(conn, vnet)
    return oid


def info(db: Database, pools, oid: int) -> str:
    """The network as one.vn.info shows it: its body with the leases of the table."""
    with db.read() as conn:
        return vnet_info_body(pools.vnets.body(conn, oid),
                              leases.by_range(conn, [oid]).get(oid, {}))


def body_leases(db: Database, pools, oid: int) -> tuple[int, set[tuple[int, int, str, int]]]:
    """USED_LEASES and the leases one.vn.info would show, read back from its reply."""
    shown_xml = etree.fromstring(info(db, pools, oid).encode())
    with db.read() as conn:
        ars = {ar.ar_id: ar for ar in leases.ranges_of(pools.vnets.get(conn, oid))}
    shown = set()
    for el in shown_xml.iterfind("AR_POOL/AR"):
        ar = ars[int(el.findtext("AR_ID") or -1)]
        for lease in el.iterfind("LEASES/LEASE"):
            owner = next(c for c in lease if c.tag in ("VM", "VNET", "VROUTER"))
            shown.add((ar.ar_id, ar.index_of_mac(lease.findtext("MAC") or ""), owner.tag,
                       int(owner.text or -1)))
    return int(shown_xml.findtext("USED_LEASES") or -1), shown


def table(db: Database, oid: int) -> set[tuple[int, int, str, int]]:
    with db.read() as conn:
        return {(r.ar_id, r.index, *r.owner) for r in leases.leases(conn, oid)}


# -- allocation for NICs ----------------------------------------------------------------------

def test_allocate_walks_the_ranges_in_order(store):
    db, pools = store
    oid = new_vnet(db, pools)
    got = []
    with db.write() as conn:
        for vm in range(13):
            got.append(leases.allocate(conn, pools.vnets, oid, ("VM", vm)))
        with pytest.raises(leases.LeaseError, match="Cannot get IP/MAC lease"):
            leases.allocate(conn, pools.vnets, oid, ("VM", 99))
    assert [(g.ar_id, g.index) for g in got] == [(0, i) for i in range(6)] + [
        (1, i) for i in range(3)] + [(2, i) for i in range(4)]
    assert got[0].attributes() == {"AR_ID": "0", "IP": "10.0.0.1", "MAC": "02:00:0a:00:00:01"}
    assert got[0].ar.extra["GATEWAY"] == "10.0.0.254"  # what a NIC may inherit
    assert got[6].attributes() == {"AR_ID": "1", "MAC": "02:aa:00:00:00:00"}
    assert got[12].attributes()["IP6"] == "2001:db8::4"
    assert body_leases(db, pools, oid) == (13, table(db, oid))


def test_allocate_a_requested_address_once(store):
    db, pools = store
    oid = new_vnet(db, pools)
    with db.write() as conn:
        lease = leases.allocate(conn, pools.vnets, oid, ("VM", 7), ip="10.0.0.4")
        assert (lease.ar_id, lease.index) == (0, 3)
        by_mac = leases.allocate(conn, pools.vnets, oid, ("VM", 8), mac="02:AA:00:00:00:02")
        assert (by_mac.ar_id, by_mac.index) == (1, 2)
        by_ip6 = leases.allocate(conn, pools.vnets, oid, ("VM", 8), ip6="2001:db8::2")
        assert (by_ip6.ar_id, by_ip6.index) == (2, 1)
        for ask in ({"ip": "10.0.0.4"}, {"ip": "10.9.9.9"}, {"mac": "02:aa:00:00:00:02"}):
            with pytest.raises(leases.LeaseError):
                leases.allocate(conn, pools.vnets, oid, ("VM", 9), **ask)
        with pytest.raises(leases.LeaseError):  # 10.1.0.1 is in AR 2, not in AR 0
            leases.allocate(conn, pools.vnets, oid, ("VM", 9), ip="10.1.0.1", ar_id=0)
    assert table(db, oid) == {(0, 3, "VM", 7), (1, 2, "VM", 8), (2, 1, "VM", 8)}


def test_next_index_moves_on_so_a_freed_address_waits(store):
    db, pools = store
    oid = new_vnet(db, pools, [_ars()[0]])
    with db.write() as conn:
        first = leases.allocate(conn, pools.vnets, oid, ("VM", 1))
        assert leases.free_owner(conn, pools.vnets, ("VM", 1), oid) == 1
        second = leases.allocate(conn, pools.vnets, oid, ("VM", 2))
    assert (first.index, second.index) == (0, 1)


def test_free_owner_across_networks_frees_each_lease_once(store):
    db, pools = store
    a, b = new_vnet(db, pools), new_vnet(db, pools)
    with db.write() as conn:
        for vnet in (a, b, a):
            leases.allocate(conn, pools.vnets, vnet, ("VM", 424242))
        leases.allocate(conn, pools.vnets, a, ("VROUTER", 424242))
        assert leases.free_owner(conn, pools.vnets, ("VM", 424242), vnet_id=b) == 1
        assert leases.free_owner(conn, pools.vnets, ("VM", 424242)) == 2
        assert leases.free_owner(conn, pools.vnets, ("VM", 424242)) == 0
    assert table(db, a) == {(0, 2, "VROUTER", 424242)} and table(db, b) == set()
    assert body_leases(db, pools, a) == (1, table(db, a))


def test_unknown_network_and_owner_type(store):
    db, pools = store
    oid = new_vnet(db, pools)
    with db.write() as conn:
        with pytest.raises(NoExistsError, match=r"Error getting virtual network \[987654\]"):
            leases.allocate(conn, pools.vnets, 987654, ("VM", 1))
        with pytest.raises(ValueError):
            leases.allocate(conn, pools.vnets, oid, ("HOST", 1))


# -- holds and the key --------------------------------------------------------------------------

def test_hold_twice_fails_and_release_frees_only_holds(store):
    db, pools = store
    oid = new_vnet(db, pools)
    with db.write() as conn:
        assert leases.hold(conn, pools.vnets, oid, ip="10.0.0.2") == 1
        with pytest.raises(leases.LeaseError, match="not part of the address range or in use"):
            leases.hold(conn, pools.vnets, oid, ip="10.0.0.2")
        leases.allocate(conn, pools.vnets, oid, ("VM", 5), ip="10.0.0.3")
        assert leases.release(conn, pools.vnets, oid, ip="10.0.0.3") == 0  # a VM's, not held
        assert leases.release(conn, pools.vnets, oid, ip="10.0.0.2") == 1
        assert leases.release(conn, pools.vnets, oid, ip="10.0.0.2") == 0
    assert table(db, oid) == {(0, 2, "VM", 5)}
    assert isinstance(leases.LeaseError("x"), InternalError)


def test_a_failed_take_leaves_the_transaction_usable(store):
    db, pools = store
    oid = new_vnet(db, pools)
    ar = _ars()[0]
    with db.write() as conn:
        assert leases.take(conn, oid, ar, 1, ("VM", 1))
        assert not leases.take(conn, oid, ar, 1, ("VM", 2))  # the primary key refuses it
        assert leases.take(conn, oid, ar, 2, ("VM", 2))
    assert table(db, oid) == {(0, 1, "VM", 1), (0, 2, "VM", 2)}


def test_the_key_refuses_a_double_lease_even_without_the_write_lock(store):
    db, pools = store
    oid = new_vnet(db, pools)
    ar = _ars()[0]
    results = []
    barrier = threading.Barrier(2)

    def grab(owner: int) -> None:
        barrier.wait()
        with db.engine.begin() as conn:  # bypasses Database.write's lock on purpose
            results.append(leases.take(conn, oid, ar, 4, ("VM", owner)))

    threads = [threading.Thread(target=grab, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert len(table(db, oid)) == 1


def test_concurrent_holds_of_one_address_one_wins(store):
    db, pools = store
    oid = new_vnet(db, pools)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def hold() -> None:
        barrier.wait()
        try:
            with db.write() as conn:
                leases.hold(conn, pools.vnets, oid, mac="02:aa:00:00:00:01")
            outcomes.append("held")
        except leases.LeaseError:
            outcomes.append("refused")

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["held", "refused", "refused", "refused"]
    assert table(db, oid) == {(1, 1, "VM", -1)}


# -- reservations -------------------------------------------------------------------------------

def test_reserve_takes_a_free_block_and_gives_it_back(store):
    db, pools = store
    parent = new_vnet(db, pools, [_ars()[0]])
    child = new_vnet(db, pools, [], parent=parent)
    with db.write() as conn:
        leases.hold(conn, pools.vnets, parent, ip="10.0.0.2")
        ar = leases.reserve(conn, pools.vnets, parent, child, 3, 0)
        assert (ar.address(0).ip, ar.size, ar.parent_network_ar_id) == ("10.0.0.3", 3, 0)
        assert ar.extra["GATEWAY"] == "10.0.0.254"
        with pytest.raises(ActionError, match="Not enough free addresses in an address range"):
            leases.reserve(conn, pools.vnets, parent, child, 2, 1)
        exact = leases.reserve(conn, pools.vnets, parent, child, 1, 1, ar_id=0, ip="10.0.0.6")
        assert exact.address(0).mac == "02:00:0a:00:00:06"
        with pytest.raises(ActionError, match="address range 0, or it does not exist"):
            leases.reserve(conn, pools.vnets, parent, child, 1, 2, ar_id=0, ip="10.0.0.6")
        assert leases.give_back(conn, pools.vnets, parent, child, ar) == 3
    assert table(db, parent) == {(0, 1, "VM", -1), (0, 5, "VNET", child)}


def test_free_block():
    ar = _ars()[0]  # 6 leases
    used = leases.UsedLeases([1, 3])
    assert leases.free_block(ar, used, 1) == 0
    assert leases.free_block(ar, used, 2) == 4
    assert leases.free_block(ar, used, 3) is None
    assert leases.free_block(ar, used, 1, start=2) == 2
    assert leases.free_block(ar, used, 2, start=4) == 4
    assert leases.free_block(ar, used, 2, start=5) is None


# -- a property: random sequences keep the table, the body and a model in step ------------------

ADDRESSES = [f"10.0.0.{i}" for i in range(1, 8)]  # 10.0.0.7 is outside the IP4 range
OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 3)),
    st.tuples(st.just("alloc_ip"), st.integers(0, 3), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("hold"), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("release"), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("free"), st.integers(0, 3)),
), max_size=30)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_holds_and_frees_never_lease_an_address_twice(store, ops):
    db, pools = store
    ars = _ars()[:2]  # IP4 10.0.0.1-6 and ETHER: 9 leases
    oid = new_vnet(db, pools, ars)
    model: dict[tuple[int, int], tuple[str, int]] = {}
    for op in ops:
        with db.write() as conn:
            if op[0] == "alloc":
                full = len(model) == 9
                try:
                    got = leases.allocate(conn, pools.vnets, oid, ("VM", op[1]))
                except leases.LeaseError:
                    assert full
                else:
                    assert not full and (got.ar_id, got.index) not in model
                    model[(got.ar_id, got.index)] = ("VM", op[1])
            elif op[0] in ("alloc_ip", "hold"):
                index = ars[0].index_of_ip(op[-1])
                free = index is not None and (0, index) not in model
                owner = ("VM", op[1]) if op[0] == "alloc_ip" else leases.HOLD
                try:
                    if op[0] == "hold":
                        leases.hold(conn, pools.vnets, oid, ip=op[-1])
                    else:
                        leases.allocate(conn, pools.vnets, oid, owner, ip=op[-1])
                except leases.LeaseError:
                    assert not free
                else:
                    assert free
                    model[(0, index)] = owner
            elif op[0] == "release":
                index = ars[0].index_of_ip(op[1])
                held = index is not None and model.get((0, index)) == leases.HOLD
                assert leases.release(conn, pools.vnets, oid, ip=op[1]) == int(held)
                if held:
                    del model[(0, index)]
            else:
                mine = [k for k, v in model.items() if v == ("VM", op[1])]
                assert leases.free_owner(conn, pools.vnets, ("VM", op[1]), oid) == len(mine)
                for key in mine:
                    del model[key]
        rows = table(db, oid)
        assert rows == {(a, i, *owner) for (a, i), owner in model.items()}
        assert body_leases(db, pools, oid) == (len(rows), rows)
    with db.read() as conn:
        macs = [ars[a].address(i).mac for a, i, *_ in table(db, oid)]
        assert len(macs) == len(set(macs))
        assert leases.count(conn, oid) == len(model)
        assert leases.count(conn, oid, exclude=leases.HOLD) == sum(
            1 for v in model.values() if v != leases.HOLD)


def test_body_shows_every_attribute_and_parses_back(store):
    db, pools = store
    oid = new_vnet(db, pools)
    with db.write() as conn:
        leases.hold(conn, pools.vnets, oid, ip6="2001:db8::3")
    with db.read() as conn:
        vnet = pools.vnets.get(conn, oid)
        t = pools.vnets.table
        short = listed_with_leases(pools.vnets.bodies(conn, t.c.oid == oid, short=True)[0],
                                   leases.by_range(conn, [oid])[oid])
    ar2 = etree.fromstring(vnet.ar_pool.encode()).findall("AR")[2]
    shown = etree.fromstring(info(db, pools, oid).encode()).findall("AR_POOL/AR")[2]
    assert ar2.findtext("PREFIX_LENGTH") == "64" and shown.findtext("LEASES/LEASE/VM") == "-1"
    assert [ar.attributes() for ar, _ in address_ranges(vnet)] == [
        ar.attributes() for ar in _ars()]
    assert "<LEASES>" not in short and "<ALLOCATED> 2 " in short


def test_a_body_stored_with_its_leases_shows_the_tables(store):
    """Bodies written while leases were kept in them (LEASES, ALLOCATED, USED_LEASES)
    need no migration: readers show what the table holds, not what the body says."""
    db, pools = store
    oid = new_vnet(db, pools, [_ars()[0]])
    t = pools.vnets.table
    with db.write() as conn:
        vnet = pools.vnets.get(conn, oid)
        stale = [(0, {"VM": 5}), (1, {"VM": 6})]
        set_address_ranges(vnet, [(leases.ranges_of(vnet)[0], stale)])
        pools.vnets.update(conn, vnet)  # as it was stored then
        assert leases.take(conn, oid, _ars()[0], 3, ("VM", 7))
    assert body_leases(db, pools, oid) == (1, {(0, 3, "VM", 7)})
    with db.read() as conn:
        short = pools.vnets.bodies(conn, t.c.oid == oid, short=True)[0]
        listed = listed_with_leases(short, leases.by_range(conn, [oid])[oid])
    assert "<ALLOCATED> 0 " in short and "<USED_LEASES>2</USED_LEASES>" in short
    assert listed.count("<ALLOCATED>") == 1 and "<ALLOCATED> 3 68719476743<" in listed
    assert "<USED_LEASES>1</USED_LEASES>" in listed

def test_concurrent_allocations_on_postgresql_take_distinct_addresses(tmp_path):
    """Without the one-writer lock (as two core processes would), the loser of a race for
    the next free address moves past it instead of failing: the key decides."""
    from dbs import create_database, drop_database
    url = create_database("postgresql", tmp_path)
    db = Database(url)
    try:
        db.migrate()
        pools = make_pools()
        oid = new_vnet(db, pools, [_ars()[0]])  # 6 addresses
        got: list[int] = []
        barrier = threading.Barrier(4)

        def grab(owner: int) -> None:
            barrier.wait()
            with db.engine.begin() as conn:  # no Database.write lock, on purpose
                got.append(leases.allocate(conn, pools.vnets, oid, ("VM", owner)).index)

        threads = [threading.Thread(target=grab, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == sorted(set(got)) and len(got) == 4
        assert {i for _, i, *_ in table(db, oid)} == set(got)
    finally:
        db.close()
        drop_database("postgresql", url)


# -- a state machine across every AR type: no address leased twice, each freed once ---------------

def _every_type() -> list[AddressRange]:
    specs = [{"TYPE": "IP4", "IP": "198.18.0.1", "SIZE": "5"},
             {"TYPE": "IP6", "MAC": "02:01:00:00:00:00", "SIZE": "4",
              "GLOBAL_PREFIX": "2001:db8:1::", "ULA_PREFIX": "fd00:1::"},
             {"TYPE": "IP6_STATIC", "MAC": "02:02:00:00:00:00", "IP6": "2001:db8:2::10",
              "PREFIX_LENGTH": "64", "SIZE": "4"},
             {"TYPE": "IP4_6", "IP": "198.18.1.1", "SIZE": "3", "GLOBAL_PREFIX": "2001:db8:3::"},
             {"TYPE": "ETHER", "MAC": "02:03:00:00:00:00", "SIZE": "3"}]
    return [AddressRange.from_attributes(i, s) for i, s in enumerate(specs)]


class LeaseMachine(RuleBasedStateMachine):
    """Random allocate/hold/release/free/reserve/give-back sequences on one network with
    an AR of each type, checked against a model after every step: the table holds what
    the model says, no MAC is leased twice, and each free frees exactly what was held."""

    def __init__(self) -> None:
        super().__init__()
        self.db, self.pools = LeaseMachine.store
        self.ars = _every_type()
        self.oid = new_vnet(self.db, self.pools, self.ars)
        self.model: dict[tuple[int, int], tuple[str, int]] = {}
        self.reserved: dict[int, AddressRange] = {}
        self.next_rid = 0

    def _address(self, ar_id: int, index: int, kind: str) -> dict[str, str]:
        ar = self.ars[ar_id]
        lease = ar.address(index % ar.size)
        if kind == "ip" and lease.ip:
            return {"ip": lease.ip}
        if kind == "ip6" and ar.ip6 is not None:
            return {"ip6": lease.ip6 or ""}
        return {"mac": lease.mac}

    @rule(owner=st.integers(0, 3))
    def allocate_next(self, owner: int) -> None:
        full = len(self.model) == sum(a.size for a in self.ars)
        with self.db.write() as conn:
            try:
                got = leases.allocate(conn, self.pools.vnets, self.oid, ("VM", owner))
            except leases.LeaseError:
                assert full
                return
        assert not full and (got.ar_id, got.index) not in self.model
        self.model[(got.ar_id, got.index)] = ("VM", owner)

    @rule(owner=st.integers(-1, 3), ar_id=st.integers(0, 4), index=st.integers(0, 4),
          kind=st.sampled_from(["ip", "ip6", "mac"]))
    def take_address(self, owner: int, ar_id: int, index: int, kind: str) -> None:
        """A NIC asking for an address (owner -1: one.vn.hold)."""
        index %= self.ars[ar_id].size
        free = (ar_id, index) not in self.model
        address = self._address(ar_id, index, kind)
        with self.db.write() as conn:
            try:
                if owner < 0:
                    leases.hold(conn, self.pools.vnets, self.oid, **address)
                else:
                    got = leases.allocate(conn, self.pools.vnets, self.oid, ("VM", owner),
                                          **address)
                    assert (got.ar_id, got.index) == (ar_id, index)
            except leases.LeaseError:
                assert not free
                return
        assert free
        self.model[(ar_id, index)] = leases.HOLD if owner < 0 else ("VM", owner)

    @rule(ar_id=st.integers(0, 4), index=st.integers(0, 4),
          kind=st.sampled_from(["ip", "ip6", "mac"]))
    def release(self, ar_id: int, index: int, kind: str) -> None:
        index %= self.ars[ar_id].size
        held = self.model.get((ar_id, index)) == leases.HOLD
        with self.db.write() as conn:
            freed = leases.release(conn, self.pools.vnets, self.oid,
                                   **self._address(ar_id, index, kind))
        assert freed == int(held)
        if held:
            del self.model[(ar_id, index)]

    @rule(owner=st.integers(0, 3))
    def free_owner(self, owner: int) -> None:
        mine = [k for k, v in self.model.items() if v == ("VM", owner)]
        for _ in range(2):  # a second free (a release run again after a crash) frees nothing
            with self.db.write() as conn:
                freed = leases.free_owner(conn, self.pools.vnets, ("VM", owner), self.oid)
            assert freed == len(mine)
            mine = []
        for key in [k for k, v in self.model.items() if v == ("VM", owner)]:
            del self.model[key]

    @rule(size=st.integers(1, 3))
    def reserve(self, size: int) -> None:
        rid = 5000 + self.next_rid
        self.next_rid += 1
        with self.db.write() as conn:
            try:
                ar = leases.reserve(conn, self.pools.vnets, self.oid, rid, size, 0)
            except ActionError:
                for a in self.ars:  # refused: no AR has `size` free addresses in a row
                    assert not any(all((a.ar_id, i + k) not in self.model for k in range(size))
                                   for i in range(a.size - size + 1))
                return
        source = self.ars[ar.parent_network_ar_id]
        first = source.index_of_mac(ar.address(0).mac)
        for i in range(first, first + size):
            assert (source.ar_id, i) not in self.model
            self.model[(source.ar_id, i)] = ("VNET", rid)
        self.reserved[rid] = ar

    @precondition(lambda self: self.reserved)
    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.reserved)))
        ar = self.reserved.pop(rid)
        with self.db.write() as conn:
            assert leases.give_back(conn, self.pools.vnets, self.oid, rid, ar) == ar.size
            assert leases.give_back(conn, self.pools.vnets, self.oid, rid, ar) == 0
        for key in [k for k, v in self.model.items() if v == ("VNET", rid)]:
            del self.model[key]

    @invariant()
    def table_matches_model(self) -> None:
        rows = table(self.db, self.oid)
        assert rows == {(a, i, *owner) for (a, i), owner in self.model.items()}
        macs = [self.ars[a].address(i).mac for a, i, *_ in rows]
        assert len(macs) == len(set(macs))


def test_lease_state_machine_across_ar_types(store):
    LeaseMachine.store = store
    run_state_machine_as_test(LeaseMachine, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture]))
