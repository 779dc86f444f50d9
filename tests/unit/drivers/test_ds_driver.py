"""The datastore driver's actions on real files (nubo.drivers.ds), called without a core:
every file made is read back with qemu-img, every failure leaves no file."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nubo.drivers.ds.__main__ import run
from nubo.drivers.protocol import Request
from nubo.model import image_snapshots

pytestmark = pytest.mark.skipif(subprocess.run(["which", "qemu-img"], capture_output=True)
                                .returncode != 0, reason="qemu-img is not installed")


def payload(base: Path, safe: Path | None = None, ds_mad: str = "fs", **image: str) -> bytes:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in {"REGTIME": "7", **image}.items())
    dirs = f"<SAFE_DIRS>{safe}</SAFE_DIRS><RESTRICTED_DIRS>/</RESTRICTED_DIRS>" if safe else ""
    return (f"<DS_DRIVER_ACTION_DATA><IMAGE>{fields}</IMAGE><DATASTORE><ID>9</ID>"
            f"<DS_MAD>{ds_mad}</DS_MAD><BASE_PATH>{base}</BASE_PATH><TEMPLATE>{dirs}"
            "</TEMPLATE></DATASTORE></DS_DRIVER_ACTION_DATA>").encode()


def act(action: str, oid: int, data: bytes) -> tuple[bool, str]:
    return run(Request(action, oid, None, data))


def info(path: str) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", path],
                                     capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    base, src = tmp_path / "ds", tmp_path / "src"
    src.mkdir()
    return base, src


def test_cp_mkfs_clone_rm(dirs):
    base, src = dirs
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(src / "a.raw"), "5M"],
                   check=True)
    ok, made = act("CP", 1, payload(base, src, PATH=f"{src}/a.raw", FORMAT="qcow2"))
    assert ok, made
    source, fmt, size = made.split()
    assert (fmt, size, info(source)["format"]) == ("qcow2", "5", "qcow2")
    ok, block = act("MKFS", 2, payload(base, SIZE="3", FS="ext4"))
    assert ok and block.split()[1:] == ["raw", "3"], block
    ok, copy = act("CLONE", 3, payload(base, PATH=source))
    assert ok and copy.split()[0] != source and info(copy.split()[0])["format"] == "qcow2"
    subprocess.run(["qemu-img", "check", "-q", copy.split()[0]], check=True)
    assert act("STAT", 4, payload(base, src, PATH=f"{src}/a.raw")) == (True, "5")
    for oid, made_by in ((1, made), (2, block), (3, copy)):
        assert act("RM", oid, payload(base, SOURCE=made_by.split()[0])) == (True, "")
    assert list(base.iterdir()) == []
    ok, why = act("RM", 5, payload(base, SOURCE="/etc/hostname"))
    assert not ok and "not inside" in why


def test_failures_leave_nothing(dirs, tmp_path):
    base, src = dirs
    ok, why = act("CP", 1, payload(base, src, PATH="/etc/hostname"))
    assert not ok and why.startswith("Not allowed to copy image file /etc/hostname")
    (src / "link").symlink_to("/etc/hostname")  # a link out of SAFE_DIRS counts as outside
    ok, why = act("CP", 2, payload(base, src, PATH=f"{src}/link"))
    assert not ok and "Not allowed" in why
    ok, why = act("CP", 3, payload(base, src, PATH=f"{src}/missing"))
    assert not ok and "Error copying" in why
    ok, why = act("MKFS", 4, payload(base, SIZE="2", FORMAT="vmdk"))
    assert not ok and "Unsupported image FORMAT vmdk" in why
    ok, why = act("MKFS", 5, payload(base, SIZE="2", FS="nosuchfs"))
    assert not ok and "mkfs.nosuchfs is not installed" in why
    ok, why = act("CP", 6, b"not xml")
    assert not ok and "not XML" in why
    assert not base.exists() or list(base.iterdir()) == []


def test_monitor_reports_the_filesystem_and_what_the_datastore_takes(dirs):
    base, _src = dirs
    ok, text = act("MONITOR", 9, payload(base))
    figures = dict(line.split("=") for line in base64.b64decode(text).decode().split())
    assert ok and int(figures["TOTAL_MB"]) > 0 and int(figures["FREE_MB"]) > 0
    assert figures["USED_MB"] == "0"
    (base / "data").write_bytes(b"x" * (3 << 20))
    ok, text = act("MONITOR", 9, payload(base))
    assert dict(line.split("=") for line in base64.b64decode(text).decode().split())[
        "USED_MB"] == "3"


def test_dummy_datastore(dirs):
    base, _src = dirs
    assert act("CP", 4, payload(base, ds_mad="dummy", PATH="/nowhere", SIZE="12")) == (
        True, "dummy_path/4 raw 12")
    assert act("RM", 4, payload(base, ds_mad="dummy", SOURCE="dummy_path/4")) == (True, "")
    ok, why = act("CP", 4, payload(base, ds_mad="ceph", PATH="/x"))
    assert not ok and "DS_MAD ceph is not supported" in why
    assert not base.exists()


def test_qcow2_snapshots_revert_delete_flatten(dirs):
    base, _src = dirs
    base.mkdir()
    disk = base / "img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "4M"], check=True)
    for name in ("0", "1"):
        subprocess.run(["qemu-img", "snapshot", "-c", name, str(disk)], check=True)
    snap = lambda sid: payload(base, SOURCE=str(disk), TARGET_SNAPSHOT=str(sid))  # noqa: E731
    assert act("SNAP_REVERT", 1, snap(0)) == (True, "")
    assert act("SNAP_DELETE", 1, snap(1)) == (True, "")
    assert [s["name"] for s in info(str(disk)).get("snapshots", [])] == ["0"]
    assert act("SNAP_FLATTEN", 1, snap(0)) == (True, "")
    assert info(str(disk)).get("snapshots", []) == []
    subprocess.run(["qemu-img", "check", "-q", str(disk)], check=True)
    ok, why = act("SNAP_DELETE", 1, snap(5))
    assert not ok and why
    assert sorted(p.name for p in base.iterdir()) == ["img"]


RAW = ("<SNAPSHOTS><ALLOW_ORPHANS>NO</ALLOW_ORPHANS><CURRENT_BASE>-1</CURRENT_BASE>"
       "<NEXT_SNAPSHOT>2</NEXT_SNAPSHOT>"
       "<SNAPSHOT><CHILDREN>1</CHILDREN><ID>0</ID><PARENT>-1</PARENT></SNAPSHOT>"
       "<SNAPSHOT><ACTIVE>YES</ACTIVE><ID>1</ID><PARENT>0</PARENT></SNAPSHOT></SNAPSHOTS>")


def test_image_snapshot_lists():
    assert image_snapshots.refuse_delete(RAW, 7) == "Snapshot does not exist"
    assert image_snapshots.refuse_delete(RAW, 1) == "Cannot delete the active snapshot"
    assert image_snapshots.refuse_delete(RAW, 0) == "Cannot delete snapshot with children"
    assert image_snapshots.refuse_other(RAW, 0) is None
    reverted = image_snapshots.after(RAW, "SNAP_REVERT", 0)
    assert {s.id: s.active for s in image_snapshots.snapshots(reverted).values()} == {
        0: True, 1: False}
    deleted = image_snapshots.after(reverted, "SNAP_DELETE", 1)
    assert list(image_snapshots.snapshots(deleted)) == [0]
    assert image_snapshots.snapshots(deleted)[0].children == ()
    assert image_snapshots.snapshots(image_snapshots.after(RAW, "SNAP_FLATTEN", 1)) == {}


def test_the_driver_speaks_the_protocol(dirs):
    base, _src = dirs
    data = base64.b64encode(payload(base, ds_mad="dummy", PATH="/x", SIZE="1")).decode()
    proc = subprocess.Popen([sys.executable, "-m", "nubo.drivers.ds"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"INIT\nCP 3 - {data}\nRM 3 - {data}\n")
    proc.stdin.flush()
    answers = [proc.stdout.readline().strip() for _ in range(3)]
    proc.stdin.write("FINALIZE\n")
    proc.stdin.flush()
    assert proc.wait(30) == 0
    assert answers == ["INIT SUCCESS -", "CP SUCCESS 3 dummy_path/3 raw 1", "RM SUCCESS 3 -"]
