"""Password flood benchmark: a valid user's call latency while clients guess passwords.

Starts ``nubo serve`` (SQLite, the production argon2id cost), creates a valid user
and a victim, verifies the valid user once, then measures one.user.info as the
valid user from one closed-loop client: first alone, then while ``--clients``
keep-alive clients send wrong passwords as fast as they are answered (a third
each: the valid user's own name, the victim's, made-up names). Prints the valid
call's median and p95 in both phases, the flood's attempts per second, the core's
RSS, and, from /metrics, its KDF runs and refusals.

    .venv/bin/python bench/auth_flood.py                       # 24 guessing clients, 30 s
    .venv/bin/python bench/auth_flood.py --clients 32 --seconds 60
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control_plane import Client, p95, rss_mb  # noqa: E402
from server import NuboServer  # noqa: E402


def body(session: str) -> bytes:
    return xmlrpc.client.dumps((session, -1), "one.user.info").encode()


def valid_calls(endpoint: str, session: str, seconds: float) -> list[float]:
    """Latencies of one client calling as the valid user for ``seconds``."""
    client, request, out = Client(endpoint), body(session), []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        if not client.call(request):
            raise SystemExit("the valid user's call failed")
        out.append(time.perf_counter() - start)
    return out


def guess(endpoint: str, names: list[str], stop: threading.Event, count: list[int]) -> None:
    client, i = Client(endpoint), 0
    while not stop.is_set():
        name = names[i % len(names)]
        if client.call(body(f"{name.format(i=i)}:wrong-{i}")):
            raise SystemExit("a wrong password was accepted")
        count.append(1)
        i += 1


def auth_metrics(endpoint: str) -> dict[str, float]:
    base = endpoint.rsplit("/", 1)[0]
    text = urllib.request.urlopen(f"{base}/metrics", timeout=30).read().decode()
    return {m[1]: float(m[2]) for m in re.finditer(r"^(nubo_auth_\S+) (\S+)$", text, re.M)}


def show(label: str, values: list[float]) -> None:
    print(f"  {label:28} {len(values):7d} calls   median {statistics.median(values) * 1000:8.1f} ms"
          f"   p95 {p95(values) * 1000:8.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=24, help="guessing clients")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the flood")
    ap.add_argument("--baseline", type=float, default=5.0, help="seconds measured alone")
    ap.add_argument("--config", default="", help="extra nubo.toml lines (e.g. auth_ keys)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = NuboServer(Path(tmp) / "data", extra_config=args.config).start()
        try:
            admin = xmlrpc.client.ServerProxy(server.endpoint)
            for name in ("valid", "victim"):
                admin.one.user.allocate(server.session, name, f"{name}-pw", "core", [])
            session = "valid:valid-pw"
            valid_calls(server.endpoint, session, 0.2)           # verified once
            print(f"nubo {server.endpoint}; {args.clients} guessing clients")
            show("valid call, alone", valid_calls(server.endpoint, session, args.baseline))
            rss_before, before = rss_mb(server.proc.pid), auth_metrics(server.endpoint)
            stop, count = threading.Event(), []
            names = ["valid", "victim", "ghost-{i}"]
            flood = [threading.Thread(target=guess, daemon=True,
                                      args=(server.endpoint, names[n % 3:] + names[:n % 3],
                                            stop, count))
                     for n in range(args.clients)]
            for t in flood:
                t.start()
            start = time.monotonic()
            during = valid_calls(server.endpoint, session, args.seconds)
            elapsed = time.monotonic() - start
            rss_during = rss_mb(server.proc.pid)
            stop.set()
            for t in flood:
                t.join(60)
            show("valid call, during the flood", during)
            after = auth_metrics(server.endpoint)
            print(f"  flood: {len(count) / elapsed:.0f} wrong passwords/s answered; core RSS "
                  f"{rss_before:.0f} MB before, {rss_during:.0f} MB during")
            for key in sorted(after):
                print(f"  {key:48} {after[key] - before.get(key, 0):8.0f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
