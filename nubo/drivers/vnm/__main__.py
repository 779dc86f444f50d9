"""``python -m nubo.drivers.vnm STEP [--netns NS] [--nic-id N] < vm.xml``."""
from __future__ import annotations

import argparse
import sys

from nubo.drivers.vnm import STEPS, VnmError, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nubo.drivers.vnm",
                                     description="Run a network driver step for the VM "
                                                 "whose XML is on stdin.")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--netns", help="run inside this network namespace")
    parser.add_argument("--nic-id", type=int, help="the NIC of attach_nic / detach_nic")
    args = parser.parse_args(argv)
    try:
        run(args.step, sys.stdin.buffer.read(), netns=args.netns, nic_id=args.nic_id)
    except VnmError as e:
        print(f"{args.step}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
