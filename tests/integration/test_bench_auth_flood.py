"""bench/auth_flood.py at a tiny size: it runs and prints its figures (no timing asserted)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "auth_flood.py"


def test_auth_flood_bench_runs_tiny():
    done = subprocess.run([sys.executable, str(BENCH), "--clients", "2", "--seconds", "1",
                           "--baseline", "0.3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"valid call, during the flood +\d+ calls +median +[\d.]+ ms +p95", done.stdout)
    assert re.search(r'nubo_auth_kdf_runs_total\{hash="user"\} +\d+', done.stdout)
