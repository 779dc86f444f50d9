"""The test guest's builder without a hypervisor: the cpio writer, the module order,
the initramfs's members and the init's context functions (run in busybox ash with
``ip`` and ``hostname`` recorded instead of run)."""
from __future__ import annotations

import base64
import gzip
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from nubo.context.script import render_context_sh
from nubo.guestimage import cpio
from nubo.guestimage.build import initramfs_entries, newest_kernel
from nubo.guestimage.modules import ModuleError, load_order, module_name, parse_dep
from nubo.template import VectorAttribute

LIBRARY = Path(__file__).resolve().parents[2] / "nubo/guestimage/files/nubo-context.sh"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def test_archive_lists_back_its_members_with_their_modes():
    entries = [cpio.directory("dev"), cpio.char_device("dev/console", 5, 1),
               cpio.file("init", b"#!/bin/sh\n", 0o755), cpio.symlink("bin/sh", "/bin/busybox"),
               cpio.file("odd", b"x" * 5)]
    listed = cpio.list_names(cpio.archive(entries))
    assert [n for n, _ in listed] == ["dev", "dev/console", "init", "bin/sh", "odd"]
    modes = dict(listed)
    assert stat.S_ISCHR(modes["dev/console"]) and stat.S_ISLNK(modes["bin/sh"])
    assert stat.S_IMODE(modes["init"]) == 0o755


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio(1) is not installed")
def test_cpio_reads_the_archive(tmp_path):
    data = cpio.archive([cpio.directory("a"), cpio.file("a/b", b"hello"),
                         cpio.symlink("c", "a/b")])
    out = subprocess.run(["cpio", "-t", "-v"], input=data, capture_output=True, check=True)
    lines = out.stdout.decode().splitlines()
    assert [line.split()[-1] if "->" not in line else line.split()[-3] for line in lines] \
        == ["a", "a/b", "c"]
    subprocess.run(["cpio", "-id", "--quiet"], input=data, cwd=tmp_path, check=True)
    assert (tmp_path / "a/b").read_text() == "hello"


DEP = """kernel/a/sr_mod.ko: kernel/b/scsi_mod.ko kernel/c/cdrom.ko
kernel/c/cdrom.ko:
kernel/b/scsi_mod.ko: kernel/b/scsi_common.ko
kernel/b/scsi_common.ko:
kernel/d/isofs.ko.xz: kernel/c/cdrom.ko
"""


def test_every_module_comes_after_what_it_needs():
    order = load_order(DEP, ("sr_mod", "isofs"))
    assert order == ["kernel/b/scsi_common.ko", "kernel/b/scsi_mod.ko", "kernel/c/cdrom.ko",
                     "kernel/a/sr_mod.ko", "kernel/d/isofs.ko.xz"]
    assert module_name("kernel/x/crc64-rocksoft.ko.xz") == "crc64_rocksoft"


def test_a_builtin_module_is_skipped_and_an_unknown_one_refused():
    assert load_order(DEP, ("cdrom", "virtio"), builtin="kernel/v/virtio.ko") \
        == ["kernel/c/cdrom.ko"]
    with pytest.raises(ModuleError, match="e1000"):
        load_order(DEP, ("e1000",))


def _kernel() -> str:
    try:
        return newest_kernel()
    except RuntimeError as e:
        pytest.skip(str(e))


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="busybox-static is not installed")
def test_the_initramfs_has_init_a_console_busybox_and_ordered_modules():
    kver = _kernel()
    entries = initramfs_entries(kver)
    by_name = {e.name: e for e in entries}
    assert stat.S_IMODE(by_name["init"].mode) == 0o755
    assert by_name["dev/console"].rdev == (5, 1)
    assert by_name["bin/sh"].data == b"/bin/busybox"
    order = by_name["lib/modules/load-order"].data.decode().split()
    names = [module_name(p) for p in order]
    for needed in ("ata_piix", "sr_mod", "isofs", "virtio_net", "virtio_pci", "e1000"):
        assert needed in names
    deps = parse_dep((Path("/lib/modules") / kver / "modules.dep").read_text())
    for n, path in enumerate(order):
        assert f"lib/modules/{path}" in by_name
        before = {p.split("/", 1)[1] for p in order[:n]}
        assert set(deps[path.split("/", 1)[1]]) <= before, path
    seen: set[str] = set()
    for e in entries:  # every member's directory comes before it
        parent = e.name.rpartition("/")[0]
        assert not parent or parent in seen, e.name
        seen.add(e.name)
    listed = cpio.list_names(gzip.decompress(gzip.compress(cpio.archive(entries))))
    assert len(listed) == len(entries)


