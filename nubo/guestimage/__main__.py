"""``python -m nubo.guestimage build OUTDIR`` and ``... register DIR``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nubo.guestimage",
                                     description="nubo's test guest (docs/guest-image.md)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write OUTDIR/vmlinuz and OUTDIR/initrd.img")
    b.add_argument("outdir", type=Path)
    b.add_argument("--kernel-version", help="a KVER of /boot/vmlinuz-KVER (default: newest)")
    r = sub.add_parser("register", help="register DIR/vmlinuz and DIR/initrd.img as images "
                                        "and the nubo-guest template")
    r.add_argument("dir", type=Path)
    r.add_argument("--endpoint", default="http://localhost:2633/RPC2")
    r.add_argument("--session", required=True, help="user:password")
    r.add_argument("--datastore", default="nubo-files", help="FILE datastore's name")
    r.add_argument("--template", default="nubo-guest")
    args = parser.parse_args(argv)
    if args.command == "build":
        from nubo.guestimage.build import build
        began = time.perf_counter()
        kernel, initrd = build(args.outdir, args.kernel_version)
        print(f"{kernel}\n{initrd} ({initrd.stat().st_size // 1024} KiB) "
              f"in {time.perf_counter() - began:.1f} s")
        return 0
    from nubo.guestimage.register import register
    ids = register(args.endpoint, args.session, args.dir, args.datastore, args.template)
    print(" ".join(f"{k}={v}" for k, v in ids.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
