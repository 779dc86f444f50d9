"""Users and groups: the bodies of USER and GROUP, and the quota blocks around them."""
from __future__ import annotations

from dataclasses import dataclass, field

from nubo.model.parts import EMPTY_QUOTAS, default_quotas
from nubo.model.xmlobj import xml_field
from nubo.template import Template


@dataclass
class LoginToken:
    """A login token; only its digest is ever stored or shown."""

    token: str
    expiration_time: int
    egid: int


@dataclass
class User:
    id: int
    gid: int
    groups: list[int]
    gname: str
    name: str
    password: str
    auth_driver: str
    enabled: int
    login_tokens: list[LoginToken] = xml_field("LOGIN_TOKEN", default_factory=list)
    template: Template = field(default_factory=Template)

    TAG = "USER"


@dataclass
class Group:
    id: int
    name: str
    template: Template = field(default_factory=Template)
    users: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)

    TAG = "GROUP"


# Quotas are not part of the stored bodies: one.user.info / one.group.info add
# them inside the object, the pool listings add a QUOTAS element after each.
USER_EXTRA = EMPTY_QUOTAS + default_quotas("DEFAULT_USER_QUOTAS")
GROUP_EXTRA = (EMPTY_QUOTAS + "<VLAN_RULES><ID>-1</ID></VLAN_RULES>"
               + default_quotas("DEFAULT_GROUP_QUOTAS"))


def with_quotas(body: str, tag: str, extra: str) -> str:
    """Insert the quota blocks before the closing tag of a stored body."""
    end = f"</{tag}>"
    return body[: -len(end)] + extra + end


def pool_quotas(oid: int) -> str:
    return f"<QUOTAS><ID>{oid}</ID>{EMPTY_QUOTAS}</QUOTAS>"
