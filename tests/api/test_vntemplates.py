"""one.vntemplate.* and one.vntemplatepool.info, driven by pyone."""
from __future__ import annotations

import uuid

import pyone
import pytest

from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


TEMPLATE = """NAME = "{name}"
VN_MAD = "bridge"
DNS = "198.51.100.53"
AR = [ TYPE = "IP4", IP = "198.51.100.10", SIZE = "5" ]
"""


def test_allocate_info_pool_and_xml(one, nubo):
    name = uniq("vnt")
    tid = one.vntemplate.allocate(TEMPLATE.format(name=name))
    t = one.vntemplate.info(tid)
    assert (t.NAME, t.UNAME, t.TEMPLATE["VN_MAD"], t.TEMPLATE["AR"]["SIZE"]) == (
        name, "oneadmin", "bridge", "5")
    assert "NAME" not in t.TEMPLATE and t.REGTIME > 0
    assert_valid(raw_call(nubo.endpoint, "one.vntemplate.info", nubo.session, tid)[1],
                 "vntemplate.xsd")
    pool = raw_call(nubo.endpoint, "one.vntemplatepool.info", nubo.session, -2, -1, -1)[1]
    assert_valid(pool, "vntemplate_pool.xsd")
    assert tid in {x.ID for x in one.vntemplatepool.info(-2, -1, -1).VNTEMPLATE}
    with pytest.raises(pyone.OneException, match=f"NAME is already taken by VNTEMPLATE {tid}"):
        one.vntemplate.allocate(TEMPLATE.format(name=name))
    with pytest.raises(pyone.OneException, match="No NAME"):
        one.vntemplate.allocate('VN_MAD = "bridge"')


def test_instantiate_gives_networks_of_their_own(one, client_for):
    tid = one.vntemplate.allocate(TEMPLATE.format(name=uniq("vnt")) + 'CLUSTER_IDS = "0"')
    first = one.vntemplate.instantiate(tid, uniq("fromtmpl"), "")
    vn = one.vn.info(first)
    assert (vn.TEMPLATE_ID, vn.VN_MAD, vn.TEMPLATE["DNS"], vn.AR_POOL.AR[0].IP) == (
        str(tid), "bridge", "198.51.100.53", "198.51.100.10")
    assert "CLUSTER_IDS" not in vn.TEMPLATE and list(vn.CLUSTERS.ID) == [0]
    # without a name: "<template name>-<network id>"; the extra template merged in
    second = one.vntemplate.instantiate(tid, "", 'DNS = "198.51.100.54"')
    vn2 = one.vn.info(second)
    assert vn2.NAME == f"{one.vntemplate.info(tid).NAME}-{second}"
    assert vn2.TEMPLATE["DNS"] == "198.51.100.54"
    # a user with USE on the template instantiates without CREATE NET
    user = uniq("vntuser")
    uid = one.user.allocate(user, "pw", "", [])
    client = client_for(f"{user}:pw")
    with pytest.raises(pyone.OneAuthorizationException):
        client.vntemplate.instantiate(tid, "mine", "")
    one.vntemplate.chmod(tid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    mine = client.vntemplate.instantiate(tid, "mine", "")
    assert one.vn.info(mine).UID == uid
    for vid in (first, second, mine):
        one.vn.delete(vid)
    one.user.delete(uid)


def test_update_clone_rename_chown_lock_delete(one):
    tid = one.vntemplate.allocate(TEMPLATE.format(name=uniq("vnt")))
    one.vntemplate.update(tid, 'MTU = "1400"', 1)
    assert one.vntemplate.info(tid).TEMPLATE["MTU"] == "1400"
    new_name = uniq("renamed")
    one.vntemplate.rename(tid, new_name)
    copy = one.vntemplate.clone(tid, uniq("copy"))
    assert one.vntemplate.info(copy).TEMPLATE["MTU"] == "1400"
    one.vntemplate.chown(copy, -1, 1)
    assert one.vntemplate.info(copy).GID == 1
    one.vntemplate.lock(tid, 4)
    with pytest.raises(pyone.OneException):
        one.vntemplate.delete(tid)
    one.vntemplate.unlock(tid)
    for t in (tid, copy):
        one.vntemplate.delete(t)
    with pytest.raises(pyone.OneNoExistsException):
        one.vntemplate.info(tid)


def test_a_bad_template_fails_at_instantiate_with_nothing_created(one):
    tid = one.vntemplate.allocate(f'NAME = "{uniq("bad")}"\nBRIDGE = "br9"')
    before = {v.ID for v in one.vnpool.info(-2, -1, -1).VNET}
    with pytest.raises(pyone.OneException, match="No VN_MAD"):
        one.vntemplate.instantiate(tid, uniq("x"), "")
    assert {v.ID for v in one.vnpool.info(-2, -1, -1).VNET} == before
    one.vntemplate.delete(tid)
