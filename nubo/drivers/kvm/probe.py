#!/usr/bin/env python3
"""The kvm host probe: what a KVM host reports each monitoring round, in one run.

OpenNebula's im_kvm probes, as one file that runs ON the host with nothing but
python3 (and python3-libvirt, else ``virsh``): ``python3 probe.py [--uri URI]``
prints the host's monitoring template (HYPERVISOR, HOSTNAME, ARCH, MODELNAME,
CPUSPEED, TOTAL/USED/FREE CPU (100 per core) and MEMORY (KB), NETRX/NETTX,
KVM_USABLE) and one ``VM=[ID, DEPLOY_ID, POLL]`` per domain, the format the core
reads (nubo.core.vm_monitor): domains named ``one-N`` are nubo's VM N, others are
wild (ID -1, with VM_NAME and IMPORT_TEMPLATE as oned shows them).

CPU usage, the host's and each domain's, comes from two samples ``--window``
seconds apart (/proc/stat and the domains' cpu.time), as OpenNebula's probes do
instead of the load average; the domains are read by one bulk call at each end
of the window (getAllDomainStats), whatever their number.

The driver imports it too: ``monitor(host, payload)`` runs it in-process for this
machine and over ssh on a remote host (nubo.drivers.kvm.remote).
"""
from __future__ import annotations

import argparse
import base64
import os
import platform
import re
import socket
import subprocess
import sys
import time

DEFAULT_URI = "qemu:///system"
DEFAULT_WINDOW = 0.5  # seconds between the two CPU samples

# libvirt's virDomainState -> OpenNebula's poll STATE (a active, p paused, d gone, e error)
_STATES = {0: "a", 1: "a", 2: "a", 3: "p", 4: "a", 5: "d", 6: "e", 7: "p"}
_ONE_NAME = re.compile(r"^one-(\d+)$")


# ---------------------------------------------------------------------- /proc readers

def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def cpuinfo(text: str) -> dict[str, object]:
    """MODELNAME, CPUSPEED (MHz, the first CPU's) and TOTALCPU (100 per logical CPU)."""
    model, speed, count = "", 0, 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            count += 1
        elif key == "model name" and not model:
            model = value
        elif key == "cpu MHz" and not speed:
            speed = int(float(value))
    return {"MODELNAME": model, "CPUSPEED": speed,
            "TOTALCPU": 100 * (count or os.cpu_count() or 1)}


def cpu_times(text: str) -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs from /proc/stat; iowait counts as idle."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            # user nice system idle iowait irq softirq steal (guest* are within user)
            used = values[:8]
            return used[3] + (used[4] if len(used) > 4 else 0), sum(used)
    raise ValueError("/proc/stat has no cpu line")


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The fraction (0..1) of the CPUs busy between two samples."""
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    return max(0.0, min(1.0, 1 - (after[0] - before[0]) / total))


def meminfo(text: str) -> dict[str, int]:
    """TOTAL/USED/FREE MEMORY in KB: free is MemAvailable (what VMs can still get)."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[key] = int(parts[0])
    total = values["MemTotal"]
    free = values.get("MemAvailable", values.get("MemFree", 0))
    return {"TOTALMEMORY": total, "USEDMEMORY": total - free, "FREEMEMORY": free}


def net_totals(text: str) -> tuple[int, int]:
    """Bytes received and sent by every interface but lo (/proc/net/dev)."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


# ---------------------------------------------------------------------- KVM usable

_KVM_GET_API_VERSION, _KVM_CREATE_VM = 0xAE00, 0xAE01


def kvm_usable(device: str = "/dev/kvm", cpuinfo_text: str | None = None,
               modules: str = "/sys/module") -> tuple[bool, str]:
    """Whether guests can run under KVM here, and why not.

    /dev/kvm opening is not enough: a nested or paravirtual /dev/kvm (kvm_pvm, as on
    Firecracker sandboxes) creates VMs and runs a HLT but hangs a real guest in its
    BIOS. So it also takes the CPU's virtualization extensions (vmx/svm) and a
    hardware KVM module (kvm_intel/kvm_amd).
    """
    import fcntl
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return False, f"{device}: {e.strerror}"
    try:
        if fcntl.ioctl(fd, _KVM_GET_API_VERSION, 0) != 12:
            return False, f"{device}: unexpected KVM API version"
        os.close(fcntl.ioctl(fd, _KVM_CREATE_VM, 0))
    except OSError as e:
        return False, f"{device}: cannot create a VM: {e.strerror}"
    finally:
        os.close(fd)
    text = cpuinfo_text if cpuinfo_text is not None else _read("/proc/cpuinfo")
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    if not flags & {"vmx", "svm"}:
        pvm = " (kvm_pvm: paravirtual, guests must be PVM-aware)" if os.path.isdir(
            os.path.join(modules, "kvm_pvm")) else ""
        return False, f"the CPU shows no vmx/svm extensions{pvm}"
    if not any(os.path.isdir(os.path.join(modules, m)) for m in ("kvm_intel", "kvm_amd")):
        return False, "no hardware KVM module (kvm_intel/kvm_amd) is loaded"
    return True, ""


# ---------------------------------------------------------------------- domains

class Domain:
    """One domain's figures from a bulk stats call."""

    def __init__(self, name: str, uuid: str, stats: dict) -> None:
        self.name, self.uuid, self.stats = name, uuid, stats

    def number(self, key: str) -> int:
        try:
            return int(self.stats.get(key, 0))
        except (TypeError, ValueError):
            return 0

    def net(self) -> tuple[int, int]:
        count = self.number("net.count")
        return (sum(self.number(f"net.{i}.rx.bytes") for i in range(count)),
                sum(self.number(f"net.{i}.tx.bytes") for i in range(count)))


