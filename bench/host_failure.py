"""Host-failure trial: does a failed host ever leave a VM running twice?

Four dummy hosts, each with its own driver process and state journal (what runs
where is read from the journals, never from nubo), the fault-tolerance hook as
docs/hooks.md installs it, --vms VMs spread over the hosts, then --fail hosts cut
off (the dummy's down switch: unreachable, VMs still running) and brought back.

    .venv/bin/python bench/host_failure.py                      # fenced: 0 VMs twice
    .venv/bin/python bench/host_failure.py --mode no-fencing --fail 2
    .venv/bin/python bench/host_failure.py --mode in-flight     # DEPLOYs under way

``fenced``: the hook's fence command powers the host off (``NAME off``);
``no-fencing``: the hook recreates at once (``--no-fencing``), so the VMs run twice
until the hosts come back, when nubo must destroy the copies; ``in-flight``: the
VMs' DEPLOY (3 s) is under way on the failing host, whose late SUCCESS must be undone.
Prints the VMs seen running on two hosts while the hosts were down and after they
came back, and how long the recreation and the clean-up took.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import pyone  # noqa: E402
import test_host_failure as trial  # noqa: E402
from waits import ACTIVE, BOOT, wait_for, wait_state  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("fenced", "no-fencing", "in-flight"), default="fenced")
    ap.add_argument("--vms", type=int, default=40)
    ap.add_argument("--fail", type=int, default=1, help="hosts cut off (fenced: 1)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-host-failure-"))
    in_flight = args.mode == "in-flight"
    server = trial.start(tmp, 'scheduler = true\nsched_policy = "striping"\n'
                         'zombie_policy = "destroy"',
                         latency={"h0": "DEPLOY=3"} if in_flight else None)
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        hosts = {name: one.host.allocate(name, name, name, -1) for name in trial.HOSTS}
        for hid in hosts.values():
            wait_for("hosts monitored", lambda h=hid: one.host.info(h).STATE == trial.MONITORED)
        data = server.data_dir
        fence = (trial.fence_command(tmp, data) if args.mode == "fenced" else "--no-fencing")
        trial.ft_hook(one, server, fence + " --pause 2")
        if in_flight:
            victims = ["h0"]
            doomed = [one.vm.allocate(f'NAME = "f{i}"\nCPU = 0.1\nMEMORY = 32', True)
                      for i in range(args.vms // 4)]
            for vm_id in doomed:
                one.vm.deploy(vm_id, hosts["h0"])
            for vm_id in doomed:
                wait_state(one, vm_id, (ACTIVE, BOOT))
        else:
            vm_ids = trial.run_vms(one, args.vms)
            by_host: dict[str, list[int]] = {}
            for vm_id in vm_ids:
                by_host.setdefault(trial.host_of(one, vm_id), []).append(vm_id)
            victims = sorted(by_host, key=lambda h: -len(by_host[h]))[
                :1 if args.mode == "fenced" else args.fail]
            doomed = [vm_id for h in victims for vm_id in by_host[h]]
        watch = trial.DoubleWatch(data)
        start = time.monotonic()
        (data / "dummy-down").write_text("".join(f"{h}\n" for h in victims))
        wait_for("VMs recreated", lambda: all(
            trial.recreated_elsewhere(one, doomed, h) for h in victims), timeout=120)
        recreated = time.monotonic() - start
        twice_down = len(watch.stop())
        watch = trial.DoubleWatch(data)
        start = time.monotonic()
        (data / "dummy-down").write_text("")
        late = ""
        if in_flight:
            def answered(word: str) -> int:
                return sum(trial.log_has(server, f"VM {v}: stale answer to vmm DEPLOY {word}")
                           for v in doomed)
            wait_for("the late DEPLOY answers", lambda: answered("undone") + answered(
                "dropped") == len(doomed), timeout=120)
            late = f"late DEPLOY SUCCESS undone: {answered('undone')}, dropped: " \
                   f"{answered('dropped')}; "
        wait_for("one copy of each VM", lambda: all(
            len(h) == 1 for h in trial.running_where(data).values()), timeout=120)
        cleaned = time.monotonic() - start
        time.sleep(3)  # a few more probes: nothing may come back
        twice_after = len(watch.stop())
        left = sum(len(h) > 1 for h in trial.running_where(data).values())
        print(f"mode={args.mode} hosts cut off={victims} their VMs={len(doomed)} {late}"
              f"recreated after {recreated:.1f} s; VMs on two hosts while down: {twice_down}, "
              f"after the return: {twice_after} (one copy each {cleaned:.1f} s after it), "
              f"left at the end: {left}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
