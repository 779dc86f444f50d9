"""Run work on many threads released at the same moment, for races between clients or
core processes; the first failure is raised in the caller."""
from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(works: list[Callable[[], None]], timeout: float = 300) -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(len(works))

    def run(work: Callable[[], None]) -> None:
        start.wait()
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - raised by the caller's thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if failures:
        raise failures[0]
