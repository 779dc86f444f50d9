"""What ``/metrics`` adds to the API's own figures: the cloud and its drivers.

Read at scrape time (one indexed count per table, the drivers' counters in memory), in
Prometheus' text format: VMs by STATE/LCM_STATE and hosts by state (OpenNebula's
names), VMs waiting for a driver, hook jobs waiting to run, per driver its
process, its actions and their outcomes, and the password checks (KDF runs, refusals,
back-offs).
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import func, select

from nubo.core import journal
from nubo.lifecycle.states import LcmState, VmState
from nubo.model.hook import HOST_STATES
from nubo.store.schema import host_pool, hook_queue, vm_pool

_HOST_STATE_NAMES = {v: k for k, v in HOST_STATES.items()}
#: DriverStats counters shown as Prometheus counters: (field, metric, help).
_DRIVER_COUNTERS = (
    ("starts", "nubo_driver_starts_total", "Times the driver process was started"),
    ("submitted", "nubo_driver_actions_total", "Actions submitted to the driver"),
    ("succeeded", "nubo_driver_actions_succeeded_total", "Actions the driver answered SUCCESS"),
    ("failed", "nubo_driver_actions_failed_total",
     "Actions that failed (FAILURE, timeout, crash, protocol error)"),
    ("timeouts", "nubo_driver_actions_timed_out_total", "Actions the driver did not answer in time"),
    ("crashed", "nubo_driver_actions_crashed_total", "Actions failed because the driver died"),
    ("protocol_errors", "nubo_driver_protocol_errors_total",
     "Lines from the driver that broke the protocol"),
)


def _family(name: str, kind: str, help_text: str,
            samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        label = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{label}}} {value:g}" if label else f"{name} {value:g}")
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _name(enum: Any, value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def core_metrics(cloud: Any, drivers: Any | None = None) -> str:
    with cloud.db.read() as conn:
        vms = conn.execute(select(vm_pool.c.state, vm_pool.c.lcm_state, func.count())
                           .group_by(vm_pool.c.state, vm_pool.c.lcm_state)).all()
        hosts = conn.execute(select(host_pool.c.state, func.count())
                             .group_by(host_pool.c.state)).all()
        awaiting = journal.count(conn, journal.VM)
        hooks = conn.execute(select(func.count()).select_from(hook_queue)).scalar_one()
    lines = [
        *_family("nubo_database_bytes", "gauge", "Size of the database",
                 [({}, cloud.db.size_bytes())]),
        *_family("nubo_vms", "gauge", "VMs by STATE and LCM_STATE",
                 [({"state": _name(VmState, s), "lcm_state": _name(LcmState, lcm)}, n)
                  for s, lcm, n in vms]),
        *_family("nubo_hosts", "gauge", "Hosts by state",
                 [({"state": _HOST_STATE_NAMES.get(s, str(s))}, n) for s, n in hosts]),
        *_family("nubo_vms_awaiting_driver", "gauge",
                 "VMs in a transient state waiting for a driver's answer", [({}, awaiting)]),
        *_family("nubo_hook_jobs_queued", "gauge", "Hook jobs stored and not yet run",
                 [({}, hooks)]),
    ]
    stats = drivers.stats() if drivers is not None else {}
    lines += _family("nubo_driver_up", "gauge", "1 while the driver process runs",
                     [({"driver": n}, 1 if s.state == "running" else 0)
                      for n, s in stats.items()])
    for field, metric, help_text in _DRIVER_COUNTERS:
        lines += _family(metric, "counter", help_text,
                         [({"driver": n}, getattr(s, field)) for n, s in stats.items()])
    lines += _family("nubo_driver_actions_in_flight", "gauge",
                     "Actions written to the driver and not yet answered",
                     [({"driver": n}, s.in_flight) for n, s in stats.items()])
    lines += _family("nubo_driver_actions_queued", "gauge",
                     "Actions waiting in the core for the driver's concurrency limit",
                     [({"driver": n}, s.queued) for n, s in stats.items()])
    guard = cloud.guard.stats
    lines += _family("nubo_auth_kdf_runs_total", "counter",
                     "Password KDF runs, against a user's hash or the dummy one (unknown "
                     "user, disabled, no argon2 hash)",
                     [({"hash": "user"}, guard.kdf_runs), ({"hash": "dummy"}, guard.dummy_runs)])
    lines += _family("nubo_auth_refused_total", "counter",
                     "Password checks refused without a KDF run: backed off, or every "
                     "worker busy", [({"reason": "backoff"}, guard.refused_backoff),
                                     ({"reason": "busy"}, guard.refused_busy)])
    lines += _family("nubo_auth_backoffs_total", "counter",
                     "Back-offs started after repeated failures, of a user name or a source",
                     [({"of": "user"}, guard.backoffs_user),
                      ({"of": "source"}, guard.backoffs_source)])
    return "\n".join(lines) + "\n"
