"""The core's composition: the cloud reads its managers from the Core that built it."""
from __future__ import annotations

from pathlib import Path

from nubo.config import Config
from nubo.core.cloud import Cloud
from nubo.core.composition import Core
from nubo.hooks import events
from nubo.store.db import Database


def test_a_bare_cloud_has_no_manager(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        cloud = Cloud(db, Config(data_dir=tmp_path))
        assert (cloud.lifecycle, cloud.monitor, cloud.hooks, cloud.sched_timer) == (
            None, None, None, None)
    finally:
        db.close()


def test_the_cloud_reads_the_managers_of_its_core(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.migrate()
    core = Core(Config(data_dir=tmp_path, host_monitoring_interval=5), db,
                run_scheduled=lambda cloud, vm, action: None)
    try:
        cloud = core.cloud
        assert cloud.lifecycle is core.lifecycle and cloud.lifecycle.cloud is cloud
        assert cloud.hooks is core.hooks and cloud.sched_timer is core.sched_timer
        assert events._managers[db.engine]() is core.hooks  # state hooks watch its commits
        # The monitor is lent only once it runs: a host added before is probed at its
        # first round, not by a monitor whose drivers are not started yet.
        assert cloud.monitor is None
    finally:
        core.lifecycle.close()
        db.close()


def test_no_timer_without_a_way_to_run_actions(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        assert Core(Config(data_dir=tmp_path), db).cloud.sched_timer is None
    finally:
        db.close()
