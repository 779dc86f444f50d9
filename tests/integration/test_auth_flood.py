"""Password guessing against a real ``nubo serve``: backed off, cheap for everyone else,
never a lasting lock-out, and an unknown user checked as a known one is (a dummy KDF)."""
from __future__ import annotations

import re
import threading
import urllib.request
import xmlrpc.client

import pytest

from server import NuboServer
from waits import wait_for

AUTH_FAILED = 0x100
CONFIG = ("auth_user_failures = 3\nauth_source_failures = 12\nauth_failure_window = 60\n"
          "auth_backoff = 1\nauth_backoff_max = 2\n")


def call(endpoint: str, session: str) -> list:
    """one.user.info(-1) as ``session``: [True, xml, 0] or [False, message, code, ...]."""
    return xmlrpc.client.ServerProxy(endpoint).one.user.info(session, -1)


def metrics(endpoint: str) -> dict[str, float]:
    base = endpoint.rsplit("/", 1)[0]
    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(nubo_auth_\w+\{[^}]*\}) (\S+)$", text, re.M)}


def backed_off(endpoint: str) -> bool:
    seen = metrics(endpoint)
    return (seen['nubo_auth_backoffs_total{of="user"}'] >= 1 and seen[REFUSED] >= 20
            and seen['nubo_auth_backoffs_total{of="source"}'] >= 1)


KDF_USER = 'nubo_auth_kdf_runs_total{hash="user"}'
KDF_DUMMY = 'nubo_auth_kdf_runs_total{hash="dummy"}'
REFUSED = 'nubo_auth_refused_total{reason="backoff"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = NuboServer(tmp_path_factory.mktemp("flood") / "data", extra_config=CONFIG).start()
    admin = xmlrpc.client.ServerProxy(server.endpoint)
    for name in ("valid", "victim"):
        ok, *_ = admin.one.user.allocate(server.session, name, f"{name}-pw", "core", [])
        assert ok
    yield server
    assert server.stop() == 0


def test_a_flood_of_wrong_passwords_is_backed_off_and_others_go_on(server):
    endpoint = server.endpoint
    assert call(endpoint, "valid:valid-pw")[0]          # verified once, before the flood
    stop = threading.Event()
    answers: list[list] = []

    def guess(n: int) -> None:
        i = 0
        while not stop.is_set():  # half guess the victim's password, half made-up names
            user = "victim" if n % 2 else f"ghost{n}-{i}"
            answers.append(call(endpoint, f"{user}:guess-{n}-{i}"))
            i += 1

    flood = [threading.Thread(target=guess, args=(n,)) for n in range(4)]
    for t in flood:
        t.start()
    try:
        wait_for("the user names and the source backed off", lambda: backed_off(endpoint), 60)
        for _ in range(20):                              # a valid user is served meanwhile
            assert call(endpoint, "valid:valid-pw")[0]
    finally:
        stop.set()
        for t in flood:
            t.join(30)
    assert answers and all(not a[0] and a[2] == AUTH_FAILED for a in answers)
    seen = metrics(endpoint)
    # At least the 20 refused attempts ran no KDF (+2: the valid user's first check, and
    # an attempt the client may have sent twice on a reset connection).
    assert seen[KDF_USER] + seen[KDF_DUMMY] <= len(answers) - 20 + 2
    # The victim is not locked out: once the back-off ends, the right password works.
    wait_for("the victim let in again", lambda: call(endpoint, "victim:victim-pw")[0], 30)
    # Logged once per back-off, never once per attempt, never a password.
    log = (server.data_dir / "nubo.log").read_text()
    backoffs = sum(v for k, v in seen.items() if k.startswith("nubo_auth_backoffs_total"))
    assert log.count("failed password checks") == backoffs
    assert "0x100" not in log and "guess-" not in log


def test_unknown_and_known_users_run_the_same_kdf(server):
    endpoint = server.endpoint
    wait_for("no back-off", lambda: call(endpoint, "valid:valid-pw")[0], 30)
    before = metrics(endpoint)
    unknown = call(endpoint, "nobody-at-all:some-pw")
    after_unknown = metrics(endpoint)
    known = call(endpoint, "valid:wrong-pw")
    after_known = metrics(endpoint)
    assert unknown[1:3] == known[1:3]                    # the same answer
    assert (after_unknown[KDF_DUMMY] - before[KDF_DUMMY],
            after_unknown[KDF_USER] - before[KDF_USER]) == (1, 0)
    assert (after_known[KDF_DUMMY] - after_unknown[KDF_DUMMY],
            after_known[KDF_USER] - after_unknown[KDF_USER]) == (0, 1)
