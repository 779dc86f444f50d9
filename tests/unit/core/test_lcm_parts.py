"""The pieces of the life-cycle manager that need no server: the drivers the config
starts, and how a decision's history effects become HISTORY records."""
from __future__ import annotations

import sys

import pytest

from nubo.config import ConfigError, driver_specs, load_config
from nubo.core.vm_commit import apply_capacity, apply_history, new_record
from nubo.lifecycle import Checkpoint, Release, Reserve, Stamp
from nubo.lifecycle.states import HISTORY_ACTION_IDS
from nubo.model.infra import Host
from nubo.model.permissions import Permissions
from nubo.model.vm import VirtualMachine
from nubo.template import Template


def test_the_dummy_driver_runs_by_default_with_its_journal_in_data_dir(tmp_path):
    cfg = load_config(None, data_dir=tmp_path)
    specs = {s.name: s for s in driver_specs(cfg)}
    # im and ds both answer MONITOR; kvm where libvirt-python is installed (kvm_driver auto)
    assert sorted(set(specs) - {"kvm"}) == ["ds", "dummy", "dummy-ds", "tm"]
    spec = specs["dummy"]
    assert spec.command[0] == sys.executable
    assert spec.command[-4:] == ("--state", str(tmp_path / "dummy-state"),
                                 "--down", str(tmp_path / "dummy-down"))
    assert specs["dummy-ds"].command[-1] == "ds" and cfg.datastore_driver == "ds"
    assert specs["ds"].command[1:] == ("-m", "nubo.drivers.ds")  # the datastore driver
    # the real transfer driver, its simulated hosts in DATA_DIR
    assert cfg.transfer_driver == "tm" and specs["tm"].command[1:3] == ("-m", "nubo.drivers.tm")
    assert str(tmp_path / "dummy-hosts") in specs["tm"].command


def test_a_drivers_table_adds_or_replaces_drivers(tmp_path):
    conf = tmp_path / "nubo.toml"
    conf.write_text('[drivers.dummy]\ncommand = "python3 -m nubo.drivers.dummy vmm"\n'
                    '[drivers.kvm]\ncommand = ["/bin/kvm-driver"]\ntimeout = 60\n')
    specs = {s.name: s for s in driver_specs(load_config(conf))}
    assert specs["dummy"].command == ("python3", "-m", "nubo.drivers.dummy", "vmm")
    assert specs["kvm"].timeout == 60


def test_a_wrong_driver_key_stops_nubo(tmp_path):
    conf = tmp_path / "nubo.toml"
    conf.write_text('[drivers.kvm]\ncommand = "x"\nspeed = 3\n')
    with pytest.raises(ConfigError, match="speed"):
        load_config(conf)


@pytest.mark.parametrize("line, message", [
    ("host_error_probes = 0", "host_error_probes must be at least 1"),
    ('zombie_policy = "kill"', "zombie_policy must be report or destroy"),
    ('host_monitoring_interval = "1"', "host_monitoring_interval"),
])
def test_host_failure_settings_are_checked(tmp_path, line, message):
    conf = tmp_path / "nubo.toml"
    conf.write_text(line + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(conf)


def test_the_monitoring_interval_may_be_a_fraction(tmp_path):
    conf = tmp_path / "nubo.toml"
    conf.write_text("host_monitoring_interval = 0.5\n")
    assert load_config(conf).host_monitoring_interval == 0.5
    conf.write_text("host_monitoring_interval = 60\n")
    assert load_config(conf).host_monitoring_interval == 60.0


def _vm() -> VirtualMachine:
    template = Template()
    template.set("CPU", "0.5")
    template.set("MEMORY", "64")
    return VirtualMachine(id=7, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name="vm",
                          permissions=Permissions(), last_poll=0, state=3, lcm_state=3,
                          prev_state=3, prev_lcm_state=3, resched=0, stime=1, etime=0,
                          deploy_id="", lock=None, template=template)


def test_a_checkpoint_closes_the_record_and_continues_in_a_copy():
    vm = _vm()
    host = Host(id=3, name="n3", state=2, prev_state=2, im_mad="dummy", vm_mad="dummy",
                cluster_id=0, cluster="default")
    vm.history.append(new_record(vm, host, 100, ds_id=0, tm_mad="ssh"))
    apply_history(vm, Stamp("current", "RSTIME"), 110, {}, 0, "", -1, -1)
    apply_history(vm, Checkpoint("poweroff"), 120, {}, 0, "", -1, -1)
    closed, copy = vm.history
    poweroff = HISTORY_ACTION_IDS["poweroff"]
    assert (closed.retime, closed.etime, closed.action) == (120, 120, poweroff)
    assert (copy.seq, copy.hid, copy.stime, copy.rstime, copy.etime) == (1, 3, 120, 120, 0)
    apply_history(vm, Stamp("current", "RETIME", "close"), 130, {}, 0, "", -1, -1)
    assert copy.retime == 130
    apply_history(vm, Stamp("current", "RETIME", "close"), 140, {}, 0, "", -1, -1)
    assert copy.retime == 130  # "close" never moves a time already set


def test_a_vm_is_counted_on_a_host_once_and_released_once():
    vm = _vm()
    host = Host(id=3, name="n3", state=2, prev_state=2, im_mad="dummy", vm_mad="dummy",
                cluster_id=0, cluster="default")
    for _ in range(2):
        apply_capacity(vm, Reserve(3), host)
    share = host.host_share
    assert (host.vms, share.running_vms, share.cpu_usage, share.mem_usage) == ([7], 1, 50, 65536)
    for _ in range(2):
        apply_capacity(vm, Release(3), host)
    assert (host.vms, share.running_vms, share.cpu_usage, share.mem_usage) == ([], 0, 0, 0)
