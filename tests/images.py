"""Images become READY once their datastore driver made their file: waiting for it."""
from __future__ import annotations

import json
import subprocess

from waits import wait_for

# Image STATE numbers (OpenNebula's Image::ImageState).
READY, USED, DISABLED, LOCKED, ERROR, CLONE, DELETE = 1, 2, 3, 4, 5, 6, 7


def wait_image(one, image_id: int, state: int = READY, timeout: float = 60.0):
    """Wait until the image is in ``state`` (READY by default) and return its info; the
    error shows the last state seen and the image's TEMPLATE/ERROR."""
    seen: list = []

    def probe() -> bool:
        seen[:] = [one.image.info(image_id)]
        return seen[0].STATE == state
    try:
        wait_for(f"image {image_id} in state {state}", probe, timeout)
    except AssertionError:
        last = seen[0] if seen else None
        why = last.TEMPLATE.get("ERROR") if last is not None else None
        raise AssertionError(f"image {image_id} never reached state {state}; last "
                             f"{last.STATE if last else None} ({why})") from None
    return seen[0]


def ready_image(one, template: str, ds_id: int = 1) -> int:
    """Allocate an image and wait until it is READY; its id."""
    image_id = one.image.allocate(template, ds_id)
    wait_image(one, image_id)
    return image_id


def wait_gone(one, image_id: int, timeout: float = 60.0) -> None:
    """Wait until a deleted image has left the pool (its driver removed the file)."""
    ids = lambda: {i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE}  # noqa: E731
    wait_for(f"image {image_id} gone", lambda: image_id not in ids(), timeout)


def assert_image_file(path: str, fmt: str, size_mb: int) -> None:
    """The file is what the image says: qemu-img reads its format and size, and finds it
    consistent."""
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", path],
                                     capture_output=True, text=True, check=True).stdout)
    assert (info["format"], -(-info["virtual-size"] // (1 << 20))) == (fmt, size_mb)
    if fmt != "raw":  # raw has no metadata to check (qemu-img check exits 63)
        subprocess.run(["qemu-img", "check", "-q", path], check=True)
