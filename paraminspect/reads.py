"""What a model's run read, recorded in the model's process at the moment it was read: the
inputs the result cache (paraminspect.cache) checks before it answers for a later run.

- **Files.** Every file opened for reading (an audit hook on "open": imported modules, a
  JSON config the factory reads, a module's source read from a zip archive) gets its
  fingerprint when it is first opened, not when the run ends: a file edited while the run
  was importing it no longer matches. An imported module's `.pyc` stands for its source
  file. A module imported before the run (the fork server's imports) keeps the fingerprint
  taken when it was imported; one of a zip archive on sys.path is watched as the archive.
- **Folders.** A folder the run's code listed (`os.listdir`, `os.scandir`, `glob`): its
  modification time changes when a file is added, removed or renamed in it.
- **Absent files.** A file the run tried to open that did not exist (a config it falls back
  from), and for a module that could not be imported (`try: import optional`,
  `importlib.util.find_spec`), every path in every folder searched that would have made it
  importable (`optional.py`, `optional/`, `optional.*.so`...): they must still not exist.
  A zip archive and a site-packages folder searched are watched as a whole.
- **Environment variables.** Each name read through `os.environ` / `os.getenv`, with its value
  (or its absence).

Not seen (documented in docs/cache.md): reads by C code (a C extension's `fopen`,
`getenv`), files opened for writing, what subprocesses read, the network, the clock,
random numbers, and files the run did not read this time.

Excluded: the standard library, the libraries whose versions are in the cache key (torch,
timm, ...), and /proc, /sys, /dev. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any

# Libraries whose version is in the cache key: their own files need no fingerprint.
VERSIONED = ("torch", "timm", "transformers", "safetensors", "torchvision", "numpy")
# A file modified less than this long before it was read is hashed too: a later edit within
# the filesystem's timestamp granularity could leave size and mtime unchanged.
RACY_SECONDS = 2.0
HASH_LIMIT = 64 * 1024**2  # a racy file larger than this is not hashed: the run is not cached
NOT_WATCHED = ("/proc/", "/sys/", "/dev/")
# Set by paraminspect in every process it starts (paraminspect.runner.strays): never an input.
IGNORED_ENV = frozenset({"PARAMINSPECT_RUN"})

Fingerprint = list[Any]  # [size, mtime_ns, sha256 or None]


def file_digest(path: str, limit: int | None = HASH_LIMIT) -> str | None:
    """SHA-256 of a regular file; None when it cannot be read (a FIFO, a device, too large)."""
    from paraminspect.atomic import read_bytes

    try:
        return hashlib.sha256(read_bytes(path, limit)).hexdigest()
    except OSError:
        return None


def _racy(mtime: float, now: float) -> bool:
    return mtime >= now - RACY_SECONDS


def file_fingerprint(path: str, now: float | None = None) -> Fingerprint | None:
    """[size, mtime_ns, sha256 when racy] of a regular file; None when it is not one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    digest = None
    if _racy(st.st_mtime, time.time() if now is None else now):
        digest = file_digest(path) or "unreadable"
    return [st.st_size, st.st_mtime_ns, digest]


def file_unchanged(path: str, fingerprint: Fingerprint) -> bool:
    size, mtime_ns, digest = fingerprint
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != size or st.st_mtime_ns != mtime_ns:
        return False
    return digest is None or file_digest(path) == digest


def _listing_digest(path: str) -> str:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return "unreadable"
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def folder_fingerprint(path: str, now: float | None = None) -> Fingerprint:
    """["folder", mtime_ns, sha256 of the sorted names when racy] of a folder (its mtime
    changes when a name in it is added, removed or renamed); ["file", size, mtime_ns, sha256
    or None] of a zip archive on sys.path; ["absent"] when nothing is there."""
    try:
        st = os.stat(path)
    except OSError:
        return ["absent"]
    if stat.S_ISREG(st.st_mode):
        return ["file", *(file_fingerprint(path, now) or [None, None, "unreadable"])]
    if not stat.S_ISDIR(st.st_mode):
        return ["other", st.st_mtime_ns]
    racy = _racy(st.st_mtime, time.time() if now is None else now)
    return ["folder", st.st_mtime_ns, _listing_digest(path) if racy else None]


def folder_unchanged(path: str, fingerprint: Fingerprint) -> bool:
    kind = fingerprint[0] if fingerprint else None
    if kind == "absent":
        return not os.path.lexists(path)
    if kind == "file":
        return len(fingerprint) == 4 and file_unchanged(path, fingerprint[1:])
    try:
        st = os.stat(path)
    except OSError:
        return False
    if kind == "other":
        return len(fingerprint) == 2 and not stat.S_ISDIR(st.st_mode) and st.st_mtime_ns == fingerprint[1]
    if kind != "folder" or len(fingerprint) != 3 or not stat.S_ISDIR(st.st_mode) or st.st_mtime_ns != fingerprint[1]:
        return False
    return fingerprint[2] is None or _listing_digest(path) == fingerprint[2]


# --- which files are watched ----------------------------------------------------------------


