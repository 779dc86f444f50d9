"""The network driver as shipped to a remote host (``vnm.pyz``) runs on a bare python3:
no nubo installed, none of its dependencies."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nubo.drivers.kvm import remote

DUMMY_VM = ("<VM><ID>7</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><VN_MAD>dummy</VN_MAD>"
            "<BRIDGE>br0</BRIDGE></NIC></TEMPLATE></VM>")


def _run(pyz: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    # -I: isolated (no user site, no PYTHONPATH, no cwd on sys.path), -S: no site-packages
    # at all, so nothing but the standard library and the zip itself is importable.
    return subprocess.run([sys.executable, "-I", "-S", str(pyz), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_the_zipapp_runs_a_step_on_the_standard_library_alone(tmp_path):
    pyz = tmp_path / "vnm.pyz"
    pyz.write_bytes(remote.vnm_zipapp())
    assert _run(pyz, "pre", stdin=DUMMY_VM).returncode == 0
    bad = _run(pyz, "pre", stdin="<VM><ID>7</ID>")
    assert bad.returncode == 1 and "pre: the VM XML does not parse" in bad.stderr
    assert "STEP" in _run(pyz, "--help").stdout or "step" in _run(pyz, "--help").stdout


def test_a_missing_copy_is_told_apart_from_a_failing_step(tmp_path):
    gone = _run(tmp_path / "vnm.pyz", "pre")
    assert remote.missing_remote_file(gone)
    pyz = tmp_path / "vnm.pyz"
    pyz.write_bytes(remote.vnm_zipapp())
    assert not remote.missing_remote_file(_run(pyz, "pre", stdin="<VM/>"))


def test_sync_ships_the_probe_and_the_network_driver(tmp_path):
    cfg = remote.Settings(remote_dir=str(tmp_path / "remotes"))
    paths = remote.sync("localhost", cfg)
    assert [Path(p).name for p in paths] == ["probe.py", "vnm.pyz"]
    assert _run(Path(paths[1]), "pre", stdin=DUMMY_VM).returncode == 0
