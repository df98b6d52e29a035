"""Atomic file writes: write a temporary file beside the target, then rename it over the target, so a reader
(or a resumed run after kill -9) never sees half a file. Every writer of results goes through here.

Also: :func:`check_out_dir` (the up-front check of a command's output folder), :class:`WriteError` (a full
disk, a file size limit or a read-only folder met while writing, naming the final file; the CLI prints it as
one line) and the output hashes that a manifest records (:func:`hash_outputs`, :func:`check_outputs`,
:func:`verify_folder`), so that a resumed run or a report can tell a result that was edited, truncated or
deleted after it was written."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from alpha_as.errors import InputError

DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
"""A write failed for want of room: disk full, file size limit (``ulimit -f``), quota."""
WRITE_ERRNOS = DISK_ERRNOS | {errno.EACCES, errno.EROFS, errno.EPERM}
"""The errors of a write that :func:`atomic_path` reports as a :class:`WriteError` naming the final file."""
MANIFEST = "manifest.json"


class WriteError(OSError):
    """An ``OSError`` met while writing ``filename`` (the final name, not the temp file beside it); the temp file
    is removed, the final file (if any) is the previous complete one."""


def is_write_error(e: BaseException) -> bool:
    """A :class:`WriteError`, or an ``OSError`` of a full disk / file size limit / quota from any writer."""
    return isinstance(e, WriteError) or (isinstance(e, OSError) and e.errno in DISK_ERRNOS)


def write_error_line(e: OSError) -> str:
    """One line for a failed write: ``cannot write FILE: File too large (disk full or file size limit); results
    written so far are kept``."""
    what = os.strerror(e.errno) if e.errno else str(e)
    hint = {errno.EFBIG: " (disk full or file size limit)", errno.ENOSPC: " (disk full)",
            errno.EDQUOT: " (disk quota)"}.get(e.errno or 0, "")
    where = f" {e.filename}" if e.filename else ""
    return f"cannot write{where}: {what}{hint}; results written so far are kept"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on failure removed. A
    full disk, a file size limit or a read-only folder is raised as a :class:`WriteError` naming ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if isinstance(e, WriteError) or e.errno not in WRITE_ERRNOS:
            raise
        raise WriteError(e.errno, os.strerror(e.errno), str(path)) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text_atomic(text: str, path: Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_bytes_atomic(data: bytes, path: Path, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; ``fsync`` flushes it to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return path


def check_out_dir(path: str | Path, what: str = "--out") -> Path:
    """Create the output folder ``path`` (and its parents) or raise one line: ``--out X: is a file``, ``--out X:
    lies under the file F``, ``--out X: is not writable (Permission denied)``. Call it before any work."""
    path = Path(path)
    label = f"{what} {path}"
    for q in (path, *path.parents):
        if q.is_dir():
            break
        if q.exists() or q.is_symlink():
            if q == path:
                raise InputError(f"{label}: is a file" if q.is_file() else f"{label}: is not a folder")
            raise InputError(f"{label}: lies under the file {q}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".alpha-as-write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{label}: is not writable ({os.strerror(e.errno) if e.errno else e})") from None
    return path


# ------------------------------------------------------------------------------------------ output hashes


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_outputs(folder: str | Path, names: Iterable[str] | None = None) -> dict[str, str]:
    """{file name: sha256} of ``names`` in ``folder`` (default: every file but the manifest), sorted by name."""
    folder = Path(folder)
    if names is None:
        names = [p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST]
    return {n: sha256_file(folder / n) for n in sorted(names)}


def check_outputs(folder: str | Path, recorded: dict) -> str:
    """"" when every recorded file is there with its recorded hash, else why not (``metrics.json changed since
    it was written``, ``fills.parquet is missing``)."""
    folder = Path(folder)
    for name, digest in sorted(recorded.items()):
        f = folder / name
        if not f.is_file():
            return f"{name} is missing"
        if sha256_file(f) != digest:
            return f"{name} changed since it was written"
    return ""


def verify_folder(folder: str | Path) -> str:
    """Check a results folder against its ``manifest.json``'s ``outputs`` hashes: "" when they match or when the
    folder has no manifest or a manifest written before the hashes were recorded; else why not."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return ""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{MANIFEST} is unreadable"
    outputs = doc.get("outputs") if isinstance(doc, dict) else None
    return check_outputs(folder, outputs) if isinstance(outputs, dict) else ""