def _excluded_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"]}
    for name in VERSIONED:
        module = sys.modules.get(name)
        for folder in getattr(module, "__path__", None) or ():
            roots.add(folder)
    real = {os.path.realpath(r) for r in roots if r}
    return tuple(os.path.join(r, "") for r in {*roots, *real} if r) + NOT_WATCHED


_roots: dict[tuple[int, ...], tuple[str, ...]] = {}


def excluded_roots() -> tuple[str, ...]:
    """_excluded_roots(), computed again only when a versioned library was imported since."""
    versioned = tuple(id(sys.modules.get(name)) for name in VERSIONED)
    try:
        return _roots[versioned]
    except KeyError:
        roots = _roots[versioned] = _excluded_roots()
        return roots


def _archive_of(path: str) -> str | None:
    """The zip archive a module path such as `/x/lib.zip/pkg/mod.py` lies in."""
    head = path
    while True:
        head, tail = os.path.split(head)
        if not tail or not head:
            return None
        if os.path.isfile(head):
            return head


# Per set of excluded roots: a module's __file__ -> its real path when it is a watched
# source, else None. A worker process checks one model after another with the same ~2,700
# modules imported: resolving each again (realpath, isfile) cost ~5 ms a model.
_decided: dict[tuple[str, ...], dict[str, str | None]] = {}


def _watched_file(path: str, excluded: tuple[str, ...]) -> str | None:
    if path.startswith(excluded):
        return None  # most files: decided without resolving links
    real = os.path.realpath(path)
    if real.startswith(excluded):
        return None
    if os.path.isfile(real):
        return real
    return _archive_of(real)  # a module imported from a zip archive: the archive


def imported_sources(modules: Iterable[Any] | None = None) -> list[str]:
    """The source files (or zip archives) of the imported modules whose changes the key does
    not cover: not the standard library, not the versioned libraries."""
    excluded = excluded_roots()
    decided = _decided.setdefault(excluded, {})
    files: set[str] = set()
    for module in list(modules if modules is not None else sys.modules.values()):
        # A plain module: a dict lookup, not getattr's miss for every built-in module; a lazy
        # module or a stand-in may compute its __file__.
        plain = type(module) is ModuleType
        path = module.__dict__.get("__file__") if plain else getattr(module, "__file__", None)
        if not isinstance(path, str) or not path:
            continue
        try:
            real = decided[path]
        except KeyError:
            real = decided[path] = _watched_file(path, excluded)
        if real is not None:
            files.add(real)
    return sorted(files)


# --- the recorder, in a model's process -------------------------------------------------------


class _Task:
    """What one task read."""

    def __init__(self) -> None:
        self.files: dict[str, Fingerprint] = {}
        self.absent: set[str] = set()
        self.folders: dict[str, Fingerprint] = {}
        self.env: dict[str, str | None] = {}
        self.lookups: dict[tuple[str, tuple[str, ...] | None], None] = {}  # (name, where), in order
        self.unstable: str | None = None  # why the run cannot be cached, if it cannot


_first_seen: dict[str, Fingerprint] = {}  # path -> fingerprint when this process first read it
_task: _Task | None = None
_busy = threading.local()
_started = False


def _source_of_bytecode(path: str) -> str | None:
    if not path.endswith(".pyc") or os.path.basename(os.path.dirname(path)) != "__pycache__":
        return None
    try:
        import importlib.util

        return importlib.util.source_from_cache(path)
    except ValueError:
        return None


def _read_only(mode: Any, flags: Any) -> bool:
    if isinstance(flags, int):
        return flags & os.O_ACCMODE == os.O_RDONLY
    return isinstance(mode, str) and not any(c in mode for c in "wax+")


def _on_open(path: Any, mode: Any, flags: Any) -> None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not _read_only(mode, flags):
        return  # a file descriptor, or a file opened for writing
    path = os.path.abspath(path)
    source = _source_of_bytecode(path)
    if source is not None:
        path = source  # a module's cached bytecode stands for its source
    if path.startswith(excluded_roots()):
        return
    now = time.time()
    fingerprint = file_fingerprint(path, now)
    task = _task
    if fingerprint is None:
        if task is not None and source is None and not os.path.lexists(path):
            task.absent.add(path)
        return
    if fingerprint[2] == "unreadable":
        if task is not None:
            task.unstable = f"{path} was modified during the run and is too large to hash"
        return
    _first_seen.setdefault(path, fingerprint)
    if task is None:
        return
    seen = task.files.setdefault(path, fingerprint)
    if seen[:2] != fingerprint[:2]:
        task.unstable = f"{path} changed while the run read it"


def _on_listing(path: Any) -> None:
    task = _task
    if task is None:
        return
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path is None:
        path = "."
    if not isinstance(path, str):
        return  # a file descriptor
    caller = sys._getframe(2).f_code.co_filename  # this <- _audit <- the caller of os.listdir
    if caller.startswith(_IMPORT_MACHINERY) or caller.startswith(_importlib_folder()):
        return  # the import system's own listing (its cache of a sys.path folder): see end_task
    path = os.path.abspath(path)
    if path.startswith(NOT_WATCHED) or path in task.folders:
        return
    task.folders[path] = folder_fingerprint(path)


