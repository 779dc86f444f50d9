"""A monitoring round writes records and last polls, never a VM body (issue 10 item 4)."""
from __future__ import annotations

import base64

from sqlalchemy import func, select

from nubo.config import Config
from nubo.core.bootstrap import bootstrap
from nubo.core.cloud import Cloud
from nubo.core.monitor import HostMonitor
from nubo.core.vm_commit import new_record
from nubo.drivers import DriverResult
from nubo.model.infra import HOST_MONITORED, Host
from nubo.model.vm_template import build_vm
from nubo.store.db import Database
from nubo.store.schema import vm_monitoring, vm_pool
from nubo.template import parse

NOW = 1_700_000_000


class Answering:
    """An information driver that lists every VM of the host running."""

    def __init__(self, probe: str) -> None:
        self.probe = probe

    def submit_callback(self, driver, action, oid, host, payload, callback, timeout=None):
        info = self.probe if host is not None else "TOTAL_MB=10\nFREE_MB=5\nUSED_MB=5\n"
        callback(DriverResult(driver, action, oid, host, True,
                              base64.b64encode(info.encode()).decode(), "driver", 0.0))


def test_a_round_moves_no_vm_version_and_vm_reads_show_the_poll(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    cloud = Cloud(db, Config(data_dir=tmp_path, monitoring_expiration=0), clock=lambda: NOW)
    bootstrap(cloud, "secret")
    pools = cloud.pools
    with db.write() as conn:
        host = Host(id=pools.hosts.next_oid(conn), name="h", state=HOST_MONITORED,
                    prev_state=HOST_MONITORED, im_mad="dummy", vm_mad="dummy", cluster_id=0,
                    cluster="default", template=parse('RESERVED_CPU = "100"'))
        for i in range(3):
            vm = build_vm(pools.vms.next_oid(conn), parse(f'NAME = "v{i}"\nCPU = 1\nMEMORY = 8'),
                          uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=NOW)
            vm.history.append(new_record(vm, host, NOW, ds_id=0, tm_mad="dummy"))
            vm.state, vm.lcm_state, vm.deploy_id = 3, 3, f"one-{vm.id}"
            pools.vms.insert(conn, vm)
            host.vms.append(vm.id)
        pools.hosts.insert(conn, host)
    probe = "TOTALCPU=400\nTOTALMEMORY=1024\n" + "".join(
        f'VM=[ID="{v}",DEPLOY_ID="one-{v}",POLL="STATE=a CPU=7 MEMORY=8"]\n' for v in host.vms)
    monitor = HostMonitor(cloud, Answering(probe), 0)  # type: ignore[arg-type]
    monitor.probe_all()
    monitor.close()
    with db.read() as conn:
        assert list(conn.execute(select(vm_pool.c.version)).scalars()) == [0, 0, 0]
        assert conn.execute(select(func.count()).select_from(vm_monitoring)).scalar() == 3
        body = pools.vms.body(conn, host.vms[1])
        probed = pools.hosts.get(conn, host.id)
    assert f"<LAST_POLL>{NOW}</LAST_POLL>" in body
    assert f"<MONITORING><CPU>7</CPU><ID>{host.vms[1]}</ID>" in body
    share = probed.host_share  # capacity after the host's reservation
    assert (share.total_cpu, share.max_cpu, share.max_mem) == (400, 300, 1024)
    db.close()
