"""Monitoring benchmark: one round of host probes over 20,000 running VMs on 1,000 dummy hosts.

1. A fresh database (--backend) bootstrapped in this process; --hosts MONITORED dummy hosts
   and --vms VMs RUNNING on them (spread evenly) stored directly through the pools, as
   many deploys would leave them (history record, the host's VMS).
2. --rounds monitoring rounds (HostMonitor.probe_all), in this process, the information
   driver answered at once by a stand-in that reports every host's VMs running
   (``VM=[ID, DEPLOY_ID, POLL]``, as the dummy's MONITOR does). The probe texts are built
   before the round, so what is timed is the core's own work: reading the hosts and
   their VMs, recording the probes, acting on what they say.
3. Per round: SQL statements that write (INSERT/UPDATE/DELETE) and the rows they touch,
   counted on the engine; the core's CPU time (process time, every thread) and wall
   time; and the VM rows whose version moved, each one a body every cached pool
   listing (one.vmpool.info) must fetch again.

The first round is printed apart (hosts' figures change from their stored ones); the
steady state is the mean of the others.

    .venv/bin/python bench/monitoring_round.py                       # 1,000 hosts, 20,000 VMs
    .venv/bin/python bench/monitoring_round.py --hosts 50 --vms 1000  # a quick run

It drives the core's classes directly, not a server, so that the same file measures
an older checkout too: ``cd OLD && .venv/bin/python NEW/bench/monitoring_round.py``.
"""
from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path.cwd()))  # the checkout being measured, when run from another
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbs import create_database, drop_database  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from nubo.config import Config  # noqa: E402
from nubo.core.bootstrap import bootstrap  # noqa: E402
from nubo.core.cloud import Cloud  # noqa: E402
from nubo.core.lcm import LifeCycleManager  # noqa: E402
from nubo.core.monitor import HostMonitor  # noqa: E402
from nubo.core.vm_commit import new_record  # noqa: E402
from nubo.drivers import DriverResult  # noqa: E402
from nubo.model.infra import HOST_MONITORED, Host, HostShare  # noqa: E402
from nubo.model.vm_template import build_vm  # noqa: E402
from nubo.store.db import Database  # noqa: E402
from nubo.store.schema import vm_pool  # noqa: E402
from nubo.template import parse  # noqa: E402

ACTIVE, RUNNING = 3, 3
TOTAL_CPU, TOTAL_MEM = 6400, 64 * 1024 * 1024
BATCH = 1000  # objects per transaction while populating


