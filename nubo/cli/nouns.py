"""Every noun the CLI has, in the order ``nubo --help`` lists them, and the one* commands."""
from __future__ import annotations

from collections.abc import Callable

from nubo.cli import (acl, cluster, datastore, group, hook, host, image, template, user, vm,
                      vmgroup, vnet)
from nubo.cli.verbs import Noun

NOUNS: list[Noun] = [vm.NOUN, host.NOUN, cluster.NOUN, datastore.NOUN, image.NOUN, vnet.NOUN,
                     template.NOUN, user.NOUN, group.NOUN, acl.NOUN, hook.NOUN, vmgroup.NOUN]


def by_classic(name: str) -> Noun:
    for noun in NOUNS:
        if noun.classic == name:
            return noun
    raise SystemExit(f"{name}: not one of nubo's OpenNebula commands "
                     f"({', '.join(n.classic for n in NOUNS if n.classic)})")


def _entry(name: str) -> Callable[[], int]:
    def entry() -> int:
        from nubo.cli.main import classic
        return classic(None, name)
    entry.__name__ = name
    return entry


# Console scripts (pyproject.toml [project.scripts]): onevm = "nubo.cli.nouns:onevm", ...
onevm, onehost, onecluster, onedatastore, oneimage, onevnet, onetemplate, oneuser, onegroup, \
    oneacl, onehook, onevmgroup = (_entry(n.classic) for n in NOUNS)
