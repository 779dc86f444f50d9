"""Every VM verb, run as a subprocess against a live core with dummy hosts."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from lxml import etree

from conftest import Cli


def vm_state(cli: Cli, vm: int | str) -> str:
    return cli("vm", "list", "--csv", "--no-header", "--list", "STAT",
               "--filter", f"ID={vm}").stdout.strip()


def test_create_from_options_file_and_hold(cli: Cli, unique, tmp_path: Path) -> None:
    name = unique("a")
    vm = cli.id("vm", "create", "--name", name, "--cpu", "0.5", "--memory", "1G", "--vcpu", "2")
    show = json.loads(cli("vm", "show", str(vm), "-j").stdout)["VM"]
    assert show["NAME"] == name
    assert (show["TEMPLATE"]["CPU"], show["TEMPLATE"]["MEMORY"], show["TEMPLATE"]["VCPU"]) == \
        ("0.5", "1024", "2")
    f = tmp_path / "vm.tmpl"
    f.write_text(f'NAME="{unique("b")}"\nCPU=1\nMEMORY=128\n')
    held = cli.id("vm", "create", str(f), "--hold", "--memory", "256")
    assert vm_state(cli, held) == "hold"
    body = etree.fromstring(cli("vm", "show", str(held), "-x").stdout.encode())
    assert body.findtext("TEMPLATE/MEMORY") == "256"  # the option overrides the file
    many = cli("vm", "create", "--name", unique("m-%i"), "--cpu", "1", "--memory", "64",
               "-m", "3").stdout.split()
    names = cli("vm", "list", "--csv", "--no-header", "--list", "NAME",
                "--filter", f"NAME~{unique('m-')}").stdout.split()
    assert len(many) == 3 and sorted(names) == [unique(f"m-{i}") for i in range(3)]
    bad = tmp_path / "bad.tmpl"
    bad.write_text("CPU=1\nDISK=[IMAGE=x\n")
    proc = cli("vm", "create", str(bad), "--memory", "64", ok=False)
    assert proc.returncode == 2 and "bad.tmpl: syntax error at line 2" in proc.stderr
    proc = cli("vm", "create", ok=False)
    assert proc.returncode == 2 and "nothing to create" in proc.stderr


def test_life_cycle_through_every_action(cli: Cli, hosts: list[str], unique) -> None:
    h1, h2 = hosts
    name = unique("vm")
    vm = str(cli.id("vm", "create", "--name", name, "--cpu", "1", "--memory", "128"))
    cli("vm", "hold", name, "--wait")
    assert vm_state(cli, vm) == "hold"
    cli("vm", "release", name)
    cli("vm", "deploy", name, h1, "--wait")           # names for the VM and the host
    assert vm_state(cli, vm) == "runn"
    assert cli("vm", "list", "--csv", "--no-header", "--list", "HOST",
               "--filter", f"ID={vm}").stdout.strip() == h1
    for args, want in ((("poweroff",), "poff"), (("resume",), "runn"),
                       (("poweroff", "--hard"), "poff"), (("resume",), "runn"),
                       (("suspend",), "susp"), (("resume",), "runn"),
                       (("reboot",), "runn"), (("reboot", "--hard"), "runn"),
                       (("migrate", h2), "runn"), (("migrate", h1, "--live"), "runn"),
                       (("stop",), "stop"), (("resume",), "pend"),
                       (("deploy", h2), "runn"), (("undeploy", "--hard"), "unde"),
                       (("resume",), "pend"), (("deploy", h1), "runn"),
                       (("undeploy",), "unde"), (("resume",), "pend"), (("deploy", h1), "runn"),
                       (("resched",), "runn"), (("unresched",), "runn")):
        verb, *rest = args
        cli("vm", verb, vm, *rest, "--wait")
        assert vm_state(cli, vm) == want, args
    show = cli("vm", "show", vm).stdout
    assert "VIRTUAL MACHINE HISTORY" in show and "live-migrate" in show
    cli("vm", "terminate", vm, "--hard", "--wait")
    assert vm_state(cli, vm) == ""  # DONE VMs leave the default listing
    assert json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["STATE"] == "6"


def test_hotplug_snapshots_resize_and_recover(cli: Cli, hosts: list[str], unique,
                                              tmp_path: Path) -> None:
    net = unique("net")
    cli("vnet", "create", "-", input=f'NAME="{net}"\nVN_MAD=dummy\nBRIDGE=br0\n'
        'AR=[TYPE=IP4, IP=10.9.0.1, SIZE=10]\n')
    img = unique("img")
    cli("image", "create", "--name", img, "--type", "DATABLOCK", "--size", "10", "-d", "default")
    vm = str(cli.id("vm", "create", "--name", unique("vm"), "--cpu", "1", "--memory", "128"))
    cli("vm", "deploy", vm, hosts[0], "--wait")
    cli("vm", "disk-attach", vm, "--image", img, "--wait")
    disks = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["TEMPLATE"]["DISK"]
    disk_id = (disks if isinstance(disks, dict) else disks[-1])["DISK_ID"]
    cli("vm", "disk-detach", vm, disk_id, "--wait")
    cli("vm", "nic-attach", vm, "--network", net, "--ip", "10.9.0.5", "--wait")
    nic = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["TEMPLATE"]["NIC"]
    assert nic["IP"] == "10.9.0.5"
    cli("vm", "nic-detach", vm, nic["NIC_ID"], "--wait")
    cli("vm", "snapshot-create", vm, "before", "--wait")
    assert "before" in cli("vm", "show", vm).stdout.split("SNAPSHOTS", 1)[1]
    cli("vm", "snapshot-revert", vm, "0", "--wait")
    cli("vm", "snapshot-delete", vm, "0", "--wait")
    cli("vm", "resize", vm, "--cpu", "2", "--memory", "256M", "--wait")
    body = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["TEMPLATE"]
    assert (body["CPU"], body["MEMORY"]) == ("2", "256")
    conf = tmp_path / "conf"
    conf.write_text('CONTEXT=[NETWORK="YES", TOKEN="x"]\n')
    cli("vm", "updateconf", vm, str(conf), "--wait")
    assert 'TOKEN="x"' in cli("vm", "show", vm).stdout or "TOKEN=x" in cli("vm", "show", vm).stdout
    proc = cli("vm", "recover", vm, ok=False)
    assert proc.returncode == 2 and "exactly one of" in proc.stderr
    cli("vm", "recover", vm, "--delete-recreate", "--wait")
    assert vm_state(cli, vm) == "pend"
    cli("vm", "recover", vm, "--delete")
    assert vm_state(cli, vm) == ""


def test_ranges_lists_and_names_of_vms(cli: Cli, unique) -> None:
    ids = cli("vm", "create", "--name", unique("r%i"), "--cpu", "1", "--memory", "64",
              "-m", "5").stdout.split()
    a, b, c, d, e = ids
    cli("vm", "hold", f"{a},{c}-{e}")
    states = cli("vm", "list", "--csv", "--no-header", "--list", "ID,STAT",
                 "--filter", f"NAME~{unique('r')}", "--sort", "ID").stdout.split()
    assert states == [f"{a},hold", f"{b},pend", f"{c},hold", f"{d},hold", f"{e},hold"]
    cli("vm", "terminate", f"{a}..{b},{unique('r2')},{d},{e}")
    assert cli("vm", "list", "--no-header", "--filter", f"NAME~{unique('r')}").stdout == ""
    # One bad id among good ones: the others are done, the failure is reported, exit 1.
    more = cli("vm", "create", "--name", unique("s%i"), "--cpu", "1", "--memory", "64",
               "-m", "2").stdout.split()
    proc = cli("vm", "hold", f"{more[0]},999999,{more[1]}", ok=False)
    assert proc.returncode == 1 and "VM 999999" in proc.stderr and "1 of 3 VMs failed" \
        in proc.stderr
    assert vm_state(cli, more[1]) == "hold"
    cli("vm", "delete", ",".join(more))


def test_update_rename_chown_chmod_lock(cli: Cli, unique, tmp_path: Path) -> None:
    vm = str(cli.id("vm", "create", "--name", unique("u"), "--cpu", "1", "--memory", "64"))
    f = tmp_path / "u.tmpl"
    f.write_text('LABEL="one"\n')
    cli("vm", "update", vm, str(f))
    f.write_text('COLOUR="blue"\n')
    cli("vm", "update", vm, str(f), "--append")
    user_tmpl = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["USER_TEMPLATE"]
    assert user_tmpl["LABEL"] == "one" and user_tmpl["COLOUR"] == "blue"
    # No file: $EDITOR edits the current template.
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'a').write('EDITED=yes\\n')\n")
    cli("vm", "update", vm, EDITOR=f"{sys.executable} {editor}")
    user_tmpl = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["USER_TEMPLATE"]
    assert user_tmpl["EDITED"] == "yes" and user_tmpl["LABEL"] == "one"
    proc = cli("vm", "update", vm, EDITOR="false", ok=False)
    assert proc.returncode == 1 and "left unchanged" in proc.stderr
    cli("vm", "rename", vm, unique("renamed"))
    cli("vm", "chmod", vm, "640")
    perms = cli("vm", "show", vm).stdout.split("PERMISSIONS", 1)[1]
    assert "OWNER               : um-" in perms and "GROUP               : u--" in perms
    cli("vm", "chgrp", vm, "users")
    cli("vm", "chown", vm, "oneadmin", "oneadmin")
    cli("vm", "chgrp", vm, "1")
    assert cli("vm", "list", "--csv", "--no-header", "--list", "NAME,GROUP",
               "--filter", f"ID={vm}").stdout.strip() == f"{unique('renamed')},users"
    cli("vm", "lock", vm)
    proc = cli("vm", "rename", vm, unique("locked"), ok=False)
    assert proc.returncode == 1 and "lock" in proc.stderr.lower()
    cli("vm", "unlock", vm)
    cli("vm", "rename", vm, unique("unlocked"))
    cli("vm", "delete", vm)


def test_wait_for_a_state(cli: Cli, hosts: list[str], unique) -> None:
    vm = str(cli.id("vm", "create", "--name", unique("w"), "--cpu", "1", "--memory", "64")) 
    cli("vm", "deploy", vm, hosts[1])
    proc = cli("vm", "wait", vm, "runn", "--timeout", "30")
    assert proc.stdout == "" and proc.stderr == ""  # no progress line when not a terminal
    cli("vm", "wait", vm, "RUNNING")
    proc = cli("vm", "wait", vm, "poff", "--timeout", "0.5", ok=False)
    assert proc.returncode == 1 and "did not reach poff within 0.5s (now RUNNING)" in proc.stderr
    proc = cli("vm", "wait", vm, "bogus", ok=False)
    assert proc.returncode == 2 and "unknown VM state 'bogus'" in proc.stderr
    cli("vm", "terminate", vm, "--hard")
    cli("vm", "wait", vm, "done")
    proc = cli("vm", "wait", vm, "runn", ok=False)
    assert proc.returncode == 1 and "is DONE: it will never reach runn" in proc.stderr


def test_machine_readable_output(cli: Cli, unique) -> None:
    name = unique("out")
    vm = str(cli.id("vm", "create", "--name", name, "--cpu", "1", "--memory", "64", "--hold"))
    pool = json.loads(cli("vm", "list", "-j").stdout)
    assert isinstance(pool["VM_POOL"]["VM"], list)  # always a list, even of one
    assert name in [v["NAME"] for v in pool["VM_POOL"]["VM"]]
    data = yaml.safe_load(cli("vm", "show", vm, "--yaml").stdout)
    assert data["VM"]["NAME"] == name and data["VM"]["ID"] == vm
    xml = etree.fromstring(cli("vm", "list", "-x").stdout.encode())
    assert xml.tag == "VM_POOL" and name in [v.findtext("NAME") for v in xml]
    csv_out = cli("vm", "list", "--csv", "--filter", f"NAME={name}").stdout.splitlines()
    assert csv_out[0] == "ID,USER,GROUP,NAME,STAT,CPU,MEM,HOST,TIME"
    assert csv_out[1].startswith(f"{vm},oneadmin,oneadmin,{name},hold,1,64M,,")
    cli("vm", "delete", vm)


def test_scheduled_actions(cli: Cli, unique) -> None:
    vm = str(cli.id("vm", "create", "--name", unique("s"), "--cpu", "1", "--memory", "64"))
    cli("vm", "poweroff", vm, "--schedule", "+3600")
    cli("vm", "terminate", vm, "--hard", "--schedule", "2030-01-01 10:00")
    cli("vm", "sched-add", vm, "-", input='SCHED_ACTION=[ACTION="hold", TIME="+7200"]\n')
    section = cli("vm", "show", vm).stdout.split("SCHEDULED ACTIONS", 1)[1].split("\n\n")[0]
    rows = [line.split()[:2] for line in section.strip().splitlines()[1:]]
    assert rows == [["0", "poweroff"], ["1", "terminate-hard"], ["2", "hold"]]
    cli("vm", "sched-update", vm, "2", "-", input='SCHED_ACTION=[ACTION="release", '
        'TIME="+7200"]\n')
    cli("vm", "sched-delete", vm, "0")
    actions = json.loads(cli("vm", "show", vm, "-j").stdout)["VM"]["TEMPLATE"]["SCHED_ACTION"]
    assert [a["ACTION"] for a in actions] == ["terminate-hard", "release"]
    proc = cli("vm", "hold", vm, "--schedule", "tomorrow", ok=False)
    assert proc.returncode == 2 and "--schedule: 'tomorrow' is not a time" in proc.stderr
    cli("vm", "delete", vm)
