"""The kvm host probe (nubo/drivers/kvm/probe.py): its readers on sample text, its
figures against this machine's /proc, and a real domain started outside nubo
reported as wild, through libvirt-python and through virsh (python3 alone)."""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nubo.drivers.kvm import probe
from nubo.drivers.kvm.probe import Domain
from nubo.template import parse

PROBE = Path(probe.__file__)

CPUINFO = """processor\t: 0
model name\t: AMD EPYC
cpu MHz\t\t: 2596.000
flags\t\t: fpu vme svm

processor\t: 1
model name\t: AMD EPYC
cpu MHz\t\t: 2400.000
flags\t\t: fpu vme svm
"""
NETDEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 500       5    0    0    0     0          0         0      70       1    0    0    0     0       0          0
 vnet3: 20        1    0    0    0     0          0         0       5       1    0    0    0     0       0          0
"""


def test_readers_on_sample_text():
    assert probe.cpuinfo(CPUINFO) == {"MODELNAME": "AMD EPYC", "CPUSPEED": 2596,
                                      "TOTALCPU": 200}
    assert probe.net_totals(NETDEV) == (520, 75)  # lo left out
    mem = probe.meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n")
    assert mem == {"TOTALMEMORY": 1000, "USEDMEMORY": 600, "FREEMEMORY": 400}
    before = probe.cpu_times("cpu  100 0 100 800 0 0 0 0 0 0\n")
    after = probe.cpu_times("cpu  150 0 150 850 50 0 0 0 0 0\n")
    assert before == (800, 1000) and after == (900, 1200)
    assert probe.cpu_busy(before, after) == pytest.approx(0.5)


def test_kvm_needs_hardware_extensions(tmp_path):
    """/dev/kvm opening is not enough: without vmx/svm (a paravirtual kvm_pvm) it is NO."""
    (tmp_path / "kvm_pvm").mkdir()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        usable, why = probe.kvm_usable()
        assert not usable and "/dev/kvm" in why
        return
    usable, why = probe.kvm_usable(cpuinfo_text="flags\t: fpu sse\n", modules=str(tmp_path))
    assert not usable and "vmx/svm" in why and "kvm_pvm" in why
    usable, why = probe.kvm_usable(cpuinfo_text="flags\t: fpu svm\n", modules=str(tmp_path))
    assert not usable and "kvm_intel/kvm_amd" in why
    (tmp_path / "kvm_amd").mkdir()
    assert probe.kvm_usable(cpuinfo_text="flags\t: fpu svm\n", modules=str(tmp_path)) == (True, "")


def test_this_machine_reports_kvm_as_its_cpu_allows():
    flags = Path("/proc/cpuinfo").read_text()
    figures = parse(probe.collect(window=0.05, domains=False))
    if " vmx" not in flags and " svm" not in flags:
        assert figures.get("KVM_USABLE") == "NO" and figures.get("KVM_REASON")


def _meminfo_kb(name: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def test_figures_agree_with_proc():
    figures = parse(probe.collect(window=0.2, domains=False))
    number = lambda name: int(figures.get(name))  # noqa: E731
    assert figures.get("HYPERVISOR") == "kvm"
    assert figures.get("HOSTNAME") == os.uname().nodename
    assert figures.get("ARCH") == os.uname().machine
    assert number("TOTALCPU") == 100 * os.cpu_count()
    assert number("USEDCPU") + number("FREECPU") == number("TOTALCPU")
    assert 0 <= number("USEDCPU") <= number("TOTALCPU")
    assert number("TOTALMEMORY") == _meminfo_kb("MemTotal")
    assert abs(number("FREEMEMORY") - _meminfo_kb("MemAvailable")) < 256 * 1024
    assert number("USEDMEMORY") + number("FREEMEMORY") == number("TOTALMEMORY")
    rx, tx = probe.net_totals(Path("/proc/net/dev").read_text())
    assert 0 <= rx - number("NETRX") < 64 * 1024 * 1024 and 0 <= tx - number("NETTX") < 64 * 1024 * 1024
    assert number("CPUSPEED") > 0 and figures.get("MODELNAME")
    assert figures.get("KVM_USABLE") in ("YES", "NO")


def test_cpu_usage_follows_a_busy_loop():
    """A process spinning on one core shows in USEDCPU (at least a good part of a core)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        figures = parse(probe.collect(window=1.0, domains=False))
    finally:
        spinner.kill()
        spinner.wait()
    assert int(figures.get("USEDCPU")) >= 50


