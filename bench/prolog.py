"""Prolog benchmark: 100 VMs' PROLOG from one 1 GiB image with each TM driver.

The real transfer driver (``python -m nubo.drivers.tm``) gets one TRANSFER per VM
(``CLONE``/``LN`` of the image into the VM's directory), --concurrency of them in flight
as the core sends them, for: shared (copy), shared (link), ssh (to a simulated host: a
directory of this machine), qcow2 (a backing-file clone). Against the same work done
by hand on the same disk with the same concurrency: plain ``cp`` of the image, and
``qemu-img create -b``. The image is --size-mb of virtual size with --data-mb of it
written (random), so that a hundred copies fit on the disk. Prints seconds per mode,
per VM, and the ratio to its baseline; each mode's files are removed by an EPILOG
(``DELETE``), timed too.

    .venv/bin/python bench/prolog.py                       # 100 VMs, 1 GiB image
    .venv/bin/python bench/prolog.py --vms 5 --size-mb 64 --data-mb 4
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nubo.drivers import protocol as p  # noqa: E402
from nubo.drivers.storage import qemu_img  # noqa: E402

VM_XML = ("<VM><ID>{id}</ID><HISTORY_RECORDS><HISTORY><HOSTNAME>sim</HOSTNAME>"
          "<VM_MAD>dummy</VM_MAD></HISTORY></HISTORY_RECORDS><TEMPLATE/></VM>")
MODES = {  # name: (verb, TM_MAD, host, baseline)
    "shared copy": ("CLONE", "shared", "fe", "cp"),
    "shared link": ("LN", "shared", "fe", "cp"),
    "ssh (simulated host)": ("CLONE", "ssh", "sim", "cp"),
    "qcow2": ("CLONE", "qcow2", "fe", "qemu-img create -b"),
}


class Driver:
    """The transfer driver process, asked one TRANSFER per VM."""

    def __init__(self, sim_root: Path, workers: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nubo.drivers.tm", "--frontend", "fe", "--sim-root",
             str(sim_root), "--workers", str(workers)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._send(p.INIT_LINE)
        assert isinstance(self._read(), p.InitReply)

    def _send(self, line: bytes) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def _read(self):
        assert self.proc.stdout
        while True:
            msg = p.parse_reply(self.proc.stdout.readline())
            if not isinstance(msg, p.LogMessage):
                return msg

    def run_all(self, scripts: dict[int, str], action: str) -> float:
        """Send every VM's script at once (the driver runs --workers at a time)."""
        start = time.perf_counter()
        for vm_id, script in scripts.items():
            body = (f"<TRANSFER><ACTION>{action}</ACTION><SCRIPT>{script}</SCRIPT>"
                    f"{VM_XML.format(id=vm_id)}</TRANSFER>")
            self._send(p.encode_request("TRANSFER", vm_id, "sim", body))
        for _ in scripts:
            reply = self._read()
            if not reply.success:
                raise SystemExit(f"{action} of VM {reply.oid} failed: {reply.info}")
        return time.perf_counter() - start

    def close(self) -> None:
        self._send(p.FINALIZE_LINE)
        self.proc.wait(timeout=60)


def baseline(kind: str, image: Path, dsts: list[Path], concurrency: int) -> float:
    def one(dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        argv = (["cp", str(image), str(dst)] if kind == "cp" else
                ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image), "-F", "raw",
                 str(dst)])
        subprocess.run(argv, check=True)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, dsts))
    return time.perf_counter() - start


def make_image(path: Path, size_mb: int, data_mb: int) -> None:
    qemu_img.create(path, size_mb, "raw")
    with path.open("r+b") as f:
        for _ in range(data_mb):
            f.write(os.urandom(1 << 20))
    os.sync()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vms", type=int, default=100)
    ap.add_argument("--size-mb", type=int, default=1024, help="the image's size (1 GiB)")
    ap.add_argument("--data-mb", type=int, default=64, help="MB of it written")
    ap.add_argument("--concurrency", type=int, default=8, help="transfers at once")
    ap.add_argument("--dir", default=None, help="where (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nubo-prolog-", dir=args.dir) as tmp:
        root = Path(tmp)
        image = root / "images" / "img"
        image.parent.mkdir()
        make_image(image, args.size_mb, args.data_mb)
        print(f"PROLOG of {args.vms} VMs from one {args.size_mb} MB image ({args.data_mb} MB "
              f"written), {args.concurrency} at once, on {root}")
        base = {kind: baseline(kind, image, [root / "base" / kind.split()[0] / str(i)
                                             for i in range(args.vms)], args.concurrency)
                for kind in ("cp", "qemu-img create -b")}
        subprocess.run(["rm", "-rf", str(root / "base")], check=True)
        for kind, seconds in base.items():
            print(f"  baseline {kind:<22} {seconds:8.2f} s  {seconds / args.vms * 1000:8.1f} ms/VM")
        driver = Driver(root / "sim", args.concurrency)
        try:
            for mode, (verb, tm, host, against) in MODES.items():
                ds = root / "ds" / "0"
                prolog = {i: f"{verb} {tm} fe:{image} {host}:{ds}/{i}/disk.0 {i} 1"
                          for i in range(args.vms)}
                seconds = driver.run_all(prolog, "PROLOG")
                epilog = {i: f"DELETE {tm} {host}:{ds}/{i} {i} 0" for i in range(args.vms)}
                cleanup = driver.run_all(epilog, "EPILOG")
                print(f"  tm {mode:<24} {seconds:8.2f} s  {seconds / args.vms * 1000:8.1f} "
                      f"ms/VM  x{seconds / base[against]:.3f} of {against}   "
                      f"(EPILOG {cleanup:.2f} s)")
        finally:
            driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
