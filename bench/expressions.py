"""Expression benchmark: the CPU time the scheduler spends on SCHED_REQUIREMENTS/SCHED_RANK.

Parses --exprs distinct requirements (5 clauses, parentheses and ``!``) and evaluates
each over --hosts host records as one bit mask (nubo.expr.Table), then scores 20
ranks on every host; best of --runs, in CPU seconds (steady on a shared machine).
Then the shapes of issue 9's hostile review: a 4,000-term rank, 500 ``!`` and the
deepest nesting allowed, each parsed and evaluated.

    .venv/bin/python bench/expressions.py
"""
from __future__ import annotations

import argparse
import random
import time

from nubo.expr import Table, evaluate, lexer, rank, requirements

MAX_DEPTH = getattr(lexer, "MAX_DEPTH", 100)  # (older nubo, for a before/after run: none)


def records(n: int, rnd: random.Random) -> list[dict[str, tuple[str, ...]]]:
    return [{"ZONE": (f"z{i % 4}",), "RACK": (str(i % 20),), "CPU_MHZ": (str(2000 + i % 5 * 200),),
             "TIER": (rnd.choice(["gold", "silver"]),), "FREE_CPU": (str(i),),
             "RUNNING_VMS": (str(i % 7),)} for i in range(n)]


def cpu_ms(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        evaluate._REQ_CACHE.clear()
        evaluate._RANK_CACHE.clear()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=2500)
    ap.add_argument("--exprs", type=int, default=300)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(2)
    recs = records(args.hosts, rnd)
    reqs = [f'ZONE = "z{rnd.randrange(4)}" & CPU_MHZ > {rnd.choice([1800, 2200, 2600])} & '
            f'(TIER = gold | RACK < {rnd.randrange(20)}) & !(RACK = {rnd.randrange(20)}) & '
            f'RACK != {i}' for i in range(args.exprs)]
    ranks = [f"FREE_CPU / 100 - RUNNING_VMS * {i} + 3" for i in range(20)]
    table = Table(recs)

    def masks() -> None:
        for text in reqs:
            requirements(text).mask(table)

    def scores() -> None:
        for text in ranks:
            compiled = rank(text)
            for rec in recs:
                compiled.score(rec)
    print(f"requirements: {args.exprs} parsed and masked over {args.hosts} hosts: "
          f"{cpu_ms(masks, args.runs):.1f} ms CPU")
    print(f"ranks: 20 x {args.hosts} scores: {cpu_ms(scores, args.runs):.1f} ms CPU")
    hostile = {"4,000-term rank": lambda: rank("+".join(["1"] * 4000)).score(recs[0]),
               "500 '!'": lambda: requirements("!" * 500 + "RACK = 1").mask(table),
               f"{MAX_DEPTH} levels of parentheses": lambda: requirements(
                   "(" * MAX_DEPTH + "RACK = 1 | TIER = gold" + ")" * MAX_DEPTH).mask(table)}
    for name, fn in hostile.items():
        try:
            print(f"{name}: {cpu_ms(fn, args.runs):.1f} ms CPU")
        except RecursionError:
            print(f"{name}: RecursionError")


if __name__ == "__main__":
    main()
