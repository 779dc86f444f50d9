"""The transfer driver's commands run for real (qemu-img, mkswap, mkfs) on this machine,
on simulated hosts (a directory each) and on a "remote" host reached through a fake ssh;
every disk made is checked with qemu-img."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from disk_checks import checked
from nubo.drivers import protocol as p
from nubo.drivers.storage import qemu_img
from nubo.drivers.tm.script import Operation, VmFacts
from nubo.drivers.tm.transport import TransferError, Transports

pytestmark = pytest.mark.skipif(not qemu_img.available(), reason="needs qemu-img")
FAKE_SSH = Path(__file__).resolve().parents[2] / "fixtures" / "fake_ssh.py"
VM_XML = """<VM><ID>7</ID><HISTORY_RECORDS>
<HISTORY><HOSTNAME>sim1</HOSTNAME><VM_MAD>dummy</VM_MAD></HISTORY>
<HISTORY><HOSTNAME>sim2</HOSTNAME><VM_MAD>dummy</VM_MAD></HISTORY>
<HISTORY><HOSTNAME>far</HOSTNAME><VM_MAD>kvm</VM_MAD></HISTORY></HISTORY_RECORDS>
<TEMPLATE><DISK><DISK_ID>2</DISK_ID><FS>ext4</FS></DISK>
<DISK><DISK_ID>0</DISK_ID><SIZE>20</SIZE></DISK></TEMPLATE></VM>"""


@pytest.fixture
def world(tmp_path):
    """An image on the front-end, the system directory, the simulated hosts' root."""
    image = tmp_path / "images" / "img0"
    image.parent.mkdir()
    qemu_img.create(image, 16, "raw")
    image.write_bytes(b"nubo-image" + image.read_bytes()[10:])
    transports = Transports(frozenset({"fe", "localhost"}), str(tmp_path / "sim"),
                            f"{sys.executable} {FAKE_SSH} {{host}}")
    return tmp_path, image, transports


def run(transports: Transports, script: str) -> None:
    from lxml import etree
    Operation(transports, 7, VmFacts.parse(etree.fromstring(VM_XML))).run(script)


def sim(tmp_path: Path, host: str, path: Path | str) -> Path:
    return tmp_path / "sim" / host / str(path).lstrip("/")


def test_an_ssh_prolog_on_a_simulated_host_makes_every_disk_and_epilog_removes_them(world):
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "7"
    run(tr, f"CLONE ssh fe:{image} sim1:{vmdir}/disk.0 7 1\n"
            f"MKSWAP ssh 64 sim1:{vmdir}/disk.1 7 0\n"
            f"MKIMAGE ssh 32 qcow2 sim1:{vmdir}/disk.2 7 0\n"
            f"MKIMAGE ssh 8 raw sim1:{vmdir}/disk.3 7 0\n")
    disk0 = sim(tmp, "sim1", vmdir / "disk.0")
    assert disk0.read_bytes()[:10] == b"nubo-image"
    assert checked(disk0).virtual_mb == 20  # the DISK's SIZE beyond the image's 16
    assert checked(sim(tmp, "sim1", vmdir / "disk.1")).virtual_mb == 64
    assert b"SWAPSPACE2" in sim(tmp, "sim1", vmdir / "disk.1").read_bytes()[:8192]
    disk2 = checked(sim(tmp, "sim1", vmdir / "disk.2"))
    assert (disk2.format, disk2.virtual_mb) == ("qcow2", 32)
    blkid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE",
                            str(sim(tmp, "sim1", vmdir / "disk.2"))], capture_output=True,
                           text=True)
    assert blkid.returncode == 2 or "ext4" not in blkid.stdout  # qcow2: not raw ext4 bytes
    assert not sim(tmp, "sim1", vmdir / "disk.2.raw").exists()
    assert checked(sim(tmp, "sim1", vmdir / "disk.3")).format == "raw"
    assert not (tmp / "ds").exists()  # nothing on the front-end: the host has its copy

    # migrate to another simulated host: the directory moves, disks with it
    run(tr, f"MV ssh sim1:{vmdir}/disk.0 sim2:{vmdir}/disk.0 7 1\n"
            f"MV ssh sim1:{vmdir} sim2:{vmdir} 7 0\n")
    assert not sim(tmp, "sim1", vmdir).exists()
    assert checked(sim(tmp, "sim2", vmdir / "disk.0")).virtual_mb == 20

    run(tr, f"DELETE ssh sim2:{vmdir}/disk.0 7 1\nDELETE ssh sim2:{vmdir} 7 0\n")
    assert not sim(tmp, "sim2", vmdir).exists()
    assert image.exists()


