"""Who performs an operation, on which cloud, through which method."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nubo.core.cloud import Cloud, Session


@dataclass
class Call:
    """What an operation knows about the request it serves.

    ``method`` names the request in messages and hooks (``one.vm.deploy``, or
    ``bootstrap`` when the core acts on its own); ``listings`` is the front's cache of
    rendered pool listings, when it keeps one.
    """

    cloud: Cloud
    session: Session
    method: str
    listings: Any = None

    @property
    def uid(self) -> int:
        return self.session.uid
