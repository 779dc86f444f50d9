"""one.user.*, one.userpool.info, one.group.info and one.grouppool.info: accounts, passwords,
login tokens, groups (nubo.core.ops.users); users and groups are shown with their quotas."""
from __future__ import annotations

from nubo.api.methods.generic import register_update
from nubo.api.method_table import Array, Bool, Int, Str, api
from nubo.core.ops import users as ops
from nubo.core.ops.common import Kind
from nubo.core.ops.call import Call
from nubo.core.ops.listing import visible_rows
from nubo.core.ops.users import GROUP, USER
from nubo.model.parts import default_quotas
from nubo.model.user import GROUP_EXTRA, USER_EXTRA, pool_quotas, with_quotas


@api("one.user.allocate", Str("name"), Str("password"), Str("driver", "core"),
     Array("group_ids", []))
def user_allocate(call: Call, name: str, password: str, driver: str, gids: list) -> int:
    return ops.allocate_user(call, name, password, driver, gids)


@api("one.user.delete", Int("id"))
def user_delete(call: Call, uid: int) -> int:
    return ops.delete_user(call, uid)


@api("one.user.passwd", Int("id"), Str("password"))
def user_passwd(call: Call, uid: int, password: str) -> int:
    return ops.set_password(call, uid, password)


@api("one.user.chauth", Int("id"), Str("driver"), Str("password", ""))
def user_chauth(call: Call, uid: int, driver: str, password: str) -> int:
    return ops.change_auth(call, uid, driver, password)


@api("one.user.enable", Int("id"), Bool("enable"))
def user_enable(call: Call, uid: int, enable: bool) -> int:
    return ops.enable_user(call, uid, enable)


@api("one.user.login", Str("username"), Str("token"), Int("valid", 0), Int("egid", -1))
def user_login(call: Call, username: str, token: str, valid: int, egid: int) -> str:
    """Create (or, with valid 0, revoke) a login token; -1 never expires."""
    return ops.login(call, username, token, valid, egid)


@api("one.user.chgrp", Int("id"), Int("gid"))
def user_chgrp(call: Call, uid: int, gid: int) -> int:
    return ops.change_groups(call, uid, gid, "chgrp")


@api("one.user.addgroup", Int("id"), Int("gid"))
def user_addgroup(call: Call, uid: int, gid: int) -> int:
    return ops.change_groups(call, uid, gid, "add")


@api("one.user.delgroup", Int("id"), Int("gid"))
def user_delgroup(call: Call, uid: int, gid: int) -> int:
    return ops.change_groups(call, uid, gid, "del")


@api("one.user.info", Int("id", -1), Bool("decrypt", False))
def user_info(call: Call, uid: int, decrypt: bool) -> str:
    return with_quotas(ops.user_body(call, uid), "USER", USER_EXTRA)


@api("one.group.info", Int("id", -1), Bool("decrypt", False))
def group_info(call: Call, gid: int, decrypt: bool) -> str:
    return with_quotas(ops.group_body(call, gid), "GROUP", GROUP_EXTRA)


def _pool(call: Call, kind: Kind, root: str, defaults: str) -> str:
    """USER_POOL / GROUP_POOL: each visible object followed by its QUOTAS, then the defaults."""
    rows = visible_rows(call, kind)
    return "".join([f"<{root}>", *(body + pool_quotas(oid) for oid, body in rows),
                    defaults, f"</{root}>"])


@api("one.userpool.info")
def userpool_info(call: Call) -> str:
    return _pool(call, USER, "USER_POOL", default_quotas("DEFAULT_USER_QUOTAS"))


@api("one.grouppool.info")
def grouppool_info(call: Call) -> str:
    return _pool(call, GROUP, "GROUP_POOL", default_quotas("DEFAULT_GROUP_QUOTAS"))


register_update("user", USER)
register_update("group", GROUP)
