"""Virtual network templates (one.vntemplate.*): networks users instantiate themselves.

An administrator writes the network (VN_MAD, BRIDGE, ARs, CLUSTER_IDS...) once; whoever
may USE the template gets a network of its own from it, in the template's clusters (the
default one when it names none), with TEMPLATE_ID set, without the CREATE NET and cluster
ADMIN rights one.vn.allocate needs: choosing them was the template owner's job, as in
oned's VNTemplateInstantiate. The template is checked only when instantiated (oned too).
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops import vnets
from nubo.core.ops.call import Call
from nubo.core.ops.clusters import DEFAULT_CLUSTER, drop_acl_rules
from nubo.core.ops.common import Kind, authorize_create, check_lock, fetch, new_permissions
from nubo.errors import InternalError
from nubo.model.limits import VNET_NUMBERS, check_numbers
from nubo.model.vntemplate import VnTemplate
from nubo.template import Template

VNTEMPLATE = Kind(lambda c: c.cloud.pools.vntemplates, ObjectType.VNTEMPLATE, "VNTEMPLATE")


def _insert(call: Call, conn: Connection, body: Template, name: str) -> int:
    pool = call.cloud.pools.vntemplates
    session = call.session
    vnets.free_name(conn, pool, name, session.uid, "VNTEMPLATE", "Virtual Network Template")
    body = body.copy()
    body.remove("NAME")
    tmpl = VnTemplate(id=pool.next_oid(conn), uid=session.uid, gid=session.gid,
                      uname=session.uname, gname=session.gname, name=name, lock=None,
                      permissions=new_permissions(call, session.uid, session.gid),
                      regtime=call.cloud.now(), template=body)
    pool.insert(conn, tmpl)
    return tmpl.id


def allocate_vntemplate(call: Call, body: Template) -> int:
    """A new virtual network template of the caller's; NAME is the body's."""
    check_numbers(body, VNET_NUMBERS)
    with call.cloud.db.write() as conn:
        authorize_create(call, VNTEMPLATE)
        return _insert(call, conn, body, (body.get("NAME") or "").strip())


def clone_vntemplate(call: Call, tid: int, name: str) -> int:
    """A copy of template tid, owned by the caller and named ``name``."""
    with call.cloud.db.write() as conn:
        source = fetch(call, conn, VNTEMPLATE, tid, A.USE)
        check_lock(source, A.USE)
        authorize_create(call, VNTEMPLATE)
        return _insert(call, conn, source.template, name)


def delete_vntemplate(call: Call, tid: int) -> int:
    """Template tid and the ACL rules naming it (its networks stay)."""
    with call.cloud.db.write() as conn:
        tmpl = fetch(call, conn, VNTEMPLATE, tid, A.MANAGE)
        check_lock(tmpl, A.MANAGE)
        call.cloud.pools.vntemplates.delete(conn, tid)
        drop_acl_rules(call, conn, ObjectType.VNTEMPLATE, tid)
    return tid


def _cluster_ids(call: Call, conn: Connection, body: Template) -> list[int]:
    """CLUSTER_IDS = "0,100" of the template (each must exist), else the default cluster."""
    text = body.get("CLUSTER_IDS") or ""
    body.remove("CLUSTER_IDS")
    ids = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit():
            raise InternalError(f"Wrong CLUSTER_IDS {text!r}: a comma-separated list of ids.")
        ids.append(call.cloud.pools.clusters.get(conn, int(part)).id)
    return sorted(set(ids)) or [DEFAULT_CLUSTER]


def instantiate_vntemplate(call: Call, tid: int, name: str, extra: Template | None) -> int:
    """A network from template tid (USE), the extra template merged in; its id."""
    with call.cloud.db.write() as conn:
        tmpl = fetch(call, conn, VNTEMPLATE, tid, A.USE)
        check_lock(tmpl, A.USE)
        body = tmpl.template.copy()
        if extra is not None:
            check_numbers(extra, VNET_NUMBERS)
            body.merge(extra)
        if name:
            body.set("NAME", name)
        clusters = _cluster_ids(call, conn, body)
        vnet, ars = vnets.build_vnet(call, conn, body, clusters,
                                     unnamed=lambda oid: f"{tmpl.name}-{oid}")
        vnet.template_id = str(tid)
        return vnets.insert_vnet(call, conn, vnet, ars)
