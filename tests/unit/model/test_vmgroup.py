"""VM groups, pure: building a group from its template, the rule checks, roles and VMs."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nubo.model import xmlobj
from nubo.model.permissions import Permissions
from nubo.model.vmgroup import (VmGroup, VmGroupError, add_role, add_vm, build, check_rules,
                                remove_vm, update_role)
from nubo.template import SingleAttribute, Template, VectorAttribute, parse


def group(text: str) -> VmGroup:
    name, roles, body = build(parse(text))
    return VmGroup(1, 0, 0, "oneadmin", "oneadmin", name, Permissions(), None, roles, body)


def test_round_trip_through_the_stored_body():
    g = group('NAME = "g"\nROLE = [ NAME = "a", POLICY = "affined", HOST_AFFINED = "2,1" ]\n'
              'ROLE = [ NAME = "b" ]\nAFFINED = "a,b"\nNOTE = "x"')
    add_vm(g, "a", 7)
    add_vm(g, "a", 3)
    body = xmlobj.render(g, "VM_GROUP")
    assert "<ROLES><ROLE><HOST_AFFINED>1,2</HOST_AFFINED><ID>0</ID><NAME>a</NAME>" \
           "<POLICY>AFFINED</POLICY><VMS>3,7</VMS></ROLE>" in body
    back = xmlobj.parse(VmGroup, body)
    assert back == g and back.vm_count == 2
    assert remove_vm(back, "a", 3) and not remove_vm(back, "a", 3)
    assert back.role("a").vms == "7"


def test_vms_are_never_taken_from_the_template():
    g = group('NAME = "g"\nROLE = [ NAME = "a", VMS = "1,2", ID = "9" ]')
    assert (g.roles[0].id, g.roles[0].vms) == (0, None)
    update_role(g, 0, VectorAttribute("ROLE", {"VMS": "5"}))
    assert g.roles[0].vms is None


def test_update_role_changes_nothing_when_refused():
    g = group('NAME = "g"\nROLE = [ NAME = "a" ]\nROLE = [ NAME = "b" ]\nAFFINED = "a, b"')
    with pytest.raises(VmGroupError, match="AFFINED rule but the role policy"):
        update_role(g, 1, VectorAttribute("ROLE", {"POLICY": "ANTI_AFFINED"}))
    assert g.roles[1].policy is None
    with pytest.raises(VmGroupError, match="Maximum number of roles"):
        for i in range(40):
            add_role(g, VectorAttribute("ROLE", {"NAME": f"r{i}"}))
    assert len(g.roles) == 32


_NAMES = st.sampled_from(["a", "b", "c", "d"])


@given(st.lists(st.tuples(_NAMES, st.sampled_from(["AFFINED", "ANTI_AFFINED", "NONE"])),
                min_size=1, max_size=4, unique_by=lambda t: t[0]),
       st.lists(st.tuples(st.sampled_from(["AFFINED", "ANTI_AFFINED"]),
                          st.sets(st.sampled_from(["a", "b", "c", "d", "z"]), min_size=1,
                                  max_size=3)), max_size=4))
@settings(max_examples=400, deadline=None)
def test_accepted_rules_are_consistent(roles, rules):
    template = Template([SingleAttribute(kind, ", ".join(sorted(names)))
                         for kind, names in rules])
    text = "\n".join(f'ROLE = [ NAME = "{n}", POLICY = "{p}" ]' for n, p in roles)
    g = group('NAME = "g"\n' + text)
    policies = dict(roles)
    try:
        check_rules(g.roles, template)
    except VmGroupError as e:
        assert str(e)
        return
    affined = set().union(*(n for k, n in rules if k == "AFFINED"))
    anti = set().union(*(n for k, n in rules if k == "ANTI_AFFINED"))
    assert affined | anti <= set(policies)
    assert not affined & anti
    assert all(policies[n] != "ANTI_AFFINED" for n in affined)
    assert len({(k, frozenset(n)) for k, n in rules}) == len(rules)
