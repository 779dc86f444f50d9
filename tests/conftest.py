"""Shared fixtures: a real ``nubo serve`` per database backend, and pyone clients for it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dbs import BACKENDS, create_database, drop_database  # noqa: E402
from server import NuboServer  # noqa: E402

KVM_DIR = Path(__file__).resolve().parent / "kvm"
XSD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "opennebula-xsd"


@pytest.fixture(scope="session", params=BACKENDS)
def nubo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A running nubo on a fresh database of each backend."""
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"nubo-{backend}")
    url = create_database(backend, tmp)
    server = NuboServer(tmp / "data", database_url=url).start()
    server.backend = backend  # type: ignore[attr-defined]
    yield server
    code = server.stop()
    drop_database(backend, url)
    assert code == 0, "nubo serve did not stop cleanly on SIGTERM:\n" + "".join(server.log_lines[-30:])


@pytest.fixture
def one(nubo: NuboServer):
    """A pyone client logged in as oneadmin."""
    import pyone
    return pyone.OneServer(nubo.endpoint, session=nubo.session)


@pytest.fixture
def client_for(nubo: NuboServer):
    """Make a pyone client for any user:secret."""
    import pyone

    def make(session: str):
        return pyone.OneServer(nubo.endpoint, session=session)
    return make


@pytest.fixture
def shared_networks(nubo: NuboServer) -> dict[str, int]:
    """Networks "public" and "private" of oneadmin that every user may USE (created once
    per server), for templates whose NICs name them with NETWORK_UNAME = "oneadmin"."""
    import pyone
    one = pyone.OneServer(nubo.endpoint, session=nubo.session)
    found = {n.NAME: n.ID for n in one.vnpool.info(-2, -1, -1).VNET}
    for i, name in enumerate(("public", "private")):
        if name not in found:
            found[name] = one.vn.allocate(
                f'NAME = "{name}"\nBRIDGE = "br{i}"\nVN_MAD = "bridge"\n'
                f'AR = [ TYPE = "IP4", IP = "198.51.100.{i * 100 + 1}", SIZE = "99" ]', -1)
            one.vn.chmod(found[name], 1, 1, 0, 1, 0, 0, 1, 0, 0)
    return found


@pytest.fixture
def plain_user(one, client_for):
    """A fresh user of the "users" group (outside oneadmin's): (uid, pyone client)."""
    import uuid
    name = f"plain-{uuid.uuid4().hex[:8]}"
    uid = one.user.allocate(name, "pw", "", [])
    return uid, client_for(f"{name}:pw")


#: The real-guest tests (tests/kvm) run as this many groups, each on one worker, in
#: turn: no more guests boot at once than before, however many workers there are.
KVM_GROUPS = 2


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a worker per core, plus one per group of real-guest tests. Those
    wait for guests far more than they compute; on workers of their own they leave
    every core to the rest of the suite (on 2 cores: 4 workers, not 2 half idle)."""
    wanted = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if wanted:
        return int(wanted)
    return (os.cpu_count() or 1) + KVM_GROUPS


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would deal tests one by one
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under ``--dist loadgroup`` (pyproject.toml): whole files and groups (scheduling.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from scheduling import FilesAndGroups
    return FilesAndGroups(config, log)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the marks
def pytest_collection_modifyitems(config, items):
    """The tests that run real guests and hosts (tests/kvm) go first: they take the
    longest, and collected last they ran alone on one worker while the other idled.
    Their files are dealt in turn to KVM_GROUPS groups (scheduling.py), so those
    tests run on that many workers and the others on the rest: the two long e2e
    files, adjacent by name, land in different groups."""
    items.sort(key=lambda item: 0 if KVM_DIR in item.path.parents else 1)
    files = sorted({item.path for item in items if KVM_DIR in item.path.parents})
    group = {path: f"kvm-{i % KVM_GROUPS}" for i, path in enumerate(files)}
    for item in items:
        if item.path in group:
            item.add_marker(pytest.mark.xdist_group(group[item.path]))
