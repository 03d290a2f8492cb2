"""The static pass's on-disk cache: one JSON entry per source file (its summary), keyed by
the file's path, size and mtime_ns and by a hash of the pass's own source, plus a memo of
whole reports keyed by the files scanned (a re-run of an unchanged tree reads one entry).

Safe by construction: entries are JSON (never pickles); a corrupt, truncated, foreign or
stale entry is a miss; writes go to a temporary file in the same folder, then os.replace,
so readers never see half an entry; entries are opened with O_NOFOLLOW and a cache folder
that is a symlink is not used at all, so a planted link never redirects a read or a write.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

SUBFOLDER = "static"
_FORMAT = 1
_PASS_HASH: str | None = None


def pass_hash() -> str:
    """A hash of the static pass's own source files: an edited pass never reads old entries."""
    global _PASS_HASH
    if _PASS_HASH is None:
        digest = hashlib.sha256(str(_FORMAT).encode())
        here = Path(__file__).parent
        for path in sorted(here.rglob("*.py")):
            digest.update(path.relative_to(here).as_posix().encode())
            digest.update(path.read_bytes())
        _PASS_HASH = digest.hexdigest()[:24]
    return _PASS_HASH


def stamp(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a file (symlinks followed), None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _ignore_all(base: str) -> None:
    """A `.gitignore` of `*` in the cache folder (as the result cache writes, and
    .pytest_cache): a cache is never committed."""
    ignore = os.path.join(base, ".gitignore")
    if os.path.lexists(ignore):
        return
    try:
        fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Created by paraminspect automatically.\n*\n")


class Store:
    """Entries under `folder/static/`; every method is a no-op when the folder is unusable."""

    _written = 0  # temporary files this process created (their names must not repeat)

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder: str | None = None  # where the entries are (None: not usable)
        self.base: str | None = None  # the folder given
        if folder is None:
            return
        base = os.path.abspath(folder)
        target = os.path.join(base, SUBFOLDER)
        try:
            os.makedirs(base, exist_ok=True)
            if os.path.islink(base) or os.path.islink(target):
                return
            os.makedirs(target, exist_ok=True)
            mode = os.lstat(target).st_mode
        except OSError:
            return
        if stat.S_ISDIR(mode):
            self.folder, self.base = target, base
            _ignore_all(base)

    def _path(self, name: str) -> str | None:
        return os.path.join(self.folder, name) if self.folder else None

    def read(self, name: str) -> Any:
        path = self._path(name)
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    def write(self, name: str, value: Any) -> None:
        """`value` as JSON, written to a temporary file of this process (created exclusively,
        never through a link) and renamed in place: readers never see half an entry."""
        path = self._path(name)
        if path is None or self.folder is None:
            return
        try:
            data = json.dumps(value, separators=(",", ":")).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
            return
        Store._written += 1
        tmp = os.path.join(self.folder, f".tmp-{os.getpid()}-{Store._written}-{name}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(tmp, flags, 0o600)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # --- one file's summary ----------------------------------------------------------------

    @staticmethod
    def file_key(path: str, mode: str = "full") -> str:
        digest = hashlib.sha256(f"{mode}:{path}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"f-{digest}.json"

    def summary(self, path: str, file_stamp: tuple[int, int], mode: str = "full") -> dict[str, Any] | None:
        """A file's summary (`mode`: "full", or "headers" for a library file) if cached for
        this very file version and this pass."""
        entry = self.read(self.file_key(path, mode))
        if (
            isinstance(entry, dict)
            and entry.get("pass") == pass_hash()
            and entry.get("path") == path
            and entry.get("stamp") == list(file_stamp)
            and isinstance(entry.get("summary"), dict)
        ):
            return entry["summary"]
        return None

    def put_summary(self, path: str, file_stamp: tuple[int, int], summary: dict[str, Any], mode: str = "full") -> None:
        entry = {"pass": pass_hash(), "path": path, "stamp": list(file_stamp), "summary": summary}
        self.write(self.file_key(path, mode), entry)

    # --- whole reports -------------------------------------------------------------------

    @staticmethod
    def report_key(request: Any) -> str:
        material = json.dumps([pass_hash(), request], sort_keys=True, separators=(",", ":"))
        return "r-" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".json"

    def report(self, request: Any) -> dict[str, Any] | None:
        """A memoized report whose every input file still has the stamp it had."""
        entry = self.read(self.report_key(request))
        if not isinstance(entry, dict) or entry.get("pass") != pass_hash():
            return None
        inputs = entry.get("inputs")
        if not isinstance(inputs, list):
            return None
        for item in inputs:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                return None
            current = stamp(item[0])
            if (list(current) if current else None) != item[1]:
                return None
        report = entry.get("report")
        return report if isinstance(report, dict) else None

    def put_report(self, request: Any, inputs: dict[str, tuple[int, int] | None], report: dict[str, Any]) -> None:
        listed = [[p, list(s) if s else None] for p, s in sorted(inputs.items())]
        self.write(self.report_key(request), {"pass": pass_hash(), "inputs": listed, "report": report})
