"""Restricted attributes (nubo.auth.restricted): which attribute a template sets or changes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nubo.auth.restricted import (IMAGE_RESTRICTED_ATTR, VM_RESTRICTED_ATTR,
                                  VNET_RESTRICTED_ATTR, first_restricted, path_refused,
                                  spec_problem)
from nubo.template import SingleAttribute, Template, VectorAttribute, parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "template"))
from template_strategies import templates  # noqa: E402

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_defaults_are_onedconf_s():
    for name in ("RAW", "EMULATOR", "USER_PRIORITY", "CPU_COST", "MEMORY_COST", "DISK_COST",
                 "NIC/BRIDGE", "NIC/VLAN_ID", "NIC/MAC", "CONTEXT/FILES", "PCI",
                 "DISK/TOTAL_BYTES_SEC", "DISK/READ_IOPS_SEC_MAX", "DISK/WRITE_BYTES_SEC"):
        assert name in VM_RESTRICTED_ATTR
    assert "SOURCE" in IMAGE_RESTRICTED_ATTR
    assert {"VN_MAD", "BRIDGE", "AR/PHYDEV"} <= set(VNET_RESTRICTED_ATTR)
    assert all(spec_problem(s) is None for s in
               VM_RESTRICTED_ATTR + IMAGE_RESTRICTED_ATTR + VNET_RESTRICTED_ATTR)
    assert spec_problem("NIC/") and spec_problem(3) and spec_problem("A/B/C")


@pytest.mark.parametrize("text, found", [
    ("CPU=1 MEMORY=64", None),
    ("CPU=1 RAW=[TYPE=kvm, DATA=x]", "RAW"),
    ('raw="x"', "RAW"),
    ("NIC=[NETWORK_ID=0] NIC=[NETWORK_ID=1, MAC=02:00:00:00:00:01]", "NIC/MAC"),
    ("NIC=[NETWORK_ID=0, IP=10.0.0.2]", None),
    ("DISK=[IMAGE_ID=0, TOTAL_BYTES_SEC=1]", "DISK/TOTAL_BYTES_SEC"),
    ("CONTEXT=[FILES=/etc/shadow]", "CONTEXT/FILES"),
    ("CONTEXT=[NETWORK=YES]", None),
    ("MEMORY_COST=0", "MEMORY_COST"),
    ("PCI=[VENDOR=10de]", "PCI"),
])
def test_first_restricted_without_base(text: str, found: str | None):
    assert first_restricted(parse(text), VM_RESTRICTED_ATTR) == found


def test_unchanged_restricted_values_are_allowed_on_update():
    base = parse("RAW=[TYPE=kvm, DATA=x] NIC=[NETWORK_ID=0, MAC=m1] DESCRIPTION=a")
    same = parse("DESCRIPTION=b NIC=[MAC=m1, NETWORK_ID=0] RAW=[DATA=x, TYPE=kvm]")
    assert first_restricted(same, VM_RESTRICTED_ATTR, base) is None
    assert first_restricted(parse("RAW=[TYPE=kvm, DATA=y] NIC=[NETWORK_ID=0, MAC=m1]"),
                            VM_RESTRICTED_ATTR, base) == "RAW"
    assert first_restricted(parse("RAW=[TYPE=kvm, DATA=x] NIC=[NETWORK_ID=0, MAC=m2]"),
                            VM_RESTRICTED_ATTR, base) == "NIC/MAC"
    # dropping one is a change for a replace, not for a merge (the merge keeps the rest)
    dropped = parse("NIC=[NETWORK_ID=0, MAC=m1]")
    assert first_restricted(dropped, VM_RESTRICTED_ATTR, base) == "RAW"
    assert first_restricted(dropped, VM_RESTRICTED_ATTR, base, append=True) is None
    # adding one the base does not have is always a change
    assert first_restricted(parse("USER_PRIORITY=10"), VM_RESTRICTED_ATTR, base,
                            append=True) == "USER_PRIORITY"


@relaxed
@given(templates(), st.sampled_from(VM_RESTRICTED_ATTR), st.text("ab1", min_size=1))
def test_any_restricted_attribute_is_found(template: Template, spec: str, value: str):
    """Added anywhere to any template, a restricted attribute is found; unchanged, it is not."""
    name, _, sub = spec.partition("/")
    spiked = template.copy()
    spiked.add(VectorAttribute(name, {sub: value}) if sub else SingleAttribute(name, value))
    assert first_restricted(spiked, VM_RESTRICTED_ATTR) is not None
    assert first_restricted(spiked, [spec]) == spec
    assert first_restricted(spiked, VM_RESTRICTED_ATTR, spiked.copy()) is None


@pytest.mark.parametrize("path, refused", [
    ("/var/tmp/disk.qcow2", False),
    ("/var/tmp", False),
    ("/var/tmpfoo/x", True),
    ("/etc/shadow", True),
    ("/var/tmp/../../etc/shadow", True),
    ("//etc/passwd", True),
    ("relative/disk.img", True),
    ("http://example.org/disk.img", False),
    ("s3://bucket/disk", False),
])
def test_paths_outside_safe_dirs_are_refused(path: str, refused: bool):
    assert path_refused(path, "/var/tmp", "/") is refused


def test_restricted_dirs_decide_where_safe_dirs_do_not_reach():
    assert path_refused("/srv/images/a", "/var/tmp", "/etc /root") is False
    assert path_refused("/etc/shadow", "/var/tmp", "/etc /root") is True
    assert path_refused("/etc/shadow", "", "") is False
    assert path_refused("/srv/a", "/srv /var/tmp", "/") is False


def test_the_configuration_holds_the_lists(tmp_path):
    from nubo.config import ConfigError, load_config
    assert load_config(None).vm_restricted_attr == list(VM_RESTRICTED_ATTR)
    conf = tmp_path / "nubo.toml"
    conf.write_text('vm_restricted_attr = ["RAW", "NIC/MAC"]\nvnet_restricted_attr = []\n')
    cfg = load_config(conf)
    assert (cfg.vm_restricted_attr, cfg.vnet_restricted_attr) == (["RAW", "NIC/MAC"], [])
    assert cfg.image_restricted_attr == list(IMAGE_RESTRICTED_ATTR)
    for bad in ('"RAW"', '["NIC/"]', "[3]"):
        conf.write_text(f"image_restricted_attr = {bad}\n")
        with pytest.raises(ConfigError, match="image_restricted_attr"):
            load_config(conf)