class WriteCounter:
    """INSERT/UPDATE/DELETE statements run on an engine, and the rows they touched."""

    def __init__(self, engine: Any) -> None:
        self.statements = self.rows = self.transactions = self.bytes = 0
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._committed)
        self._count_hot_statements()

    def _count_hot_statements(self) -> None:
        """The life-cycle's hot statements run on the DBAPI cursor, past the engine's
        events (nubo.store.hot): count those that write as they run."""
        try:
            from nubo.store import hot
        except ImportError:
            return
        run = hot.HotStatement._execute
        counter = self

        def counted(statement: Any, conn: Any, params: dict[str, Any]) -> Any:
            cursor = run(statement, conn, params)
            dml = statement.statement
            if isinstance(cursor, hot._Result) or not getattr(dml, "is_dml", False):
                return cursor  # ran through the engine (counted there), or a read
            with counter._lock:
                counter.statements += 1
                counter.rows += max(cursor.rowcount, 0)
                counter.bytes += _text_bytes(params)
            return cursor
        hot.HotStatement._execute = counted  # type: ignore[method-assign]

    def _executed(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if verb not in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            return
        rows = cursor.rowcount
        if rows is None or rows < 0:
            rows = len(parameters) if executemany else 1
        with self._lock:
            self.statements += 1
            self.rows += rows
            self.bytes += _text_bytes(parameters)

    def _committed(self, conn) -> None:  # noqa: ANN001
        with self._lock:
            self.transactions += 1

    def take(self) -> tuple[int, int, int, int]:
        with self._lock:
            out = (self.statements, self.rows, self.transactions, self.bytes)
            self.statements = self.rows = self.transactions = self.bytes = 0
        return out


def _text_bytes(parameters: Any) -> int:
    """The text a statement's parameters carry (bodies, records): what a write costs."""
    if isinstance(parameters, (str, bytes)):
        return len(parameters)
    if isinstance(parameters, dict):
        return sum(_text_bytes(v) for v in parameters.values())
    if isinstance(parameters, (list, tuple)):
        return sum(_text_bytes(v) for v in parameters)
    return 0


class AnsweringDriver:
    """Stands in for the dummy information driver: MONITOR answers at once with the
    prepared probe of each host (every VM it counts, running); datastores report
    fixed figures."""

    def __init__(self, probes: dict[int, str]) -> None:
        self.probes = probes

    def submit_callback(self, driver: str, action: str, oid: int, host: str | None,
                        payload: Any, callback: Callable[[DriverResult], None],
                        timeout: float | None = None) -> None:
        info = self.probes.get(oid, "") if host is not None else \
            "TOTAL_MB=1000\nFREE_MB=900\nUSED_MB=100\n"
        callback(DriverResult(driver, action, oid, host, True,
                              base64.b64encode(info.encode()).decode(), "driver", 0.0))


def probe_text(host_id: int, vm_ids: list[int]) -> str:
    lines = [f'HYPERVISOR="dummy"', f"TOTALCPU={TOTAL_CPU}", f"TOTALMEMORY={TOTAL_MEM}",
             f"FREECPU={TOTAL_CPU // 2}", f"FREEMEMORY={TOTAL_MEM // 2}",
             f"USEDCPU={TOTAL_CPU // 2}", f"USEDMEMORY={TOTAL_MEM // 2}",
             "NETRX=0", "NETTX=0"]
    for vm_id in vm_ids:
        lines.append(f'VM=[ID="{vm_id}",DEPLOY_ID="one-{vm_id}",'
                     f'POLL="STATE=a CPU=12.5 MEMORY=131072 NETRX=1000 NETTX=2000"]')
    return "\n".join(lines) + "\n"


def populate(cloud: Cloud, hosts: int, vms: int) -> dict[int, list[int]]:
    """Hosts MONITORED and VMs RUNNING on them, stored as deploys leave them."""
    pools, now = cloud.pools, cloud.now()
    placed: dict[int, list[int]] = {h: [] for h in range(hosts)}
    for vm_id in range(vms):
        placed[vm_id % hosts].append(vm_id)
    with cloud.db.write() as conn:
        host_ids = []
        for h in range(hosts):
            hid = pools.hosts.next_oid(conn)
            host_ids.append(hid)
            pools.hosts.insert(conn, Host(
                id=hid, name=f"mon-{h:05d}", state=HOST_MONITORED, prev_state=HOST_MONITORED,
                im_mad="dummy", vm_mad="dummy", cluster_id=0, cluster="default",
                host_share=HostShare(total_cpu=TOTAL_CPU, max_cpu=TOTAL_CPU,
                                     total_mem=TOTAL_MEM, max_mem=TOTAL_MEM),
                template=parse('IM_MAD="dummy"\nVM_MAD="dummy"\nRESERVED_CPU=""\n'
                               'RESERVED_MEM=""')))
    probes_by_host: dict[int, list[int]] = {}
    template = 'NAME="m"\nCPU="0.1"\nMEMORY="128"\n'
    ids = iter(range(vms))
    for start in range(0, vms, BATCH):
        with cloud.db.write() as conn:
            for _ in range(min(BATCH, vms - start)):
                n = next(ids)
                hid = host_ids[n % hosts]
                vm = build_vm(pools.vms.next_oid(conn), parse(template + f'NAME="m-{n}"\n'),
                              uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=now)
                host = Host(id=hid, name=f"mon-{n % hosts:05d}", state=HOST_MONITORED,
                            prev_state=HOST_MONITORED, im_mad="dummy", vm_mad="dummy",
                            cluster_id=0, cluster="default")
                vm.history.append(new_record(vm, host, now, ds_id=0, tm_mad="dummy"))
                vm.state, vm.lcm_state = ACTIVE, RUNNING
                vm.deploy_id = f"one-{vm.id}"
                pools.vms.insert(conn, vm)
                probes_by_host.setdefault(hid, []).append(vm.id)
    with cloud.db.write() as conn:
        for hid, vm_ids in probes_by_host.items():
            host = pools.hosts.get(conn, hid)
            host.vms = sorted(vm_ids)
            share = host.host_share
            share.running_vms = len(vm_ids)
            share.cpu_usage, share.mem_usage = 10 * len(vm_ids), 128 * 1024 * len(vm_ids)
            pools.hosts.update(conn, host)
    return probes_by_host


def versions(cloud: Cloud) -> int:
    with cloud.db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(vm_pool.c.version), 0)))
                   .scalar_one())


