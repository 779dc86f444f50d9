"""A domain's libvirt statistics -> OpenNebula's poll string
(``STATE=a CPU=12.5 MEMORY=524288 NETRX=.. NETTX=.. DISKRDBYTES=..``).

Pure, so the kvm driver's POLL and the host probe (one bulk
``getAllDomainStats`` call per round) can share it: ``stats`` is one record's dict as
libvirt's domain stats API gives it (``state.state``, ``cpu.time``, ``balloon.rss``,
``net.N.rx.bytes``, ``block.N.rd.bytes``...).
"""
from __future__ import annotations

from collections.abc import Mapping

import libvirt

_PAUSED_BY_ERROR = {libvirt.VIR_DOMAIN_PAUSED_IOERROR, libvirt.VIR_DOMAIN_PAUSED_CRASHED}
if hasattr(libvirt, "VIR_DOMAIN_PAUSED_API_ERROR"):
    _PAUSED_BY_ERROR.add(libvirt.VIR_DOMAIN_PAUSED_API_ERROR)

#: Everything POLL reports, in one libvirt call.
STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
         | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_INTERFACE
         | libvirt.VIR_DOMAIN_STATS_BLOCK)


def state_letter(state: int, reason: int = 0) -> str:
    """OpenNebula's letters: a(ctive), p(aused), e(rror), d(isappeared)."""
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED,
                 libvirt.VIR_DOMAIN_NOSTATE, libvirt.VIR_DOMAIN_SHUTDOWN):
        return "a"
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return "e" if reason in _PAUSED_BY_ERROR else "p"
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return "p"
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return "e"
    return "d"  # shut off


def _sum(stats: Mapping[str, int], group: str, key: str) -> int:
    return sum(int(stats.get(f"{group}.{i}.{key}", 0) or 0)
               for i in range(int(stats.get(f"{group}.count", 0) or 0)))


def poll_line(stats: Mapping[str, int], cpu_percent: float | None) -> str:
    """The poll string; ``cpu_percent`` (100 = one core) from two samples of cpu.time."""
    letter = state_letter(int(stats.get("state.state", libvirt.VIR_DOMAIN_NOSTATE)),
                          int(stats.get("state.reason", 0)))
    if letter == "d":
        return "STATE=d"
    memory = int(stats.get("balloon.rss") or stats.get("balloon.current") or 0)
    figures = {
        "STATE": letter,
        "CPU": f"{max(0.0, cpu_percent or 0.0):.2f}",
        "MEMORY": memory,
        "NETRX": _sum(stats, "net", "rx.bytes"),
        "NETTX": _sum(stats, "net", "tx.bytes"),
        "DISKRDBYTES": _sum(stats, "block", "rd.bytes"),
        "DISKWRBYTES": _sum(stats, "block", "wr.bytes"),
        "DISKRDIOPS": _sum(stats, "block", "rd.reqs"),
        "DISKWRIOPS": _sum(stats, "block", "wr.reqs"),
    }
    return " ".join(f"{k}={v}" for k, v in figures.items())


def cpu_percent(before: tuple[float, int] | None, now: tuple[float, int]) -> float | None:
    """CPU use between two (monotonic seconds, cpu.time ns) samples, 100 per core."""
    if before is None or now[0] <= before[0] or now[1] < before[1]:
        return None
    return (now[1] - before[1]) / 1e9 / (now[0] - before[0]) * 100
