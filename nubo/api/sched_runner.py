"""Running a due scheduled action: the core's (nubo.core.ops.vm_sched), through the
operation the VM's owner would call; the timer (nubo.core.sched_timer) is handed
``run`` as its ``run`` callable."""
from __future__ import annotations

from nubo.core.ops.vm_sched import owner_session
from nubo.core.ops.vm_sched import run_sched_action as run

__all__ = ["owner_session", "run"]
