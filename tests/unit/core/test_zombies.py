"""Zombies and wilds among the VMs a probe lists (nubo.core.zombies), shown on the host."""
from __future__ import annotations

from nubo.core import zombies
from nubo.core.zombies import Stray
from nubo.model.infra import Host
from nubo.template import parse

PROBE = parse('HYPERVISOR="dummy"\n'
              'VM=[ID="1",DEPLOY_ID="one-1",POLL="STATE=a CPU=10"]\n'
              'VM=[ID="2",DEPLOY_ID="one-2",POLL="STATE=a"]\n'
              'VM=[ID="3",DEPLOY_ID="one-3",POLL="STATE=d"]\n'
              'VM=[ID="-1",DEPLOY_ID="foreign",POLL="STATE=a"]\n'
              'VM=[DEPLOY_ID="other",POLL="STATE=a"]\n')


def host() -> Host:
    return Host(id=0, name="h", state=2, prev_state=2, im_mad="d", vm_mad="d", cluster_id=0,
                cluster="default")


def test_a_listed_vm_the_host_does_not_count_is_a_zombie_one_without_id_wild():
    found, wilds = zombies.strays(PROBE, counted={1})
    assert found == [Stray(2, "one-2")]  # 3 is listed gone: not running
    assert wilds == [Stray(-1, "foreign"), Stray(-1, "other")]
    assert zombies.strays(PROBE, counted={1, 2}) == ([], wilds)


def test_they_are_shown_on_the_host_and_cleared_when_gone():
    h = host()
    found, wilds = zombies.strays(PROBE, counted=set())
    assert zombies.show(h, found, wilds)
    assert h.template.get("ZOMBIES") == "one-1, one-2" and h.template.get("TOTAL_ZOMBIES") == "2"
    assert h.template.get("WILDS") == "foreign, other" and h.template.get("TOTAL_WILDS") == "2"
    assert not zombies.show(h, found, wilds)  # unchanged: nothing to log
    assert zombies.show(h, [], [])
    assert all(h.template.get(k) is None
               for k in ("ZOMBIES", "TOTAL_ZOMBIES", "WILDS", "TOTAL_WILDS"))