def test_shared_links_or_copies_and_qcow2_clones_on_the_front_end(world):
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "8"
    run(tr, f"LN shared fe:{image} sim1:{vmdir}/disk.1 7 1\n"
            f"CLONE shared fe:{image} sim1:{vmdir}/disk.3 7 1\n"
            f"CLONE qcow2 fe:{image} sim1:{vmdir}/disk.4 7 1\n")
    assert (vmdir / "disk.1").resolve() == image.resolve()
    assert checked(vmdir / "disk.3").format == "raw"
    clone = checked(vmdir / "disk.4")
    assert (clone.format, clone.backing_file, clone.virtual_mb) == ("qcow2", str(image), 16)
    assert not (tmp / "sim").exists()  # a shared datastore: no copy on the host
    run(tr, f"DELETE shared sim1:{vmdir} 7 0")
    assert not vmdir.exists() and image.exists()


def test_shared_and_qcow2_disks_of_a_vm_on_an_ssh_system_datastore_are_the_hosts(world):
    """The system datastore is the host's own disk: a kernel or disk of a shared
    datastore goes into the VM's directory there, not the front-end's same path."""
    from lxml import etree
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "8"
    vm = etree.fromstring("<VM><ID>8</ID><HISTORY_RECORDS>" + "".join(
        f"<HISTORY><HOSTNAME>{h}</HOSTNAME><VM_MAD>dummy</VM_MAD><TM_MAD>ssh</TM_MAD>"
        "</HISTORY>" for h in ("sim1", "sim2")) + "</HISTORY_RECORDS></VM>")
    Operation(tr, 8, VmFacts.parse(vm)).run(
        f"CLONE shared fe:{image} sim1:{vmdir}/kernel 8 2\n"
        f"CLONE qcow2 fe:{image} sim1:{vmdir}/disk.0 8 1\n")
    assert sim(tmp, "sim1", vmdir / "kernel").read_bytes()[:10] == b"nubo-image"
    clone = checked(sim(tmp, "sim1", vmdir / "disk.0"))
    assert (clone.format, clone.backing_file) == ("qcow2", str(image))
    assert not vmdir.exists()
    # a migration: the disk moves with the directory
    Operation(tr, 8, VmFacts.parse(vm)).run(
        f"MV qcow2 sim1:{vmdir}/disk.0 sim2:{vmdir}/disk.0 8 1\n"
        f"MV ssh sim1:{vmdir} sim2:{vmdir} 8 0\n")
    assert checked(sim(tmp, "sim2", vmdir / "disk.0")).backing_file == str(image)
    assert not sim(tmp, "sim1", vmdir).exists() and not vmdir.exists()
    Operation(tr, 8, VmFacts.parse(vm)).run(f"DELETE qcow2 sim2:{vmdir}/disk.0 8 1")
    assert not sim(tmp, "sim2", vmdir / "disk.0").exists() and image.exists()


def test_a_failing_line_fails_the_operation_and_leaves_nothing(world):
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "9"
    with pytest.raises(TransferError, match=r"line 2 'CLONE ssh fe:/nowhere/img .*"
                       r"image file /nowhere/img does not exist on fe"):
        run(tr, f"MKSWAP ssh 16 sim1:{vmdir}/disk.1 7 0\n"
                f"CLONE ssh fe:/nowhere/img sim1:{vmdir}/disk.0 7 1\n")
    assert not (tmp / "sim" / "sim1" / str(tmp).lstrip("/") / "ds").exists()
    with pytest.raises(TransferError, match="line 1 .*qemu-img"):
        run(tr, f"MKIMAGE ssh 16 nosuchformat sim1:{vmdir}/disk.2 7 0\n")
    with pytest.raises(TransferError, match="unknown TM_MAD 'ceph'"):
        run(tr, f"CLONE ceph fe:{image} sim1:{vmdir}/disk.0 7 1\n")
    assert list((tmp / "sim").rglob("disk.*")) == []
    run(tr, f"CLONE dummy fe:/nowhere sim1:{vmdir}/disk.0 7 1")  # dummy does nothing


