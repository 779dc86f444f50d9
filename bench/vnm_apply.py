"""How long the network driver takes for one VM: ``pre`` + ``post`` + ``clean`` of VMs
with N security group rules on one bridge, in a network namespace of its own (root).

    python bench/vnm_apply.py --vms 20 --rules 100

Prints the time per step and per VM; the tables each VM gets are replaced in one
``nft -f`` transaction, so ``post`` grows with the rules, not with the VMs already there.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nubo.drivers import vnm  # noqa: E402


def vm_xml(vm_id: int, rules: int) -> str:
    body = "".join(
        f"<SECURITY_GROUP_RULE><SECURITY_GROUP_ID>100</SECURITY_GROUP_ID><PROTOCOL>TCP"
        f"</PROTOCOL><RULE_TYPE>{'INBOUND' if i % 2 else 'OUTBOUND'}</RULE_TYPE>"
        f"<RANGE>{1000 + i}</RANGE><IP>198.18.{i % 250}.0</IP><SIZE>256</SIZE>"
        "</SECURITY_GROUP_RULE>" for i in range(rules))
    return (f"<VM><ID>{vm_id}</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><BRIDGE>br-bench</BRIDGE>"
            f"<VN_MAD>bridge</VN_MAD><MAC>02:00:c6:12:{vm_id // 256:02x}:{vm_id % 256:02x}</MAC>"
            f"<IP>198.18.255.{vm_id % 250}</IP><SECURITY_GROUPS>100</SECURITY_GROUPS>"
            f"<FILTER_IP_SPOOFING>YES</FILTER_IP_SPOOFING></NIC>{body}</TEMPLATE></VM>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--rules", type=int, default=100)
    a = parser.parse_args()
    ns = f"nubo-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    times: dict[str, list[float]] = {"pre": [], "post": [], "clean": []}
    try:
        for vm_id in range(a.vms):
            subprocess.run(["ip", "-n", ns, "link", "add", f"one-{vm_id}-0", "type", "veth",
                            "peer", "name", f"peer-{vm_id}"],
                           check=True)
        xmls = [vm_xml(vm_id, a.rules) for vm_id in range(a.vms)]
        for step in ("pre", "post", "clean"):
            for xml in xmls:
                start = time.perf_counter()
                vnm.run(step, xml, netns=ns)
                times[step].append(time.perf_counter() - start)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    print(f"{a.vms} VMs, {a.rules} security group rules each, one bridge")
    for step, values in times.items():
        print(f"  {step:5s}: median {statistics.median(values) * 1000:7.1f} ms per VM, "
              f"max {max(values) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