def test_domains_as_the_core_reads_them():
    """one-N is VM N with its usage, a stranger is wild (ID -1, its name, a template to
    import), a wild one that does not run is left out."""
    def dom(name: str, state: int, cpu_ns: int) -> Domain:
        return Domain(name, "uuid-" + name, {
            "state.state": state, "cpu.time": cpu_ns, "balloon.current": 131072,
            "balloon.maximum": 131072, "balloon.rss": 100000, "vcpu.current": 2,
            "net.count": 2, "net.0.rx.bytes": 10, "net.0.tx.bytes": 1,
            "net.1.rx.bytes": 5, "net.1.tx.bytes": 2})
    before = [dom("one-7", 1, 0), dom("web", 1, 0)]
    after = [dom("one-7", 1, 500_000_000), dom("web", 3, 0), dom("off", 5, 0),
             dom("one-8", 5, 0)]
    text = "\n".join(probe.vm_lines(before, after, 1.0)) + "\n"
    vms = parse(text).get_vectors("VM")
    by_id = {(v.get("ID"), v.get("DEPLOY_ID")): v for v in vms}
    assert set(by_id) == {("7", "one-7"), ("-1", "web"), ("8", "one-8")}
    assert by_id["7", "one-7"].get("POLL") == \
        "STATE=a CPU=50.00 MEMORY=100000 NETRX=15 NETTX=3"
    assert by_id["8", "one-8"].get("POLL").startswith("STATE=d")
    wild = by_id["-1", "web"]
    assert wild.get("VM_NAME") == "web" and wild.get("POLL").startswith("STATE=p")
    imported = parse(base64.b64decode(wild.get("IMPORT_TEMPLATE")).decode())
    assert (imported.get("NAME"), imported.get("VCPU"), imported.get("MEMORY")) == \
        ("web", "2", "128")
    assert imported.get("IMPORT_VM_ID") == "uuid-web"


# ------------------------------------------------------------------ a real libvirtd

@pytest.fixture(scope="module")
def wild_domain():
    """A tiny TCG guest started outside nubo (virsh create), destroyed at the end."""
    sys.path.insert(0, str(Path(__file__).parent))
    from libvirt_daemons import ensure_libvirtd
    import tiny_guests
    try:
        uri = ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    if tiny_guests.boot_files() is None:
        pytest.skip("no /boot/vmlinuz-* with its initrd")
    name = f"nubo-test-kvmhost-wild-{os.getpid()}"
    tiny_guests.start(uri, name)
    yield uri, name
    tiny_guests.destroy(uri, name)


def _wild(text: str, name: str):
    found = [v for v in parse(text).get_vectors("VM") if v.get("DEPLOY_ID") == name]
    assert len(found) == 1, text
    return found[0]


def test_a_domain_started_outside_nubo_is_wild(wild_domain):
    uri, name = wild_domain
    text = probe.collect(uri, window=0.3)
    vm = _wild(text, name)
    assert vm.get("ID") == "-1" and vm.get("VM_NAME") == name
    poll = dict(p.split("=", 1) for p in vm.get("POLL").split())
    assert poll["STATE"] == "a" and int(poll["MEMORY"]) > 0 and float(poll["CPU"]) >= 0
    imported = parse(base64.b64decode(vm.get("IMPORT_TEMPLATE")).decode())
    assert imported.get("MEMORY") == "96" and imported.get("HYPERVISOR") == "kvm"
    assert int(parse(text).get("RUNNING_VMS")) >= 1


@pytest.mark.skipif(shutil.which("python3") is None, reason="no system python3")
def test_the_probe_runs_as_a_script_on_a_bare_python(wild_domain):
    """``python3 probe.py`` with the system's python (virsh when it has no libvirt)."""
    uri, name = wild_domain
    done = subprocess.run(["python3", str(PROBE), "--uri", uri, "--window", "0.2"],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr
    assert parse(done.stdout).get("HYPERVISOR") == "kvm"
    assert _wild(done.stdout, name).get("ID") == "-1"


def test_monitor_of_this_machine_runs_in_place(wild_domain):
    uri, name = wild_domain
    os.environ["NUBO_KVM_URI"] = uri
    text = probe.monitor("localhost", b"<HOST/>")
    assert _wild(text, name).get("ID") == "-1"


def test_a_probe_that_cannot_reach_libvirt_fails_with_the_reason():
    done = subprocess.run([sys.executable, str(PROBE), "--uri", "qemu:///nonexistent"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("probe: ")
