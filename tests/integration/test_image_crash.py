"""An image copy survives the core killed with SIGKILL in the middle of it: the copy is
a journaled operation (the IMAGE's awaited DS action), sent again when the core starts
again, and the image ends READY with a whole, consistent file and nothing half-written
beside it."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pyone

from image_files import FileServer, make_disk
from images import LOCKED, assert_image_file, wait_image
from server import NuboServer, alive as _alive, child_pids
from waits import wait_for


def test_sigkill_during_an_image_copy_finishes_it_at_restart(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    make_disk(served / "big.raw", 8, "raw")  # 8 MB at 64 KB / 50 ms: ~6 s to download
    (served / "big.raw").write_bytes(os.urandom(8 << 20))
    mirror = FileServer(served)
    data = tmp_path / "data"
    server = NuboServer(data).start()
    drivers: list[int] = []
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        iid = one.image.allocate(f'NAME = "crashed-copy"\nPATH = "{mirror.url}/slow/big.raw"', 1)
        base = Path(one.datastore.info(1).BASE_PATH)
        # Kill once the driver has written part of the file (under its temporary name).
        wait_for("the copy under way", lambda: base.is_dir() and any(
            p.name.endswith(".part") and p.stat().st_size > 0 for p in base.iterdir()), 30)
        assert one.image.info(iid).STATE == LOCKED
        assert server.proc is not None
        drivers = child_pids(server.proc.pid)
        server.proc.kill()
        server.proc.wait()
        wait_for("the killed core's drivers to exit", lambda: not any(map(_alive, drivers)), 15)
        assert [p for p in base.iterdir() if not p.name.endswith(".part")] == []
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        for pid in filter(_alive, drivers):
            os.kill(pid, signal.SIGKILL)

    again = NuboServer(data).start()
    try:
        one = pyone.OneServer(again.endpoint, session=again.session)
        image = wait_image(one, iid, timeout=60)
        assert any("asking again for CP" in line for line in again.log_lines)
        assert (image.FORMAT, image.SIZE) == ("raw", 8)
        assert_image_file(image.SOURCE, "raw", 8)
        assert Path(image.SOURCE).read_bytes() == (served / "big.raw").read_bytes()
        assert sorted(p.name for p in base.iterdir()) == [Path(image.SOURCE).name]
    finally:
        again.stop()
        mirror.close()