class Hypervisor:
    """The host's libvirt, read-only: one connection for a round's two bulk calls
    (libvirt-python), or ``virsh domstats`` where python3-libvirt is missing."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        try:
            import libvirt
        except ImportError:
            self.libvirt, self.conn = None, None
            return
        self.libvirt = libvirt
        libvirt.registerErrorHandler(lambda *_: None, None)  # no noise on stderr
        try:
            self.conn = libvirt.openReadOnly(uri)
        except libvirt.libvirtError as e:
            raise RuntimeError(f"libvirt {uri}: {e.get_error_message()}") from None

    def stats(self, cpu_only: bool = False) -> list[Domain]:
        """Every domain with its stats, in one call (``cpu_only``: state and cpu time,
        which do not ask each guest's QEMU for its balloon and interfaces)."""
        if self.libvirt is None:
            return _virsh_stats(self.uri, cpu_only)
        lv = self.libvirt
        wanted = lv.VIR_DOMAIN_STATS_STATE | lv.VIR_DOMAIN_STATS_CPU_TOTAL
        if not cpu_only:
            wanted |= (lv.VIR_DOMAIN_STATS_BALLOON | lv.VIR_DOMAIN_STATS_INTERFACE
                       | lv.VIR_DOMAIN_STATS_VCPU)
        try:
            return [Domain(dom.name(), dom.UUIDString(), stats)
                    for dom, stats in self.conn.getAllDomainStats(wanted, 0)]
        except lv.libvirtError as e:
            raise RuntimeError(f"libvirt {self.uri}: {e.get_error_message()}") from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _virsh_stats(uri: str, cpu_only: bool = False) -> list[Domain]:
    """The same through ``virsh domstats`` (hosts without python3-libvirt)."""
    groups = ["--state", "--cpu-total"]
    if not cpu_only:
        groups += ["--balloon", "--interface", "--vcpu"]
    out = subprocess.run(["virsh", "-r", "-c", uri, "domstats", "--raw", *groups],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"virsh exited with {out.returncode}")
    domains: list[Domain] = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("Domain:"):
            domains.append(Domain(line.split(":", 1)[1].strip().strip("'"), "", {}))
        elif "=" in line and domains:
            key, _, value = line.partition("=")
            domains[-1].stats[key] = value
    return domains


def domain_stats(uri: str) -> list[Domain]:
    """The host's domains with all their stats, from one bulk call."""
    hypervisor = Hypervisor(uri)
    try:
        return hypervisor.stats()
    finally:
        hypervisor.close()


def _quote(value: object) -> str:
    """A template value in double quotes (the quote and backslash escaped)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def vm_lines(before: list[Domain], after: list[Domain], seconds: float) -> list[str]:
    """One ``VM=[...]`` per domain; CPU from the cpu.time the two samples differ by."""
    start = {d.name: d.number("cpu.time") for d in before}
    lines = []
    for dom in after:
        state = _STATES.get(dom.number("state.state"), "a")
        cpu = 0.0
        if dom.name in start and seconds > 0:
            cpu = max(0.0, (dom.number("cpu.time") - start[dom.name]) / (seconds * 1e7))
        memory = dom.number("balloon.rss") or dom.number("balloon.current")
        rx, tx = dom.net()
        poll = f"STATE={state} CPU={cpu:.2f} MEMORY={memory} NETRX={rx} NETTX={tx}"
        match = _ONE_NAME.match(dom.name)
        if match:
            lines.append(f"VM=[ID={_quote(match.group(1))},DEPLOY_ID={_quote(dom.name)},"
                         f"POLL={_quote(poll)}]")
        elif state not in ("d", "e"):  # a wild domain that does not run is none of ours
            lines.append(f"VM=[ID=\"-1\",DEPLOY_ID={_quote(dom.name)},"
                         f"VM_NAME={_quote(dom.name)},"
                         f"IMPORT_TEMPLATE={_quote(import_template(dom))},"
                         f"POLL={_quote(poll)}]")
    return lines


def import_template(dom: Domain) -> str:
    """A wild domain as a VM template (base64), what one.vm.allocate would import."""
    vcpu = dom.number("vcpu.current") or 1
    memory_mb = (dom.number("balloon.maximum") or dom.number("balloon.current")) // 1024
    text = (f"NAME={_quote(dom.name)}\nCPU={_quote(vcpu)}\nVCPU={_quote(vcpu)}\n"
            f"MEMORY={_quote(memory_mb)}\nHYPERVISOR=\"kvm\"\n"
            f"IMPORT_VM_ID={_quote(dom.uuid or dom.name)}\n")
    return base64.b64encode(text.encode()).decode("ascii")


# ---------------------------------------------------------------------- the round

def collect(uri: str = DEFAULT_URI, window: float = DEFAULT_WINDOW,
            domains: bool = True) -> str:
    """One probe round: the host's monitoring template."""
    hypervisor = Hypervisor(uri) if domains else None
    try:
        cpu_before, t0 = cpu_times(_read("/proc/stat")), time.monotonic()
        before = hypervisor.stats(cpu_only=True) if hypervisor else []
        sampled = (t0 + time.monotonic()) / 2  # when the domains' cpu time was read
        # The rest of the round is done inside the CPU window rather than after it.
        info = cpuinfo(_read("/proc/cpuinfo"))
        usable, why = kvm_usable()
        memory = meminfo(_read("/proc/meminfo"))
        rx, tx = net_totals(_read("/proc/net/dev"))
        remaining = window - (time.monotonic() - t0)
        if remaining > 0:
            time.sleep(remaining)
        t1 = time.monotonic()
        after = hypervisor.stats() if hypervisor else []
        sampled = (t1 + time.monotonic()) / 2 - sampled
    finally:
        if hypervisor:
            hypervisor.close()
    cpu_after = cpu_times(_read("/proc/stat"))
    total = int(info["TOTALCPU"])
    used = int(round(cpu_busy(cpu_before, cpu_after) * total))
    running = sum(1 for d in after if _STATES.get(d.number("state.state")) in ("a", "p"))
    figures: list[tuple[str, object]] = [
        ("HYPERVISOR", "kvm"), ("HOSTNAME", socket.gethostname()), ("ARCH", platform.machine()),
        ("MODELNAME", info["MODELNAME"]), ("CPUSPEED", info["CPUSPEED"]),
        ("TOTALCPU", total), ("USEDCPU", used), ("FREECPU", total - used),
        ("TOTALMEMORY", memory["TOTALMEMORY"]), ("USEDMEMORY", memory["USEDMEMORY"]),
        ("FREEMEMORY", memory["FREEMEMORY"]), ("NETRX", rx), ("NETTX", tx),
        ("KVM_USABLE", "YES" if usable else "NO")]
    if why:
        figures.append(("KVM_REASON", why))
    if domains:
        figures.append(("RUNNING_VMS", running))
    lines = [f"{name}={_quote(value)}" for name, value in figures]
    lines += vm_lines(before, after, sampled)
    return "\n".join(lines) + "\n"


def monitor(host: str, payload: bytes) -> str:
    """The MONITOR action of the kvm driver: the host's template (plain text), probed
    here for this machine, over ssh elsewhere; raises RuntimeError with the reason."""
    from nubo.drivers.kvm import remote
    return remote.probe(host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Probe this KVM host for nubo.")
    parser.add_argument("--uri", default=DEFAULT_URI, help="libvirt URI (default: %(default)s)")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW,
                        help="seconds between the two CPU samples (default: %(default)s)")
    parser.add_argument("--no-domains", action="store_true",
                        help="report the host only (no libvirt)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(collect(args.uri, args.window, not args.no_domains))
    except (OSError, RuntimeError, ValueError) as e:
        sys.stderr.write(f"probe: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
