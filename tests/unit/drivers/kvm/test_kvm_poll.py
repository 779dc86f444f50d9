"""The kvm driver's pure parts around libvirt: the poll string from a domain's stats,
CPU use from two samples, and the choice between KVM and TCG from the probe's timings."""
from __future__ import annotations

import math

import pytest

libvirt = pytest.importorskip("libvirt")

from nubo.drivers.kvm.hosts import choose_domain_type  # noqa: E402
from nubo.drivers.kvm.poll import cpu_percent, poll_line, state_letter  # noqa: E402


def test_poll_line_sums_interfaces_and_disks():
    stats = {"state.state": libvirt.VIR_DOMAIN_RUNNING, "cpu.time": 10, "balloon.rss": 140000,
             "balloon.current": 131072, "net.count": 2, "net.0.rx.bytes": 10,
             "net.0.tx.bytes": 1, "net.1.rx.bytes": 5, "net.1.tx.bytes": 2, "block.count": 1,
             "block.0.rd.bytes": 4096, "block.0.wr.bytes": 512, "block.0.rd.reqs": 3,
             "block.0.wr.reqs": 1}
    assert poll_line(stats, 12.345) == ("STATE=a CPU=12.35 MEMORY=140000 NETRX=15 NETTX=3 "
                                        "DISKRDBYTES=4096 DISKWRBYTES=512 DISKRDIOPS=3 "
                                        "DISKWRIOPS=1")
    assert poll_line({"state.state": libvirt.VIR_DOMAIN_SHUTOFF}, None) == "STATE=d"
    assert poll_line({"state.state": libvirt.VIR_DOMAIN_PAUSED}, None).startswith(
        "STATE=p CPU=0.00 MEMORY=0 ")


@pytest.mark.parametrize("state, reason, letter", [
    (libvirt.VIR_DOMAIN_RUNNING, 0, "a"), (libvirt.VIR_DOMAIN_BLOCKED, 0, "a"),
    (libvirt.VIR_DOMAIN_SHUTDOWN, 0, "a"), (libvirt.VIR_DOMAIN_PAUSED, 0, "p"),
    (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_IOERROR, "e"),
    (libvirt.VIR_DOMAIN_PMSUSPENDED, 0, "p"), (libvirt.VIR_DOMAIN_CRASHED, 0, "e"),
    (libvirt.VIR_DOMAIN_SHUTOFF, 0, "d"),
])
def test_libvirt_states_become_opennebula_letters(state, reason, letter):
    assert state_letter(state, reason) == letter


def test_cpu_percent_is_100_per_core():
    assert cpu_percent((10.0, 0), (12.0, 3 * 10**9)) == pytest.approx(150.0)
    assert cpu_percent(None, (1.0, 5)) is None
    assert cpu_percent((5.0, 10), (5.0, 20)) is None


def test_kvm_only_when_it_runs_the_probe_at_speed():
    assert choose_domain_type(None, 0.3) == "qemu"          # /dev/kvm missing or broken
    assert choose_domain_type(7.45, 0.31) == "qemu"          # opens, but crawls (nested PVM)
    assert choose_domain_type(0.2, 0.3) == "kvm"
    assert choose_domain_type(0.9, 0.2) == "kvm"             # within a second is fine
    assert choose_domain_type(1.5, 0.2) == "qemu"
    # a loaded host: TCG slowed to 2.5 s and the crawling KVM to 7.45 s (3 x TCG let it
    # through, and its guests never booted)
    assert choose_domain_type(7.45, 2.5) == "qemu"
    assert choose_domain_type(2.0, 2.5) == "kvm"
    assert choose_domain_type(0.5, None) == "kvm"



def test_the_probe_answers_as_the_rule_would_as_soon_as_it_can():
    """Both firmware boots run at once; the answer is choose_domain_type's for the times
    they take (a KVM cut off counting as refused), given no later than the rule needs:
    KVM's time if it wins, else just past TCG's (and a failure at once)."""
    from nubo.drivers.kvm.hosts import kvm_bound, probe_answer
    times = (0.05, 0.5, 0.95, 1.05, 1.5, 2.5, 7.45, math.inf)  # inf: the run fails

    def seen(took: float, elapsed: float) -> float | None:
        if took == math.inf:
            return math.inf if elapsed >= 0.02 else None  # a failure shows at once
        return took if elapsed >= took else None

    for kvm_s in times:
        for tcg_s in times:
            elapsed, answer = 0.0, None
            while answer is None:
                elapsed = round(elapsed + 0.01, 2)
                answer = probe_answer(elapsed, seen(kvm_s, elapsed), seen(tcg_s, elapsed))
            want = choose_domain_type(None if kvm_s == math.inf else kvm_s,
                                      None if tcg_s == math.inf else tcg_s)
            assert answer == want, (kvm_s, tcg_s)
            needed = 0.02 if kvm_s == math.inf else min(kvm_s, kvm_bound(tcg_s))
            assert elapsed <= needed + 0.011, (kvm_s, tcg_s, elapsed)
