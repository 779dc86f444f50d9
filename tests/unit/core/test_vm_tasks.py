"""Every life-cycle task has exactly one handler in the core, and every task the
machine's tables name is a member of the enumeration: none is dropped silently."""
from __future__ import annotations

import itertools

import pytest

from nubo.core.vm_tasks import HANDLERS, FollowUp, TaskContext, run
from nubo.lifecycle import LcmState, Placement, Task, VmState, VmView
from nubo.lifecycle.machine import ACTION_TABLES
from nubo.lifecycle.recovery import CLEANUP
from nubo.lifecycle.rules import _TRIGGERS, T
from nubo.lifecycle.states import is_valid_pair
from nubo.model.permissions import Permissions
from nubo.model.vm import VirtualMachine
from nubo.template import Template, VectorAttribute


def test_every_task_has_exactly_one_handler():
    assert set(HANDLERS) == set(Task)
    assert all(callable(handler) for handler in HANDLERS.values())


def _views() -> list[VmView]:
    views = []
    for state, lcm in itertools.product(VmState, LcmState):
        if not is_valid_pair(state, lcm):
            continue
        for action in ("none", "stop", "undeploy", "terminate", "poweroff-migrate"):
            views.append(VmView(7, state, lcm, current=Placement(1, action),
                                previous=Placement(2, open=False), hosts=frozenset({1})))
    return views


def _templates() -> list[T]:
    """Every transition template of every table, the computed ones for every state."""
    params = [dict(host=3, alias=a, cold=c, live=lv, hold=h)
              for a, c, lv, h in itertools.product((False, True), repeat=4)]
    views = _views()
    found = []
    for table in [*ACTION_TABLES.values(), *_TRIGGERS.values()]:
        for rule in table.values():
            if isinstance(rule, T):
                found.append(rule)
                continue
            for view, p in itertools.product(views, params):
                try:
                    found.append(rule(view, p))
                except (KeyError, LookupError):
                    pass  # a computed rule for states it is never looked up in
    return found


def test_every_task_in_the_tables_is_a_member():
    used = {task for t in _templates() for task in t.tasks}
    used |= {task for _stamps, _ops, tasks in CLEANUP.values() for task in tasks}
    assert used and all(isinstance(task, Task) for task in used)
    # and the tables use them all: a member nobody writes is dead
    assert used == set(Task)


def test_a_task_that_is_not_a_member_cannot_be_written():
    with pytest.raises(TypeError):
        T(tasks=("release_everything",))  # type: ignore[arg-type]


def _vm(graphics: dict[str, str] | None = None) -> VirtualMachine:
    template = Template([VectorAttribute("GRAPHICS", graphics)] if graphics else [])
    return VirtualMachine(id=5, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name="vm",
                          permissions=Permissions(), last_poll=0, state=3, lcm_state=3,
                          prev_state=3, prev_lcm_state=3, resched=0, stime=1, etime=0,
                          deploy_id="", lock=None, template=template)


def _run(vm: VirtualMachine, task: Task) -> list[FollowUp]:
    return run(TaskContext(None, None, vm, (0, 0)), (task,))  # type: ignore[arg-type]


def test_a_failed_migration_gives_the_vm_its_previous_vnc_port_back():
    vm = _vm({"TYPE": "VNC", "PORT": "5907", "PREVIOUS_PORT": "5905"})
    _run(vm, Task.ROLLBACK_VNC_PORT)
    graphics = vm.template.get_vector("GRAPHICS")
    assert graphics.get("PORT") == "5905" and graphics.get("PREVIOUS_PORT") is None


def test_leaving_the_previous_place_frees_its_vnc_port_and_keeps_the_current_one():
    vm = _vm({"TYPE": "VNC", "PORT": "5907", "PREVIOUS_PORT": "5905"})
    _run(vm, Task.RELEASE_PREVIOUS_VNC_PORT)
    graphics = vm.template.get_vector("GRAPHICS")
    assert graphics.get("PORT") == "5907" and graphics.get("PREVIOUS_PORT") is None


def test_leaving_the_cluster_frees_the_port_and_keeps_the_vm_s_port():
    from sqlalchemy import create_engine

    from nubo.store import vnc_ports
    from nubo.store.schema import vnc_port
    engine = create_engine("sqlite://")
    vnc_port.create(engine)
    vm = _vm({"TYPE": "VNC", "PORT": "5907"})
    with engine.begin() as conn:
        assert vnc_ports.reserve(conn, 0, vm.id, 5900, 5907) == 5907
        run(TaskContext(conn, None, vm, (0, 0)), (Task.RELEASE_VNC_PORT,))  # type: ignore[arg-type]
        assert vnc_ports.held(conn, vm.id) == []
    # its PORT stays in its body, reserved again at its next deploy
    assert vm.template.get_vector("GRAPHICS").get("PORT") == "5907"


def test_a_disk_resize_cut_short_gets_its_size_back():
    vm = _vm()
    vm.template.add(VectorAttribute("DISK", {"DISK_ID": "0", "SIZE": "20", "SIZE_PREV": "10",
                                             "RESIZE": "YES"}))
    _run(vm, Task.CLEAR_RESIZE_DISK)
    disk = vm.template.get_vector("DISK")
    assert (disk.get("SIZE"), disk.get("SIZE_PREV"), disk.get("RESIZE")) == ("10", None, None)
