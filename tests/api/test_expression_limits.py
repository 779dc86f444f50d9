"""A plain user cannot store a scheduler expression beyond the scheduler's limits: allocate,
update and instantiate refuse it with an error naming the attribute (issue 9, item 1)."""
from __future__ import annotations

import uuid

import pyone
import pytest

from nubo.expr.lexer import MAX_DEPTH, MAX_LENGTH

ATOM = {"SCHED_REQUIREMENTS": "CPUSPEED > 1", "SCHED_DS_REQUIREMENTS": "FREE_MB > 1",
        "SCHED_RANK": "FREE_CPU", "SCHED_DS_RANK": "FREE_MB"}


@pytest.fixture
def user(one, client_for):
    name = f"expr-{uuid.uuid4().hex[:8]}"
    one.user.allocate(name, "pw", "", [])
    return client_for(f"{name}:pw")


def body(attr: str, text: str, name: str = "limits") -> str:
    return f'NAME = "{name}"\nCPU = 0.1\nMEMORY = 64\n{attr} = "{text}"'


DEEP = rf"nested too deeply \(limit {MAX_DEPTH} levels of parentheses\) at line 1, column " \
       rf"{MAX_DEPTH + 1}"
LONG = rf"too long \(\d+ characters, limit {MAX_LENGTH}\)"


@pytest.mark.parametrize("attr,shape,error", [(a, "deep", DEEP) for a in sorted(ATOM)]
                         + [("SCHED_RANK", "long", LONG)])
def test_beyond_the_limits_is_refused_naming_the_attribute(one, user, attr, shape, error) -> None:
    atom = ATOM[attr]
    text = "(" * 900 + atom + ")" * 900 if shape == "deep" else atom + " " * MAX_LENGTH
    match = rf"Error parsing {attr} \".*\": expression {error}"
    count = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneInternalException, match=match):
        user.vm.allocate(body(attr, text), True)
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == count
    vm = user.vm.allocate(body(attr, atom), True)
    with pytest.raises(pyone.OneInternalException, match=match):
        user.vm.update(vm, f'{attr} = "{text}"', 1)
    assert one.vm.info(vm).USER_TEMPLATE[attr] == atom
    with pytest.raises(pyone.OneInternalException, match=match):
        user.template.allocate(body(attr, text))
    tid = user.template.allocate(body(attr, atom, f"limits-{uuid.uuid4().hex[:6]}"))
    with pytest.raises(pyone.OneInternalException, match=match):
        user.template.instantiate(tid, "", True, f'{attr} = "{text}"', False)
    with pytest.raises(pyone.OneInternalException, match=match):
        user.template.update(tid, f'{attr} = "{text}"', 1)
    user.vm.action("terminate-hard", vm)
    user.template.delete(tid, False)


def test_long_chains_and_the_deepest_nesting_are_accepted(one, user) -> None:
    for attr, text in [
            ("SCHED_RANK", "+".join(["1"] * 400)),  # flat: any length is shallow
            ("SCHED_REQUIREMENTS", "!" * 500 + "CPUSPEED > 1"),
            ("SCHED_DS_REQUIREMENTS", "(" * MAX_DEPTH + "FREE_MB > 1" + ")" * MAX_DEPTH),
            ("SCHED_RANK", "(-" * MAX_DEPTH + "FREE_CPU * 2" + ")" * MAX_DEPTH)]:
        vm = user.vm.allocate(body(attr, text), True)
        assert one.vm.info(vm).USER_TEMPLATE[attr] == text
        user.vm.action("terminate-hard", vm)