_IMPORT_MACHINERY = ("<frozen importlib", "<frozen zipimport")


def _importlib_folder() -> str:
    import importlib

    return os.path.join(os.path.dirname(importlib.__file__), "")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        handler, call = _on_open, args[:3]
    elif event in ("os.listdir", "os.scandir"):
        handler, call = _on_listing, args[:1]
    else:
        return
    if getattr(_busy, "on", False):
        return  # our own reads (hashing a racy file)
    _busy.on = True
    try:
        handler(*call)
    except Exception:  # never break the model's own open()
        pass
    finally:
        _busy.on = False


class _ImportLookups:
    """A meta path finder that finds nothing: it notes every module name looked for (and
    where), so that one that was not found can be watched for (importlib.import_module and
    importlib.util.find_spec raise no "import" audit event)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        task = _task
        if task is not None:
            where = tuple(str(p) for p in path) if path is not None else None
            task.lookups[(name, where)] = None
        return None


def _environ_class(base: type) -> type:
    class WatchedEnviron(base):  # type: ignore[misc, valid-type]
        """os.environ, noting each name read (and its value) while a task runs."""

        def __getitem__(self, key: Any) -> Any:
            try:
                value = super().__getitem__(key)
            except KeyError:
                _note_env(key, None)
                raise
            _note_env(key, value)
            return value

    WatchedEnviron.__name__ = WatchedEnviron.__qualname__ = base.__name__
    return WatchedEnviron


def _note_env(key: Any, value: Any) -> None:
    task = _task
    if task is not None and isinstance(key, str) and key not in IGNORED_ENV:
        task.env.setdefault(key, value if isinstance(value, str) else None)


def start_process() -> None:
    """Install the recorder in this process (a model process, the fork server): once, before
    anything is imported that a task's result may depend on."""
    global _started
    if _started:
        return
    _started = True
    sys.addaudithook(_audit)  # cannot be removed: it stays, recording into _first_seen
    sys.meta_path.insert(0, _ImportLookups)  # type: ignore[arg-type]
    try:
        os.environ.__class__ = _environ_class(type(os.environ))
    except TypeError:
        pass  # an os.environ replaced by something else: names read are not seen


def begin_task() -> None:
    """From now on, what is read belongs to a new task."""
    global _task
    _task = _Task()


def end_task(sources: Iterable[str] = ()) -> dict[str, Any] | None:
    """What the task read (plain JSON data, see paraminspect.cache), with `sources` (the
    imported modules' files) fingerprinted as they were when first read; None when the run
    cannot be cached (a file changed while it was read)."""
    global _task
    task, _task = _task, None
    if task is None:
        return None
    now = time.time()
    files = dict(task.files)
    for path in sources:
        if path not in files:
            fingerprint = _first_seen.get(path) or file_fingerprint(path, now)
            if fingerprint is not None:
                files[path] = fingerprint
    folders = dict(task.folders)
    absent, searched = _searched(task.lookups)
    for folder in searched - set(folders):
        folders[folder] = folder_fingerprint(folder, now)
    if any("unreadable" in f for f in (*files.values(), *folders.values())):
        task.unstable = task.unstable or "a watched file could not be read to hash it"
    return {
        "files": sorted([path, *fp] for path, fp in files.items()),
        "folders": sorted([path, *fp] for path, fp in folders.items()),
        "absent": sorted((task.absent | absent) - set(files)),
        "env": sorted([name, value] for name, value in task.env.items()),
        "failed_imports": sorted({name for name, _ in task.lookups if name not in sys.modules}),
        "unstable": task.unstable,
    }


def _import_candidates(name: str, folder: str) -> list[str]:
    """The paths that would make `import name` (its last part) find a module in `folder`."""
    from importlib import machinery

    base = os.path.join(folder, name.rpartition(".")[2])
    suffixes = (*machinery.SOURCE_SUFFIXES, *machinery.BYTECODE_SUFFIXES, *machinery.EXTENSION_SUFFIXES)
    return [base, *(base + suffix for suffix in suffixes)]


def _searched(lookups: Iterable[tuple[str, tuple[str, ...] | None]]) -> tuple[set[str], set[str]]:
    """For the modules looked for and not found: the paths that would have made them found
    (absent then: a module created since is seen), and the folders to watch as a whole (zip
    archives, and site-packages, where an installed package may add an import hook)."""
    absent: set[str] = set()
    folders: set[str] = set()
    for name, where in lookups:
        if name in sys.modules:
            continue
        for entry in where if where is not None else tuple(sys.path):
            if not isinstance(entry, str):
                continue
            entry = os.path.abspath(entry or ".")
            if os.path.join(entry, "").startswith(excluded_roots()):
                continue  # the standard library's folders, /proc...
            if os.path.isfile(entry) or os.path.basename(entry) in ("site-packages", "dist-packages"):
                folders.add(entry)
            elif os.path.isdir(entry):
                absent.update(p for p in _import_candidates(name, entry) if not os.path.lexists(p))
    return absent, folders