@pytest.mark.parametrize("tm_mad", ["ssh", "shared", "qcow2"])
def test_a_directory_is_no_disk_image(world, tm_mad):
    """A SOURCE naming a directory ("/" above all) fails instead of copying a tree."""
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "9"
    for verb in ("CLONE", "LN"):
        with pytest.raises(TransferError, match=r"image file / on fe is a directory"):
            run(tr, f"{verb} {tm_mad} fe:/ sim1:{vmdir}/disk.0 7 1\n")
    assert list((tmp / "sim").rglob("disk.*")) == []


def test_an_image_of_the_dummy_datastore_becomes_a_blank_disk_of_its_size(world):
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "7"
    run(tr, f"CLONE ssh fe:dummy_path/3 sim1:{vmdir}/disk.0 7 1\n"
            f"LN shared fe:dummy_path/3 sim1:{vmdir}/disk.1 7 1\n"
            f"MVDS ssh sim1:{vmdir}/disk.0 dummy_path/3 7 1\n"
            f"CLONE ssh fe: sim1:{vmdir}/disk.2 7 1")  # an image with no SOURCE
    assert checked(sim(tmp, "sim1", vmdir / "disk.0")).virtual_mb == 20  # its SIZE
    assert checked(vmdir / "disk.1").virtual_mb == 1
    assert not Path("dummy_path").exists()
    assert checked(sim(tmp, "sim1", vmdir / "disk.2")).virtual_mb == 1
    for bad in ("fe:relative/img", "fe:/a/../etc/passwd", "fe:."):
        with pytest.raises(TransferError, match="is not HOST:/ABSOLUTE/PATH"):
            run(tr, f"CLONE ssh {bad} sim1:{vmdir}/disk.3 7 1")
    with pytest.raises(TransferError, match="is not HOST:/ABSOLUTE/PATH"):
        run(tr, "DELETE ssh sim1: 7 0")


def test_a_remote_host_is_reached_through_the_remote_command(world):
    tmp, image, tr = world
    remote_dir = tmp / "far" / "0" / "7"  # fake ssh runs on this machine
    run(tr, f"CLONE ssh fe:{image} far:{remote_dir}/disk.0 7 1\n"
            f"MKSWAP ssh 8 far:{remote_dir}/disk.1 7 0\n")
    assert checked(remote_dir / "disk.0").virtual_mb == 20
    # stop: the directory comes back to the front-end
    home = tmp / "home" / "0" / "7"
    run(tr, f"MV ssh far:{remote_dir} fe:{home} 7 0")
    assert not remote_dir.exists() and checked(home / "disk.1").virtual_mb == 8


def test_stopping_on_a_host_that_is_the_front_end_moves_nothing(world):
    """EPILOG_STOP / PROLOG_RESUME between this machine's two names (the host
    ``localhost``, the front-end ``fe``): the directory is already where it goes."""
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "7"
    run(tr, f"MKSWAP ssh 8 localhost:{vmdir}/disk.1 7 0\n")
    run(tr, f"MV ssh localhost:{vmdir} fe:{vmdir} 7 0\nMV ssh fe:{vmdir} localhost:{vmdir} 7 0")
    assert checked(vmdir / "disk.1").virtual_mb == 8


def test_persistent_disks_are_written_back_and_saved_as_new_images(world):
    tmp, image, tr = world
    vmdir = tmp / "ds" / "0" / "7"
    run(tr, f"LN ssh fe:{image} sim1:{vmdir}/disk.1 7 1")
    disk = sim(tmp, "sim1", vmdir / "disk.1")
    with disk.open("r+b") as f:
        f.write(b"changed!!!")
    saved = tmp / "images" / "saved"
    run(tr, f"CPDS ssh sim1:{vmdir}/disk.1 {saved} -1 7 1\n"
            f"MVDS ssh sim1:{vmdir}/disk.1 {image} 7 1\n")
    assert image.read_bytes()[:10] == b"changed!!!" and checked(image).virtual_mb == 16
    assert checked(saved).format == "raw" and saved.read_bytes()[:10] == b"changed!!!"
    assert not (tmp / "images" / "img0.nubo-part").exists()
    # a qcow2 clone saved as an image is flattened: no backing file
    run(tr, f"CLONE qcow2 fe:{image} x:{vmdir}/disk.5 7 1\n"
            f"CPDS qcow2 x:{vmdir}/disk.5 {tmp / 'images' / 'flat'} -1 7 1")
    flat = checked(tmp / "images" / "flat")
    assert flat.backing_file is None and flat.format == "qcow2"


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_disk_snapshots_and_resize(world, fmt):
    tmp, image, tr = world
    disk = tmp / "ds" / "0" / "7" / "disk.0"
    disk.parent.mkdir(parents=True)
    qemu_img.create(disk, 8, fmt)
    loc = f"localhost:{disk}"

    def write(data: bytes) -> None:
        subprocess.run(["qemu-io", "-f", fmt, "-c", f"write -P {data[0]} 0 4k", str(disk)],
                       check=True, capture_output=True)

    def first() -> int:
        out = subprocess.run(["qemu-img", "dd", "-f", fmt, "-O", "raw", f"if={disk}",
                              f"of={tmp}/read", "bs=4k", "count=1"], check=True)
        assert out.returncode == 0
        return (tmp / "read").read_bytes()[0]

    write(b"\x01")
    run(tr, f"SNAP_CREATE shared {loc} 0 7 0")
    write(b"\x02")
    run(tr, f"SNAP_CREATE shared {loc} 1 7 0\nSNAP_REVERT shared {loc} 0 7 0")
    assert first() == 1
    run(tr, f"SNAP_DELETE shared {loc} 1 7 0")
    info = checked(disk)
    if fmt == "qcow2":
        assert info.snapshots == ("0",)
        run(tr, f"SNAP_DELETE shared {loc} 0 7 0")
    else:
        assert sorted(p.name for p in disk.with_name("disk.0.snap").iterdir()) == ["0"]
    run(tr, f"RESIZE shared {loc} 16 7 0")
    assert checked(disk).virtual_mb == 16 and first() == 1


