"""The image manager: an image's driver work, from commit to answer (oned's ImageManager).

An image operation (nubo.core.ops.images) commits the image's new state -- LOCKED while
its file is copied, made or cloned, DELETE while it is removed -- together with the DS
action it now awaits, in the journal of awaited operations (nubo.core.journal, kind
IMAGE). Only then is the action sent to the DS driver of the image's datastore; its
answer is matched by ``seq`` and committed: READY with the SOURCE, FORMAT and SIZE the
driver found, or ERROR with the driver's message in the image's TEMPLATE/ERROR, or the
image gone. A core killed meanwhile sends every journaled action again at its next
start (:meth:`ImageManager.reconcile`): the DS driver writes each image file under a
name fixed by the image and renames it only when complete, so the new attempt replaces
whatever the first left.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from nubo.core import datastore_capacity, journal
from nubo.core.cloud import Cloud
from nubo.core.monitor import probe_figures
from nubo.drivers import DriverRegistry, DriverResult
from nubo.model import image_snapshots, xmlobj
from nubo.model.infra import Datastore
from nubo.model.resources import IMAGE_CLONE, IMAGE_ERROR, IMAGE_READY, IMAGE_USED, Image
from nubo.model.xmlobj import RawXml
from nubo.store import image_vms

log = logging.getLogger(__name__)

#: Actions that make an image's file (answer: SOURCE FORMAT SIZE).
MAKING = frozenset({"CP", "MKFS", "CLONE"})
SNAPSHOT_ACTIONS = frozenset({"SNAP_REVERT", "SNAP_DELETE", "SNAP_FLATTEN"})
#: Seconds a synchronous question to the DS driver (STAT, MONITOR) may take.
ASK_TIMEOUT = 60.0


class DriverUnavailable(RuntimeError):
    """No DS driver answered a synchronous question."""


def action_data(image: Image | None, ds: Datastore) -> str:
    """OpenNebula's DS_DRIVER_ACTION_DATA: the image and its datastore."""
    inner = (xmlobj.render(image, "IMAGE") if image is not None else "")
    return f"<DS_DRIVER_ACTION_DATA>{inner}{xmlobj.render(ds, 'DATASTORE')}</DS_DRIVER_ACTION_DATA>"


class ImageManager:
    """Sends images' DS actions once committed and commits their answers."""

    def __init__(self, cloud: Cloud, registry: DriverRegistry) -> None:
        self.cloud = cloud
        self.registry = registry
        self._answers = ThreadPoolExecutor(2, thread_name_prefix="images")
        self._seq_lock = threading.Lock()
        self._last_seq = 0
        self._closing = False

    def next_seq(self) -> int:
        with self._seq_lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
            return self._last_seq

    def close(self) -> None:
        self._closing = True
        self._answers.shutdown(wait=True)

    # -- questions answered at once (STAT, MONITOR) --------------------------------
    def ask(self, ds: Datastore, action: str, oid: int, payload: str) -> DriverResult:
        """Submit and wait: what an operation asks before it commits anything."""
        done = threading.Event()
        box: list[DriverResult] = []

        def keep(result: DriverResult) -> None:
            box.append(result)
            done.set()
        self.registry.submit_callback(self.registry.ds(ds.ds_mad), action, oid, None,
                                      payload, keep, ASK_TIMEOUT)
        if not done.wait(ASK_TIMEOUT + 5):
            raise DriverUnavailable(f"the datastore driver did not answer {action}")
        return box[0]

    def refresh_capacity(self, ds: Datastore) -> Datastore:
        """MONITOR the datastore now and keep its figures (the datastore as monitored;
        as it was if the driver could not say)."""
        try:
            result = self.ask(ds, "MONITOR", ds.id, xmlobj.render(ds, "DATASTORE"))
        except DriverUnavailable:
            return ds
        figures, why = probe_figures(result)
        numbers = datastore_capacity.read_figures(figures) if figures is not None else None
        if numbers is None:
            log.warning("datastore %d: monitoring failed: %s", ds.id, why or "not numbers")
            return ds
        datastore_capacity.store_figures(self.cloud, ds.id, numbers)
        ds.total_mb, ds.free_mb, ds.used_mb = numbers
        return ds

    # -- awaited actions ----------------------------------------------------------
    def send(self, image_id: int, action: str, seq: int) -> None:
        """Send the committed action the image awaits (under ``seq``)."""
        with self.cloud.db.read() as conn:
            image = self.cloud.pools.images.find(conn, image_id)
            ds = None if image is None else self.cloud.pools.datastores.find(
                conn, image.datastore_id)
        if image is None or ds is None:
            return
        self.registry.submit_callback(
            self.registry.ds(ds.ds_mad), action, image_id, None, action_data(image, ds),
            lambda result: self._on_worker(lambda: self.answered(image_id, action, seq, result)))

    def _on_worker(self, work: Callable[[], None]) -> None:
        def logged() -> None:
            try:
                self.cloud.db.retrying(work, "an image's driver answer")
            except Exception:
                log.exception("recording an image's driver answer failed")
        try:
            self._answers.submit(logged)
        except RuntimeError:  # closing: the journal keeps it for the next start
            pass

    def answered(self, image_id: int, action: str, seq: int, result: DriverResult) -> None:
        """Commit the driver's answer, if it is the one the image still awaits."""
        if result.origin == "shutdown":
            return  # asked again at the next start
        pools = self.cloud.pools
        with self.cloud.db.write() as conn:
            entry = journal.awaited(conn, journal.IMAGE, image_id)
            if entry is None or entry.seq != seq or entry.action != action:
                return
            journal.forget(conn, journal.IMAGE, image_id)
            image = pools.images.find(conn, image_id)
            if image is None:
                return
            if action == "RM":
                _dropped(self.cloud, conn, image, result)
                return
            if action in MAKING:
                _made(conn, pools, image, action, result)
            else:
                _snapshot_done(image, action, result)
            image.modtime = self.cloud.now()
            pools.images.update(conn, image)
        log.info("image %d: %s %s", image_id, action,
                 "done" if result.success else f"failed: {result.info}")

    def reconcile(self) -> int:
        """Send again every image action the journal holds (the core stopped or crashed
        while they ran), each under a new seq so only the new answer counts."""
        with self.cloud.db.write() as conn:
            todo = []
            for image_id, _seq in journal.pending(conn, journal.IMAGE):
                entry = journal.awaited(conn, journal.IMAGE, image_id)
                seq = self.next_seq()
                journal.renumber(conn, journal.IMAGE, image_id, seq)
                todo.append((image_id, entry.action if entry else "", seq))
        for image_id, action, seq in todo:
            log.info("image %d: asking again for %s", image_id, action)
            self.send(image_id, action, seq)
        return len(todo)


