"""Every noun the CLI has, in the order ``nubo --help`` lists them, and the one* commands.

A noun's module is imported only when the command uses it, so ``nubo host list``
does not pay for the VM verbs (start-up is most of a command's time).
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from nubo.cli.verbs import Noun


@dataclass(frozen=True)
class Entry:
    name: str
    help: str
    classic: str  # OpenNebula's command for the family

    def load(self) -> Noun:
        noun = importlib.import_module(f"nubo.cli.{self.name}_verbs").NOUN
        assert noun.name == self.name, f"nubo.cli.{self.name}_verbs declares {noun.name}"
        return dataclasses.replace(noun, help=self.help, classic=self.classic)


REGISTRY: tuple[Entry, ...] = (
    Entry("vm", "virtual machines", "onevm"),
    Entry("host", "hosts (hypervisors)", "onehost"),
    Entry("cluster", "clusters", "onecluster"),
    Entry("datastore", "datastores", "onedatastore"),
    Entry("image", "disk images", "oneimage"),
    Entry("vnet", "virtual networks", "onevnet"),
    Entry("template", "VM templates", "onetemplate"),
    Entry("user", "users", "oneuser"),
    Entry("group", "groups", "onegroup"),
    Entry("acl", "ACL rules", "oneacl"),
    Entry("hook", "hooks", "onehook"),
    Entry("vmgroup", "VM groups", "onevmgroup"),
    Entry("vntemplate", "virtual network templates", "onevntemplate"),
    Entry("secgroup", "security groups", "onesecgroup"),
)


def entry(name: str) -> Entry | None:
    return next((e for e in REGISTRY if e.name == name), None)


def all_nouns() -> list[Noun]:
    return [e.load() for e in REGISTRY]


def by_classic(name: str) -> Noun:
    for e in REGISTRY:
        if e.classic == name:
            return e.load()
    raise SystemExit(f"{name}: not one of nubo's OpenNebula commands "
                     f"({', '.join(e.classic for e in REGISTRY)})")


def _entry_point(name: str) -> Callable[[], int]:
    def run() -> int:
        from nubo.cli.main import classic
        return classic(None, name)
    run.__name__ = name
    return run


# Console scripts (pyproject.toml [project.scripts]): onevm = "nubo.cli.nouns:onevm", ...
onevm, onehost, onecluster, onedatastore, oneimage, onevnet, onetemplate, oneuser, onegroup, \
    oneacl, onehook, onevmgroup, onevntemplate, onesecgroup = (_entry_point(e.classic)
                                                               for e in REGISTRY)