def test_the_driver_process_answers_transfer_requests(world):
    tmp, image, _ = world
    vmdir = tmp / "ds" / "0" / "7"
    proc = subprocess.Popen([sys.executable, "-m", "nubo.drivers.tm", "--frontend", "fe",
                             "--sim-root", str(tmp / "sim")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)

    def ask(line: bytes) -> p.Reply:
        proc.stdin.write(line)
        proc.stdin.flush()
        while True:
            msg = p.parse_reply(proc.stdout.readline())
            if not isinstance(msg, p.LogMessage):
                return msg

    def transfer(script: str) -> p.Reply:
        body = f"<TRANSFER><ACTION>PROLOG</ACTION><SCRIPT>{script}</SCRIPT>{VM_XML}</TRANSFER>"
        return ask(p.encode_request("TRANSFER", 7, "sim1", body))

    try:
        assert ask(p.INIT_LINE) == p.InitReply(True, "")
        ok = transfer(f"CLONE ssh fe:{image} sim1:{vmdir}/disk.0 7 1")
        assert ok.success, ok.info
        assert checked(sim(tmp, "sim1", vmdir / "disk.0")).virtual_mb == 20
        bad = transfer(f"CLONE ssh fe:{tmp}/missing sim1:{vmdir}/disk.1 7 1")
        assert not bad.success and "PROLOG failed: line 1" in bad.info
        assert "does not exist" in bad.info
        assert not ask(p.encode_request("DEPLOY", 7, "sim1", b"")).success
        proc.stdin.write(p.FINALIZE_LINE)
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_context_builds_the_cd_rom_here_and_puts_it_on_the_host(world, monkeypatch):
    tmp, image, tr = world
    from nubo.context import iso
    seen = {}

    def fake_iso(vm_xml: str, dest: Path, files: list[Path]) -> None:
        seen.update(vm=vm_xml, files=files)
        dest.write_bytes(b"CD001 context")

    monkeypatch.setattr(iso, "write_context_iso", fake_iso)
    vmdir = tmp / "ds" / "0" / "7"
    run(tr, f"CONTEXT ssh {image} /etc/hostname sim1:{vmdir}/disk.4 7 0")
    assert sim(tmp, "sim1", vmdir / "disk.4").read_bytes() == b"CD001 context"
    assert seen["files"] == [image, Path("/etc/hostname")] and "<ID>7</ID>" in seen["vm"]
    run(tr, f"CONTEXT ssh sim1:{vmdir}/disk.5 7 0")  # no files
    assert seen["files"] == []
    # a CD-ROM that can't be built fails the line and leaves no directory behind
    monkeypatch.setattr(iso, "write_context_iso",
                        lambda *a: (_ for _ in ()).throw(OSError("no room")))
    other = tmp / "ds" / "0" / "8"
    with pytest.raises(TransferError, match="line 1 'CONTEXT.*no room"):
        run(tr, f"CONTEXT ssh sim1:{other}/disk.0 7 0")
    assert not sim(tmp, "sim1", other).exists()
