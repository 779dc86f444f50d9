"""Image registration benchmark: a file registered through the API against plain ``cp``.

Starts ``nubo serve`` (SQLite, the ``fs`` datastore driver) with its datastores in a
scratch directory, writes a --size MiB file of incompressible data beside them, and
times, --runs times each (alternating which goes first), best kept; neither syncs:

- ``cp`` of the file to another file of the same directory (same disk);
- one.image.allocate with PATH = the file, until the image is READY (STAT, capacity
  check, the driver's copy to a temporary name and rename, qemu-img info, the commit).

    .venv/bin/python bench/image_register.py                 # 1 GiB
    .venv/bin/python bench/image_register.py --size 64 --runs 1
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pyone  # noqa: E402

from server import NuboServer  # noqa: E402

MB = 1 << 20


def write_file(path: Path, size_mb: int) -> None:
    block = os.urandom(MB)
    with open(path, "wb") as f:
        for i in range(size_mb):
            f.write(block[i % 251:] + block[:i % 251])  # no two blocks alike
        f.flush()
        os.fsync(f.fileno())


def time_cp(src: Path, dst: Path) -> float:
    began = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    took = time.perf_counter() - began
    dst.unlink()
    return took


def time_register(one, path: Path, ds_id: int, n: int) -> float:
    began = time.perf_counter()
    iid = one.image.allocate(f'NAME = "bench-{n}"\nPATH = "{path}"', ds_id)
    while True:
        image = one.image.info(iid)
        if image.STATE == 1:
            break
        if image.STATE == 5:
            raise SystemExit(f"image {iid} in ERROR: {image.TEMPLATE.get('ERROR')}")
        time.sleep(0.005)
    took = time.perf_counter() - began
    one.image.delete(iid)
    while iid in {i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE}:
        time.sleep(0.01)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each, best kept (default 3)")
    ap.add_argument("--dir", default="/var/tmp", help="where the scratch directory goes")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-img-", dir=args.dir))
    server = None
    try:
        src = tmp / "source.raw"
        write_file(src, args.size)
        server = NuboServer(tmp / "data").start()
        one = pyone.OneServer(server.endpoint, session=server.session)
        ds_id = one.datastore.allocate(
            f'NAME = "bench"\nTYPE = IMAGE_DS\nDS_MAD = fs\nTM_MAD = shared\n'
            f'SAFE_DIRS = "{tmp}"\nRESTRICTED_DIRS = "/"', -1)
        print(f"registering a {args.size} MiB file, best of {args.runs} "
              f"(datastore and file in {tmp})")
        cps, regs = [], []
        for n in range(args.runs):  # alternating which goes first, so order biases neither
            if n % 2:
                regs.append(time_register(one, src, ds_id, n))
            cps.append(time_cp(src, tmp / "copy.raw"))
            if not n % 2:
                regs.append(time_register(one, src, ds_id, n))
        cp, reg = min(cps), min(regs)
        print(f"  cp:                          {cp:.3f} s ({args.size / cp:.0f} MiB/s)")
        print(f"  one.image.allocate to READY: {reg:.3f} s ({args.size / reg:.0f} MiB/s)")
        print(f"  ratio register/cp: {reg / cp:.2f}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
