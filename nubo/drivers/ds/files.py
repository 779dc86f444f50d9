"""Getting a file into a datastore without ever leaving half of it there.

Every new image file is written to a hidden temporary name beside its final one and
renamed once complete (a rename within a directory is atomic), so a copy that fails,
a download that breaks off or a driver killed mid-copy leaves no image file behind;
the temporary name is fixed for a destination, so the next attempt overwrites it.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import re
import urllib.error
import urllib.request
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nubo.auth.restricted import path_refused

if TYPE_CHECKING:
    from nubo.drivers.ds.stopping import Stop

_URL = re.compile(r"https?://", re.IGNORECASE)
#: Seconds a download may stall before it fails.
URL_TIMEOUT = 60.0
MB = 1024 * 1024
#: Bytes copied between two looks at the copy's stop switch: a download's read, or a
#: local file's sendfile (large: the kernel copies it without Python in the way).
URL_CHUNK = MB
FILE_CHUNK = 64 * MB


class CopyError(RuntimeError):
    """The source could not be read or the copy could not be made; the message says why."""


def is_url(path: str) -> bool:
    return bool(_URL.match(path))


def image_name(ds_id: str, image_id: int, regtime: str) -> str:
    """The image file's name in its datastore: a hash, as OpenNebula's fs driver names
    them, but of the image's identity so that a copy sent again lands on the same name."""
    return hashlib.md5(f"{ds_id}:{image_id}:{regtime}".encode()).hexdigest()


def partial_name(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.part")


@contextmanager
def writing(dst: Path) -> Iterator[Path]:
    """The temporary path to write; renamed to ``dst`` when the block ends without an
    error, removed otherwise."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_name(dst)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def check_allowed(path: str, safe_dirs: str, restricted_dirs: str) -> None:
    """A local PATH only from where the datastore allows (check_restricted of the
    drivers' libfs): the path as given and where its links lead must both pass."""
    if is_url(path):
        return
    restricted = restricted_dirs or "/"  # none said: everything outside SAFE_DIRS
    for candidate in (path, os.path.realpath(path) if path.startswith("/") else path):
        if path_refused(posixpath.normpath(candidate), safe_dirs, restricted):
            raise CopyError(f"Not allowed to copy image file {path}: not within the "
                            f"datastore's SAFE_DIRS ({safe_dirs or 'none'})")


def fetch(src: str, tmp: Path, stop: Stop | None = None) -> None:
    """Copy a local file or download an http(s) URL into ``tmp``, a chunk at a time,
    ``stop`` checked between chunks (a DRIVER_CANCEL)."""
    check = stop.check if stop is not None else (lambda: None)
    if is_url(src):
        try:
            with urllib.request.urlopen(src, timeout=URL_TIMEOUT) as reply, open(tmp, "wb") as out:
                while chunk := reply.read1(URL_CHUNK):  # what has come, not a whole chunk
                    out.write(chunk)
                    check()
                announced = reply.headers.get("Content-Length")
                if announced and announced.isdigit() and out.tell() != int(announced):
                    raise CopyError(f"Error downloading {src}: the connection closed after "
                                    f"{out.tell()} of {announced} bytes")
        except urllib.error.HTTPError as e:
            raise CopyError(f"Error downloading {src}: HTTP Error {e.code}: {e.reason}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or repr(e)
            raise CopyError(f"Error downloading {src}: {reason}") from None
        return
    try:
        _copy_file(src, tmp, check)
    except IsADirectoryError:
        raise CopyError(f"Error copying {src}: it is a directory") from None
    except OSError as e:
        raise CopyError(f"Error copying {src}: {e.strerror or e}") from None


def _copy_file(src: str, dst: Path, check: Callable[[], None]) -> None:
    """shutil.copyfile's in-kernel copy (sendfile), cut in chunks the stop switch can
    end between."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        offset = 0
        while True:
            try:
                sent = os.sendfile(fout.fileno(), fin.fileno(), offset, FILE_CHUNK)
            except OSError:  # no sendfile between these two: the plain way
                fin.seek(offset)
                sent = fout.write(fin.read(FILE_CHUNK))
            if sent == 0:
                return
            offset += sent
            check()


def remote_size_mb(url: str) -> int:
    """The size a URL announces (Content-Length), rounded up to MB; 0 if it does not say."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as reply:
            length = int(reply.headers.get("Content-Length") or 0)
    except urllib.error.HTTPError as e:
        raise CopyError(f"Error reading {url}: HTTP Error {e.code}: {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise CopyError(f"Error reading {url}: {getattr(e, 'reason', e)}") from None
    return -(-length // MB)


def inside(path: str, base: str) -> bool:
    """Is ``path`` a file under directory ``base`` (what RM may remove)?"""
    real, root = os.path.realpath(path), os.path.realpath(base)
    return real.startswith(root.rstrip("/") + "/")