def one_round(cloud: Cloud, driver: AnsweringDriver, counter: WriteCounter,
              config: Config) -> dict[str, float]:
    now = cloud.now() + 60  # a round a minute, as MONITORING_INTERVAL_HOST's default
    cloud.clock = lambda: now
    before = versions(cloud)
    monitor = HostMonitor(cloud, driver, 0)  # type: ignore[arg-type]
    counter.take()
    cpu, wall = time.process_time(), time.perf_counter()
    monitor.probe_all()
    monitor.close()  # waits for every probe to be recorded
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    statements, rows, transactions, written = counter.take()
    return {"statements": statements, "rows": rows, "transactions": transactions,
            "bytes": written,
            "cpu": cpu, "wall": wall, "bumped": versions(cloud) - before}


def compose(db: Database, config: Config) -> Cloud:
    """The cloud with its life-cycle manager (drivers not started): composed by the Core
    since issue 10, set on the cloud before it (so the bench measures older checkouts)."""
    try:
        from nubo.core.composition import Core
    except ImportError:
        cloud = Cloud(db, config)
        cloud.lifecycle = LifeCycleManager(cloud, None)
        return cloud
    return Core(config, db).cloud


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-monitoring-round-"))
    url = create_database(args.backend, tmp)
    config = Config(data_dir=tmp, database_url=url, monitoring_expiration=0,
                    datastore_driver="")
    db = Database(url)
    try:
        cloud = compose(db, config)
        bootstrap(cloud, "bench")
        start = time.perf_counter()
        placed = populate(cloud, args.hosts, args.vms)
        print(f"{args.hosts} hosts, {args.vms} VMs RUNNING on them ({args.backend}), stored in "
              f"{time.perf_counter() - start:.1f} s")
        driver = AnsweringDriver({hid: probe_text(hid, vm_ids) for hid, vm_ids in placed.items()})
        counter = WriteCounter(db.engine)
        results = [one_round(cloud, driver, counter, config) for _ in range(args.rounds)]
        for i, r in enumerate(results):
            label = "first round" if i == 0 else f"round {i + 1}"
            print(f"{label}: {r['statements']} write statements, {r['rows']} rows written "
                  f"({r['bytes'] / 1e6:.1f} MB of text), {r['transactions']} transactions, "
                  f"core CPU {r['cpu']:.2f} s, "
                  f"wall {r['wall']:.2f} s, VM row versions bumped {r['bumped']}")
        steady = results[1:] or results
        n = len(steady)
        print("per monitoring round (steady state): "
              f"{sum(r['statements'] for r in steady) / n:.0f} write statements, "
              f"{sum(r['rows'] for r in steady) / n:.0f} rows written "
              f"({sum(r['bytes'] for r in steady) / n / 1e6:.1f} MB of text), "
              f"{sum(r['transactions'] for r in steady) / n:.0f} transactions, "
              f"core CPU {sum(r['cpu'] for r in steady) / n:.2f} s, "
              f"wall {sum(r['wall'] for r in steady) / n:.2f} s, "
              f"VM row versions bumped {sum(r['bumped'] for r in steady) / n:.0f} "
              f"(of {args.vms} VMs)")
        if cloud.lifecycle is not None:
            cloud.lifecycle.close()
    finally:
        db.close()
        drop_database(args.backend, url)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
