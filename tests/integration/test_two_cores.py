"""Two ``nubo serve`` on one database, driven at once: nothing lost, nothing shared twice.

Only the server backends (PostgreSQL, MariaDB) may be shared by several core processes.
Both processes take API calls; one holds the duties (monitoring, the scheduled-action
timer, reconciliation). Concurrent allocations through both never hand out one id twice,
concurrent deploys onto one host leave its usage the sum of its VMs', concurrent NICs
on one network never share a lease, every object acknowledged is there, and a hook
made through one process runs once for a call served by the other.
"""
from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from concurrently import at_once
from dbs import create_database, drop_database
from nubo.hooks.hook_manager import RECHECK
from server import NuboServer
from waits import ACTIVE, RUNNING, wait_for

CPU, MEMORY = 0.1, 64
PER_SERVER = 20   # VMs deployed onto the shared host through each server
THREADS = 3       # client threads per server


def _at_once(servers: list[NuboServer], work: Callable[[xmlrpc.client.ServerProxy, str, int], None]
             ) -> None:
    """``work(proxy, session, n)`` on THREADS threads per server, all at once."""
    def one(server: NuboServer, n: int) -> Callable[[], None]:
        return lambda: work(xmlrpc.client.ServerProxy(server.endpoint), server.session, n)
    at_once([one(s, i * THREADS + t) for i, s in enumerate(servers) for t in range(THREADS)])


def _ok(reply: list) -> object:
    assert reply[0], reply[1]
    return reply[1]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_two_cores_share_one_database(backend, tmp_path):
    url = create_database(backend, tmp_path)
    first = NuboServer(tmp_path / "first", database_url=url).start()
    second = None
    engine = create_engine(url)

    def holders() -> dict[str, str]:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT name, holder FROM duty")).all())
    try:
        wait_for("the first to take its duties", lambda: len(holders()) == 3)
        second = NuboServer(tmp_path / "second", database_url=url).start()
        servers = [first, second]

        # One process holds every duty: the first one, started first.
        held = holders()
        assert set(held) == {"monitoring", "sched_actions", "reconcile"}
        assert {h.split(":")[1] for h in held.values()} == {str(first.proc.pid)}

        # Allocations through both at once: every id acknowledged once, all there.
        groups: list[int] = []
        users: list[int] = []

        def allocate(proxy: xmlrpc.client.ServerProxy, session: str, n: int) -> None:
            for i in range(10):
                groups.append(_ok(proxy.one.group.allocate(session, f"g-{n}-{i}")))
                users.append(_ok(proxy.one.user.allocate(session, f"u-{n}-{i}", "pw", "",
                                                         [])))
        _at_once(servers, allocate)
        assert len(groups) == len(set(groups)) == 2 * THREADS * 10
        assert len(users) == len(set(users)) == 2 * THREADS * 10
        for server in servers:
            proxy = xmlrpc.client.ServerProxy(server.endpoint)
            listed = _ok(proxy.one.grouppool.info(server.session))
            assert all(f"<ID>{gid}</ID>" in listed for gid in groups)
            listed = _ok(proxy.one.userpool.info(server.session))
            assert all(f"<ID>{uid}</ID>" in listed for uid in users)

        # VMs with a NIC on one network, allocated through both at once: one lease each.
        admin = xmlrpc.client.ServerProxy(first.endpoint)
        session = first.session
        host = _ok(admin.one.host.allocate(session, "shared", "dummy", "dummy", -1))
        vnet = _ok(admin.one.vn.allocate(
            session, 'NAME = "shared"\nBRIDGE = "br0"\nVN_MAD = "bridge"\n'
                     'AR = [ TYPE = "IP4", IP = "10.0.0.1", SIZE = "200" ]', -1))
        vms: list[int] = []

        def allocate_vms(proxy: xmlrpc.client.ServerProxy, session: str, n: int) -> None:
            for i in range(PER_SERVER // THREADS + 1):
                vms.append(_ok(proxy.one.vm.allocate(
                    session, f'NAME = "vm-{n}-{i}"\nCPU = {CPU}\nMEMORY = {MEMORY}\n'
                             f'NIC = [ NETWORK_ID = {vnet} ]', False)))
        _at_once(servers, allocate_vms)
        assert len(vms) == len(set(vms))
        ips = []
        for vm_id in vms:
            body = _ok(admin.one.vm.info(session, vm_id))
            ips.append(body.split("<IP><![CDATA[", 1)[1].split("]]>", 1)[0])
        assert len(set(ips)) == len(vms), "two VMs got one address"
        leases = _ok(admin.one.vn.info(session, vnet))
        assert f"<USED_LEASES>{len(vms)}</USED_LEASES>" in leases

        # Deploys of all of them onto one host, half through each server, at once.
        def deploy(proxy: xmlrpc.client.ServerProxy, session: str, n: int) -> None:
            for vm_id in vms[n::2 * THREADS]:
                _ok(proxy.one.vm.deploy(session, vm_id, host))
        _at_once(servers, deploy)

        def running() -> bool:
            for vm_id in vms:
                body = _ok(admin.one.vm.info(session, vm_id))
                if f"<STATE>{ACTIVE}</STATE>" not in body \
                        or f"<LCM_STATE>{RUNNING}</LCM_STATE>" not in body:
                    return False
            return True
        wait_for("every VM RUNNING", running, 120)
        for server in servers:
            proxy = xmlrpc.client.ServerProxy(server.endpoint)
            body = _ok(proxy.one.host.info(server.session, host))
            share = body.split("<HOST_SHARE>", 1)[1]
            assert f"<RUNNING_VMS>{len(vms)}</RUNNING_VMS>" in share, share[:400]
            assert f"<CPU_USAGE>{int(len(vms) * CPU * 100)}</CPU_USAGE>" in share
            assert f"<MEM_USAGE>{len(vms) * MEMORY * 1024}</MEM_USAGE>" in share
            listed = body.split("<VMS>", 1)[1].split("</VMS>", 1)[0]
            assert sorted(int(i) for i in listed.replace("<ID>", " ").replace("</ID>", " ")
                          .split()) == sorted(vms)

        # A hook made through one process fires for a call served by the other, once.
        hook = _ok(admin.one.hook.allocate(
            session, 'NAME = "on-group"\nTYPE = "api"\nCALL = "one.group.allocate"\n'
                     'COMMAND = "/bin/true"\nARGUMENTS = "$ID"'))
        time.sleep(RECHECK + 0.5)  # the other process's copy of the hook table is checked
        other = xmlrpc.client.ServerProxy(second.endpoint)
        _ok(other.one.group.allocate(second.session, "hooked"))
        wait_for("the hook's execution record", lambda: "<HOOK_EXECUTION_RECORD>" in _ok(
            admin.one.hook.info(session, hook)))
        time.sleep(1)
        assert _ok(admin.one.hook.info(session, hook)).count("<HOOK_EXECUTION_RECORD>") == 1
    finally:
        codes = [s.stop() for s in (second, first) if s is not None]
        engine.dispose()
        drop_database(backend, url)
    assert codes == [0] * len(codes)
