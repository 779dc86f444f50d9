"""A VM's disk snapshots: read back as rendered, valid against vm.xsd's SNAPSHOTS, and the
drivers' answers recorded on the marked disk only."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nubo.drivers.tm.script import Line, split_location
from nubo.drivers.tm.transport import TransferError
from nubo.model import disk_snapshots as ds
from nubo.template import parse

names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
snapshot = st.builds(ds.Snapshot, st.integers(0, 99), names, st.integers(0, 2**40),
                     st.integers(0, 2**20), st.booleans())


@given(st.dictionaries(st.integers(0, 20), st.lists(snapshot, max_size=4), max_size=4))
def test_snapshots_read_back_as_rendered(by_disk):
    disks = {d: ds.DiskSnapshots(d, len(snaps), -1, snaps) for d, snaps in by_disk.items()}
    again = ds.parse(ds.render(disks))
    assert again == disks


class FakeVm:
    def __init__(self, template: str, snapshots: str = "") -> None:
        self.template = parse(template)
        self.snapshots = snapshots


def test_answers_change_only_the_marked_disk():
    two = ds.DiskSnapshots(0, 2, -1, [ds.Snapshot(0, "a", 1, 8), ds.Snapshot(1, "b", 2, 8)])
    other = ds.DiskSnapshots(1, 1, 0, [ds.Snapshot(0, "c", 3, 4, True)])
    vm = FakeVm('DISK = [ DISK_ID = 0, DISK_SNAPSHOT_ACTIVE = "YES", DISK_SNAPSHOT_ID = 1 ]\n'
                'DISK = [ DISK_ID = 1 ]', ds.render({0: two, 1: other}))
    ds.snapshot_created(vm)
    disks = ds.parse(vm.snapshots)
    assert (disks[0].current_base, [s.active for s in disks[0].snapshots]) == (1, [False, True])
    assert disks[1] == other
    disk = vm.template.get_vectors("DISK")[0]
    assert disk.get("DISK_SNAPSHOT_ACTIVE") is None and disk.get("DISK_SNAPSHOT_TOTAL_SIZE") == "16"
    for snap_id in (1, 0):
        disk.set("DISK_SNAPSHOT_ACTIVE", "YES")
        disk.set("DISK_SNAPSHOT_ID", str(snap_id))
        ds.snapshot_dropped(vm)
    assert set(ds.parse(vm.snapshots)) == {1}  # disk 0 has none left: no element
    assert disk.get("DISK_SNAPSHOT_TOTAL_SIZE") is None


@given(st.text(max_size=80))
def test_a_script_line_parses_or_says_why(text):
    try:
        line = Line.parse(text)
    except TransferError as e:
        assert "malformed transfer command" in str(e)
        return
    assert line.verb == text.split()[0].upper() and line.tm_mad == text.split()[1]


@given(st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True), st.from_regex(r"(/[a-z0-9.:]{1,6}){1,4}",
                                                                       fullmatch=True))
def test_host_and_path_split_at_the_first_colon(host, path):
    assert split_location(f"{host}:{path}") == (host, path)
    assert split_location(path) == ("", path)
