"""How ``nubo serve`` wires the kvm driver: its table when libvirt-python and the
driver are installed (with the hosts' settings in its environment), none otherwise,
and ``--with-kvm`` refused with the reason where it can't run."""
from __future__ import annotations

import sys

import pytest

from nubo import config
from nubo.cli.main import main
from nubo.config import Config, driver_specs


def test_the_kvm_driver_table(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "kvm_available", lambda: True)
    cfg = Config(data_dir=tmp_path, kvm_remote_dir="/srv/remotes", kvm_probe_window=0.25)
    spec = {s.name: s for s in driver_specs(cfg)}["kvm"]
    assert spec.command == (sys.executable, "-m", "nubo.drivers.kvm", "--datastore-location",
                            cfg.datastore_dir, "--uri", "qemu+ssh://{host}/system?no_tty=1",
                            "--migrate-uri", "tcp://{host}", "--migrate-local-name", "")
    assert (spec.timeout_for("DEPLOY"), spec.timeout_for("MIGRATE"),
            spec.timeout_for("SHUTDOWN")) == (600, 900, 400)
    assert spec.env["NUBO_KVM_REMOTE_DIR"] == "/srv/remotes"
    assert spec.env["NUBO_KVM_PROBE_WINDOW"] == "0.25"
    assert spec.env["NUBO_KVM_SSH"].startswith("ssh -o BatchMode=yes")


def test_a_table_of_ones_own_replaces_it(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "kvm_available", lambda: True)
    cfg = Config(data_dir=tmp_path, drivers={"kvm": {"command": ["my-kvm"]}})
    assert {s.name: s for s in driver_specs(cfg)}["kvm"].command == ("my-kvm",)


def test_no_kvm_driver_without_libvirt(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "kvm_available", lambda: False)
    assert "kvm" not in {s.name for s in driver_specs(Config(data_dir=tmp_path))}


def test_serve_with_kvm_needs_libvirt(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(config, "kvm_available", lambda: False)
    assert main(["serve", "--with-kvm", "--data-dir", str(tmp_path)]) == 2
    assert "--with-kvm needs libvirt-python" in capsys.readouterr().err


def test_kvm_driver_yes_or_no_overrides_auto(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "kvm_available", lambda: True)
    names = lambda cfg: {s.name for s in driver_specs(cfg)}  # noqa: E731
    assert "kvm" not in names(Config(data_dir=tmp_path, kvm_driver="no"))
    monkeypatch.setattr(config, "kvm_available", lambda: False)
    assert "kvm" in names(Config(data_dir=tmp_path, kvm_driver="yes"))
    conf = tmp_path / "nubo.toml"
    conf.write_text('kvm_driver = "maybe"\n')
    with pytest.raises(config.ConfigError, match="kvm_driver must be auto, yes or no"):
        config.load_config(conf)
