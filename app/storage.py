"""Disk full and read-only data, named as such: what a failed write means and where.

A write that fails because the disk is full, the file system is read-only or the file cannot be
opened (SQLite's SQLITE_FULL, SQLITE_READONLY, SQLITE_CANTOPEN; PostgreSQL's disk_full and
read_only_sql_transaction; OSError ENOSPC, EDQUOT, EROFS, EACCES, EPERM) becomes a
`StorageProblem`: its kind, the path of the data it concerns (a folder or a file of the data
folder, never a secret) and what the operator should do. `StorageUnavailable` is the error a
client gets for it: 507 Insufficient Storage when the disk is full, 503 otherwise, with that
message. `probe_folder` writes a small file into a folder to tell whether data can be written
there now (what /readyz and the start-up check run).

A `StorageWatch` remembers the current problem of one part (the database, the index folder):
the problem is logged once when it appears, with its cause, and once when it goes away.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.errors import AppError

log = logging.getLogger(__name__)

Kind = Literal["disk_full", "read_only", "cannot_open"]

_SQLITE_KINDS: dict[int, Kind] = {
    sqlite3.SQLITE_FULL: "disk_full",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_CANTOPEN: "cannot_open",
}
_POSTGRES_KINDS: dict[str, Kind] = {"53100": "disk_full", "25006": "read_only"}
_OS_KINDS: dict[int, Kind] = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EFBIG: "disk_full",  # a file-size limit: no more room for this file
    errno.EROFS: "read_only",
    errno.EACCES: "read_only",
    errno.EPERM: "read_only",
}
_WHAT_TO_DO: dict[Kind, str] = {
    "disk_full": "free space on that disk (or give it more), then retry",
    "read_only": "make it writable for the service's user (or mount it read-write), then retry",
    "cannot_open": (
        "check that the folder exists and is writable for the service's user, "
        "or set SWITCHBOARD_DATA_DIR / SWITCHBOARD_DATABASE_URL to one that is"
    ),
}
_DESCRIBED: dict[Kind, str] = {
    "disk_full": "the disk holding {path} is full",
    "read_only": "{path} is read-only",
    "cannot_open": "{path} cannot be opened",
}
PROBE_FILE = ".switchboard-write-probe"
PROBE_BYTES = 4096


@dataclass(frozen=True)
class StorageProblem:
    """Data cannot be written: `kind`, at `path`, because of `cause` (the error's own text)."""

    kind: Kind
    path: str
    cause: str

    @property
    def message(self) -> str:
        """What happened and what to do, for a client, a log line or a start-up failure."""
        return f"{_DESCRIBED[self.kind].format(path=self.path)}: {_WHAT_TO_DO[self.kind]}"

    def as_json(self) -> dict[str, str]:
        """The problem as /readyz shows it."""
        return {"problem": self.kind, "path": self.path, "message": self.message}


class StorageUnavailable(AppError):
    """A write failed for lack of storage (507) or because the data is read-only (503)."""

    status_code = 503
    code = "storage_unavailable"

    def __init__(self, problem: StorageProblem) -> None:
        super().__init__(
            problem.message, headers={"Retry-After": "30"}, problem=problem.kind, path=problem.path
        )
        self.problem = problem
        if problem.kind == "disk_full":
            self.status_code = 507
            self.code = "insufficient_storage"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def classify(exc: BaseException, *, path: Path | str) -> StorageProblem | None:
    """The storage problem `exc` (or what it wraps) reports, about `path`; None for any other
    failure (a busy database, a lost connection, a bug)."""
    for error in _chain(exc):
        kind: Kind | None = None
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            kind = _SQLITE_KINDS.get(code & 0xFF) if isinstance(code, int) else None
            if kind is None and "database or disk is full" in str(error):
                kind = "disk_full"
        elif isinstance(error, OSError) and error.errno is not None:
            kind = _OS_KINDS.get(error.errno)
            if kind is not None and error.filename:
                path = error.filename
        else:
            state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
            kind = _POSTGRES_KINDS.get(state) if isinstance(state, str) else None
        if kind is not None:
            return StorageProblem(kind, str(path), f"{type(error).__name__}: {error}")
    return None


def probe_folder(folder: Path) -> StorageProblem | None:
    """Write, flush and remove a small file in `folder` (creating the folder if needed): the
    problem that stops it, or None when data can be written there now."""
    # One name per process and thread: probes of several processes sharing a folder never
    # remove each other's file.
    probe = folder / f"{PROBE_FILE}-{os.getpid()}-{threading.get_ident()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as out:
            out.write(b"\0" * PROBE_BYTES)
            out.flush()
            os.fsync(out.fileno())
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
        problem = classify(exc, path=folder)
        if problem is None:
            problem = StorageProblem("cannot_open", str(folder), f"{type(exc).__name__}: {exc}")
        return StorageProblem(problem.kind, str(folder), problem.cause)
    return None


class StorageWatch:
    """The current storage problem of one part of the service, logged when it appears and when
    it goes away (safe from any thread)."""

    def __init__(self, part: str) -> None:
        self.part = part
        self._lock = threading.Lock()
        self.problem: StorageProblem | None = None

    def failed(self, problem: StorageProblem) -> None:
        """A write of this part failed with `problem`."""
        with self._lock:
            known = self.problem is not None and self.problem.kind == problem.kind
            self.problem = problem
        if not known:
            log.error("%s cannot be written: %s (%s)", self.part, problem.message, problem.cause)

    def succeeded(self) -> None:
        """A write of this part went through: any problem is over."""
        with self._lock:
            was, self.problem = self.problem, None
        if was is not None:
            log.warning("%s can be written again (%s)", self.part, was.path)