def _made(conn, pools, image: Image, action: str, result: DriverResult) -> None:  # noqa: ANN001
    """READY with what the driver made, or ERROR saying why; a clone's source is let go."""
    parts = result.info.split() if result.success else []
    if result.success and len(parts) >= 2:
        image.source, image.format = parts[0], parts[1]
        if len(parts) >= 3 and parts[2].isdigit():
            image.size = int(parts[2])
        image.state = image.prev_state = IMAGE_READY
        image.template.remove("ERROR")
    else:
        why = result.info if not result.success else f"unreadable answer {result.info!r}"
        image.state = image.prev_state = IMAGE_ERROR
        image.template.set("ERROR", f"Error copying image in the datastore: {why}")
    if action == "CLONE" and image.cloning_id >= 0:
        release_clone_source(conn, pools, image)


def release_clone_source(conn, pools, image: Image) -> None:  # noqa: ANN001
    """The source of a finished clone: one clone fewer, and out of CLONE with the last."""
    source = pools.images.find(conn, image.cloning_id)
    image.cloning_id = -1
    if source is None:
        return
    source.cloning_ops = max(0, source.cloning_ops - 1)
    source.clones = [i for i in source.clones if i != image.id]
    if source.cloning_ops == 0 and source.state == IMAGE_CLONE:
        used = image_vms.count(conn, source.id)
        source.state = source.prev_state = IMAGE_USED if used else IMAGE_READY
    pools.images.update(conn, source)


def _snapshot_done(image: Image, action: str, result: DriverResult) -> None:
    """Back to READY; the image's SNAPSHOTS as the driver left them."""
    target = image.target_snapshot
    image.target_snapshot = -1
    image.state = image.prev_state = IMAGE_READY
    if result.success:
        image.snapshots = RawXml(image_snapshots.after(image.snapshots, action, target))
    else:
        image.template.set("ERROR", f"Error on {action} of snapshot {target}: {result.info}")


def _dropped(cloud: Cloud, conn, image: Image, result: DriverResult) -> None:  # noqa: ANN001
    """RM answered: the image leaves its pool and datastore (as oned, even when the driver
    could not remove the file, which is then logged)."""
    if not result.success:
        log.error("image %d: error removing image from datastore (%s); remove %s by hand",
                  image.id, result.info, image.source)
    ds = cloud.pools.datastores.find(conn, image.datastore_id)
    if ds is not None:
        ds.images = [i for i in ds.images if i != image.id]
        cloud.pools.datastores.update(conn, ds)
    cloud.pools.images.delete(conn, image.id)