# --- the init's context functions, in busybox ash --------------------------------

STUBS = """
ip() { echo "ip $*" >> "$CALLS"; }
hostname() { echo "hostname $*" >> "$CALLS"; }
"""


def _context(tmp_path: Path, values: dict[str, str]) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    context = VectorAttribute("CONTEXT")
    for k, v in values.items():
        context.set(k, v)
    (ctx / "context.sh").write_text(render_context_sh(context))
    return ctx


def _nics(tmp_path: Path, macs: dict[str, str]) -> Path:
    net = tmp_path / "net"
    net.mkdir()
    for iface, mac in macs.items():
        (net / iface).mkdir(parents=True)
        (net / iface / "address").write_text(mac + "\n")
    return net


def _disks(tmp_path: Path, sectors: dict[str, int]) -> Path:
    """A /sys/block of ``sectors`` per device (made or changed)."""
    block = tmp_path / "block"
    block.mkdir(exist_ok=True)
    for dev, size in sectors.items():
        (block / dev).mkdir(exist_ok=True)
        (block / dev / "size").write_text(f"{size}\n")
    return block


def _run(tmp_path: Path, body: str, net: Path, ctx: Path) -> tuple[str, list[str]]:
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CALLS": str(calls),
           "NUBO_RUN": str(tmp_path / "run"), "CTX_MNT": str(ctx), "SYS_NET": str(net),
           "SYS_BLOCK": str(_disks(tmp_path, {})), "SSH_DIR": str(tmp_path / "ssh")}
    script = f". {LIBRARY}\n{STUBS}\nmount_context() {{ return 0; }}\nmkdir -p $NUBO_RUN\n{body}"
    done = subprocess.run([BUSYBOX, "sh", "-c", script], capture_output=True, text=True,
                          env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout, calls.read_text().splitlines()


needs_busybox = pytest.mark.skipif(not Path(BUSYBOX).exists(),
                                        reason="busybox is not installed")


@needs_busybox
def test_boot_applies_hostname_nics_key_and_start_script(tmp_path):
    ctx = _context(tmp_path, {
        "SET_HOSTNAME": "web-1", "ETH0_IP": "198.51.100.5", "ETH0_MASK": "255.255.255.0",
        "ETH0_GATEWAY": "198.51.100.1", "ETH0_MAC": "02:00:C6:33:64:05",
        "ETH1_IP": "198.18.0.7", "ETH1_MASK": "255.254.0.0", "ETH1_MAC": "02:00:c6:12:00:07",
        "ETH2_IP": "198.18.0.8", "ETH2_MAC": "02:00:c6:12:00:08",
        "SSH_PUBLIC_KEY": "ssh-ed25519 AAAA it's me",
        "START_SCRIPT": "echo \"started as $0\" 'quoted'"})
    net = _nics(tmp_path, {"lo": "00:00:00:00:00:00", "eth0": "02:00:c6:33:64:05",
                           "eth1": "02:00:c6:12:00:07"})
    out, calls = _run(tmp_path, "boot_apply", net, ctx)
    lines = out.splitlines()
    assert lines[0].startswith("nubo-context: hostname=web-1 eth0=198.51.100.5/24 "
                               "eth1=198.18.0.7/15 eth2=absent gw=198.51.100.1 ssh-key=yes "
                               "start-script=yes uptime=")
    assert "started as" in lines[1] and "quoted" in lines[1]
    assert lines[2:] == ["nubo-context: start-script exit=0", "nubo-context: disks -"]
    assert "hostname web-1" in calls
    assert "ip addr add 198.51.100.5/24 dev eth0" in calls
    assert "ip addr add 198.18.0.7/15 dev eth1" in calls
    assert "ip route replace default via 198.51.100.1 dev eth0" in calls
    assert (tmp_path / "ssh/authorized_keys").read_text() == "ssh-ed25519 AAAA it's me\n"
    assert (tmp_path / "run/seen").read_text().split() == ["eth0", "eth1", "lo"]


@needs_busybox
def test_start_script_base64_runs_by_its_interpreter(tmp_path):
    script = "#!/bin/sh\necho from base64 $((6 * 7))\nexit 3\n"
    ctx = _context(tmp_path, {"HOSTNAME": "b", "START_SCRIPT_BASE64":
                              base64.b64encode(script.encode()).decode()})
    out, _ = _run(tmp_path, "boot_apply", _nics(tmp_path, {}), ctx)
    assert out.splitlines()[1:] == ["from base64 42", "nubo-context: start-script exit=3",
                                    "nubo-context: disks -"]
    assert out.startswith("nubo-context: hostname=b gw=- ssh-key=no start-script=yes ")


@needs_busybox
def test_a_hotplugged_nic_is_configured_from_the_context_read_again(tmp_path):
    ctx = _context(tmp_path, {"HOSTNAME": "h", "ETH0_IP": "198.51.100.5",
                              "ETH0_MAC": "02:00:00:00:00:05"})
    net = _nics(tmp_path, {"eth0": "02:00:00:00:00:05"})
    body = """boot_apply > /dev/null
mkdir "$SYS_NET/eth1"; echo 02:00:00:00:00:06 > "$SYS_NET/eth1/address"
hotplug_round
printf "ETH1_IP='198.51.100.6'\\nETH1_MAC='02:00:00:00:00:06'\\n" >> "$CTX_MNT/context.sh"
hotplug_round
hotplug_round
"""
    out, calls = _run(tmp_path, body, net, ctx)
    assert out.splitlines() == ["nubo-context: hotplug dev=eth1 eth1=198.51.100.6/24"]
    assert "ip addr add 198.51.100.6/24 dev eth1" in calls


@needs_busybox
def test_a_nic_no_context_names_is_given_up_after_some_tries(tmp_path):
    ctx = _context(tmp_path, {"HOSTNAME": "h"})
    net = _nics(tmp_path, {})
    body = """boot_apply > /dev/null
mkdir "$SYS_NET/eth3"; echo 02:00:00:00:00:09 > "$SYS_NET/eth3/address"
HOTPLUG_TRIES=2
hotplug_round; hotplug_round; hotplug_round
"""
    out, _ = _run(tmp_path, body, net, ctx)
    assert out.splitlines() == ["nubo-context: hotplug dev=eth3 mac=02:00:00:00:00:09 "
                                "not in context"]


@needs_busybox
def test_disks_are_listed_at_boot_and_each_one_attached_or_detached_later(tmp_path):
    ctx = _context(tmp_path, {"HOSTNAME": "h"})
    _disks(tmp_path, {"vda": 4194304, "sr0": 700, "loop0": 8})
    body = f"""boot_apply
hotplug_round
mkdir {tmp_path}/block/sda; echo 32768 > {tmp_path}/block/sda/size
hotplug_round
hotplug_round
rm -r {tmp_path}/block/vda
hotplug_round
"""
    out, _ = _run(tmp_path, body, _nics(tmp_path, {}), ctx)
    assert out.splitlines()[1:] == ["nubo-context: disks vda=2048MiB",
                                    "nubo-context: disk dev=sda size=16MiB",
                                    "nubo-context: disk dev=vda gone"]


def test_the_cache_key_changes_with_the_init_and_its_script(monkeypatch):
    """A changed /init or nubo-context.sh is a new image: the tests' cache must not
    boot the old one (tests/kvm/guest_image.py keys it on source_hash)."""
    from nubo.guestimage import build
    original = build._package_file
    before = build.source_hash()
    for name in ("init", "nubo-context.sh"):
        monkeypatch.setattr(build, "_package_file",
                            lambda n, changed=name: original(n) + (b"#\n" if n == changed else b""))
        assert build.source_hash() != before, name
