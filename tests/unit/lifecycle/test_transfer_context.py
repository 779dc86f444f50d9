"""The CONTEXT line of a PROLOG, as OpenNebula's TransferManager writes it, and where its
DISK_ID and files come from."""
from __future__ import annotations

from types import SimpleNamespace

from nubo.core.transfer_payload import context_of
from nubo.lifecycle.transfer import Context, Disk, Location, transfer_script
from nubo.template import parse

HERE = Location("node1", "/srv/ds/0/7", "ssh", 0)
DISK = Disk(0, source="/srv/ds/1/abc", tm_mad="ssh", datastore_id=1)


def test_prolog_ends_with_the_context_line_files_first():
    lines = transfer_script("PROLOG", 7, [DISK], HERE, frontend="fe",
                            context=Context(1, ("/srv/ds/2/f1", "/etc/motd")))
    assert lines == ["CLONE ssh fe:/srv/ds/1/abc node1:/srv/ds/0/7/disk.0 7 1",
                     "CONTEXT ssh /srv/ds/2/f1 /etc/motd node1:/srv/ds/0/7/disk.1 7 0"]
    bare = transfer_script("PROLOG", 7, [], HERE, context=Context(0))
    assert bare == ["CONTEXT ssh node1:/srv/ds/0/7/disk.0 7 0"]


def test_only_prolog_makes_the_context_the_directory_carries_it_afterwards():
    for action in ("PROLOG_MIGRATE", "PROLOG_RESUME", "EPILOG", "EPILOG_STOP"):
        lines = transfer_script(action, 7, [DISK], HERE, HERE, context=Context(1))
        assert not any(line.startswith("CONTEXT") for line in lines), action


def test_the_context_disk_follows_the_disks_unless_its_disk_id_is_set():
    vm = SimpleNamespace(template=parse(
        'DISK = [ IMAGE_ID = 0 ]\nDISK = [ TYPE = "swap", SIZE = 8 ]\n'
        'CONTEXT = [ NETWORK = "YES", FILES_DS = "/srv/ds/2/a /srv/ds/2/b", FILES = "/x" ]'))
    assert context_of(vm) == Context(2, ("/srv/ds/2/a", "/srv/ds/2/b", "/x"))
    vm = SimpleNamespace(template=parse('CONTEXT = [ DISK_ID = "5" ]'))
    assert context_of(vm) == Context(5, ())
    assert context_of(SimpleNamespace(template=parse('DISK = [ IMAGE_ID = 0 ]'))) is None
