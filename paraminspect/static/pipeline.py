"""`scan(paths)`: the static pass over files and folders, without importing torch or the
files. Files are found as `check PATH` finds them (discover/files.py's skip rules), read
once (never a FIFO, never through a dangling link or a loop), summarized (summary.py, in a
process pool for many files, from the cache when unchanged), joined into a project
(project.py), and every nn.Module class's construction path is followed (flow.py) for
certain PI001-PI004 findings (findings.py).
"""

from __future__ import annotations

import dataclasses
import gc
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paraminspect.static.model import FileFailure, ModuleClass, StaticFinding, StaticReport, Unresolved
from paraminspect.static.store import Store, stamp

if TYPE_CHECKING:
    from paraminspect.static.project import ClassRef, FileEntry, Project

# The parser, the analysis and the project model are imported where they are used: a re-run
# of an unchanged tree is answered from the cache without them.


def read_source(path: str) -> str:
    """A file's text; raises OSError/ValueError with a one-line reason. Opens non-blocking and
    checks that it is a regular file first: a FIFO named *.py never blocks the pass."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise OSError("a dangling symlink") from None
        raise OSError("no such file") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise OSError("a symlink loop") from None
        raise OSError(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError("not a regular file (a FIFO, socket or device?)")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot decode the source: {exc}") from None


def summarize_file(path: str, headers_only: bool = False) -> tuple[dict[str, Any] | None, str]:
    """(summary, "") or (None, why the file cannot be read)."""
    from paraminspect.static import summary as S

    try:
        text = read_source(path)
    except (OSError, ValueError) as exc:
        return None, str(exc)
    try:
        return S.summarize(text, headers_only), ""
    except SyntaxError as exc:
        return None, f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, f"cannot parse: {type(exc).__name__}: {exc}"


def _summarize_many(job: tuple[list[tuple[str, Any]], str | None]) -> list[tuple[str, dict[str, Any] | None, str]]:
    """Summaries of (path, stamp) pairs, each written to the cache (in the worker: the
    writes run in parallel too)."""
    paths, cache = job
    store = Store(cache)
    out = []
    for path, file_stamp in paths:  # (the collector is paused: by scan(), or in the forked worker)
        summary, why = summarize_file(path)
        if summary is not None and file_stamp is not None:
            store.put_summary(path, tuple(file_stamp), summary)
        out.append((path, summary, why))
    return out


def _pool_map(function: Callable[[Any], list[Any]], jobs: list[Any], workers: int) -> list[Any]:
    """function over jobs in `workers` forked processes (a plain fork: the parent imported no
    torch, so a worker starts in milliseconds and inherits what the parent has read)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return [item for batch in pool.map(function, jobs) for item in batch]


def find_files(
    paths: Sequence[str | os.PathLike[str]], root: Path, exclude: Sequence[str]
) -> tuple[list[str], list[FileFailure]]:
    """The .py files under `paths` that `check PATH` would look at (discover.files: the same
    skip rules, below the paths named), in a stable order; a given path that does not exist
    is a failure of its own. Nothing is opened here."""
    from paraminspect.discover.files import find_files as search

    found: dict[str, None] = {}
    failures = []
    for given in paths:
        path = Path(given).expanduser()
        if not os.path.lexists(path):
            failures.append(FileFailure(str(given), "no such file or folder"))
        elif path.is_dir():
            found.update(dict.fromkeys(str(p) for p in search([str(path)], root, exclude).files))
        else:  # a file named: read as it is (a dangling link or a FIFO fails alone, when read)
            found.setdefault(os.path.abspath(path), None)
    return list(found), failures


class _Scan:
    """Reads on demand during the analysis: library files (headers only, cached) and the
    methods that summaries left out."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.inputs: dict[str, tuple[int, int] | None] = {}
        self.lazy_read: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.texts: dict[str, list[str] | None] = {}

    def library_summary(self, path: str) -> dict[str, Any] | None:
        file_stamp = stamp(path)
        self.inputs[path] = file_stamp
        if file_stamp is None:
            return None
        cached = self.store.summary(path, file_stamp, "headers")
        if cached is not None:
            return cached
        summary, _why = summarize_file(path, headers_only=True)
        if summary is not None:
            self.store.put_summary(path, file_stamp, summary, "headers")
        return summary

    def _method(self, cls: ClassRef, name: str) -> tuple[Any, Any]:
        key = (cls.file.path, cls.qualname, name)
        if key not in self.lazy_read:
            found: tuple[Any, Any] = (None, None)
            lines = self._lines(cls.file.path)
            if lines is not None:
                from paraminspect.static.summary import lazy_method

                found = lazy_method(lines, cls.file.summary, cls.info, name)
            self.lazy_read[key] = found
        return self.lazy_read[key]

    def _lines(self, path: str) -> list[str] | None:
        if path not in self.texts:
            try:
                self.texts[path] = read_source(path).splitlines(keepends=True)
            except (OSError, ValueError):
                self.texts[path] = None
        return self.texts[path]

    def lazy(self, cls: ClassRef, name: str) -> list[Any] | None:
        return self._method(cls, name)[0]

    def lazy_params(self, cls: ClassRef) -> list[dict[str, Any]] | None:
        return self._method(cls, "__init__")[1]


# What forked analysis workers read (set by the parent just before it forks them).
_SHARED: dict[str, Any] = {}
# Below these counts, a process pool costs more than it saves. For the analysis that is past
# any real project: transformers' 7,539 classes take ~0.7 s in one process, and a fork pool
# took longer (bench/static_pass.py, cold: 4.8 s against 5.8 s wall): the forked workers touch
# the parent's whole project (copy-on-write faults on every page) and pickle results back.
POOL_MIN_FILES = 48
POOL_MIN_CLASSES = 50_000


def _read_classes(bounds: tuple[int, int]) -> list[tuple[ModuleClass, list[StaticFinding]]]:
    from paraminspect.static.classes import read_class

    project, scan_state, items = _SHARED["project"], _SHARED["scan"], _SHARED["items"]
    read = scan_state.lazy, scan_state.lazy_params
    return [read_class(project, ref, chain, *read) for ref, chain in items[bounds[0] : bounds[1]]]


def _analyse(
    project: Project, entries: list[FileEntry], scan_state: _Scan, workers: int
) -> tuple[list[ModuleClass], list[StaticFinding], list[Unresolved]]:
    from paraminspect.static.project import ClassRef

    items: list[tuple[ClassRef, tuple[str, ...]]] = []
    unresolved = []
    for entry in entries:  # which classes are modules: reads the library headers, once, here
        for info in entry.summary["classes"]:
            ref = ClassRef(entry, info["q"])
            chain = project.module_chain(ref)
            if chain is None:
                base = project.first_unreadable(ref)
                unresolved.append(Unresolved(entry.path, info["line"], info["q"], entry.module, base))
            elif chain is not False:
                items.append((ref, tuple(chain)))  # type: ignore[arg-type]
    _SHARED.update(project=project, scan=scan_state, items=items)
    try:
        if workers > 1 and len(items) >= POOL_MIN_CLASSES:
            step = -(-len(items) // (workers * 4))
            bounds = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
            results = _pool_map(_read_classes, bounds, workers)
        else:
            results = _read_classes((0, len(items)))
    finally:
        _SHARED.clear()
    classes = [record for record, _found in results]
    findings = [f for _record, found in results for f in found]
    return classes, findings, unresolved


def _project(
    files: list[str], summaries: dict[str, dict[str, Any]], scan_state: _Scan
) -> tuple[Project, list[FileEntry]]:
    from paraminspect.static.project import FileEntry, Project, package_location

    entries: list[FileEntry] = []
    for path in files:
        if path in summaries:
            import_root, module = package_location(Path(path))
            is_init = Path(path).name == "__init__.py"
            entries.append(FileEntry(path, module, is_init, summaries[path], scanned=True, root=str(import_root)))
    project = Project(scan_state.library_summary, list(dict.fromkeys(e.root for e in entries)))
    for entry in entries:
        project.add(entry)
    return project, entries


class Reader:
    """The scanned files as a project again (summaries from the cache when it has them), for
    the argument finder: name resolution, classes' fields, files' imports, lazy methods."""

    def __init__(self, files: Sequence[str], cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.scan = _Scan(Store(cache_dir))
        summaries: dict[str, dict[str, Any]] = {}
        for path in files:
            file_stamp = stamp(path)
            cached = self.scan.store.summary(path, file_stamp) if file_stamp is not None else None
            summary = cached if cached is not None else summarize_file(path)[0]
            if summary is not None:
                summaries[path] = summary
        self.project, self.entries = _project(list(files), summaries, self.scan)


def _imported_tops(summaries: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    tops = {
        ref[4:].split(".")[0] for summary in summaries for ref in summary["imports"].values() if ref.startswith("abs:")
    }
    return tuple(sorted(tops))


def _workers(jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def scan(
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: str | os.PathLike[str] | None = None,
    exclude: Sequence[str] = (),
    cache_dir: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
) -> StaticReport:
    """The static pass over `paths` (folders and .py files). `root`: the project's folder (the
    skip rules and `exclude` globs are relative to it; default: the working directory).
    `cache_dir`: where to keep the cache (None: no cache). `jobs`: worker processes (default:
    the CPUs available; used only for many files or classes)."""
    # Summaries, events and states are millions of small containers without cycles: the
    # cyclic collector's passes over them (unpickling the workers' results, above all) cost
    # and find nothing. It is paused for the pass and restored as it was.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _scan(list(paths), root, exclude, cache_dir, jobs)
    finally:
        if collecting:
            gc.enable()


def _scan(
    paths: list[str | os.PathLike[str]],
    root: str | os.PathLike[str] | None,
    exclude: Sequence[str],
    cache_dir: str | os.PathLike[str] | None,
    jobs: int | None,
) -> StaticReport:
    base = Path(root or os.getcwd()).absolute()
    files, failures = find_files(paths, base, exclude)
    store = Store(cache_dir)
    request = {"files": files, "root": str(base), "exclude": list(exclude), "path": sys.path}
    if store.folder is not None:
        memo = store.report(request)
        if memo is not None:
            report = StaticReport.from_rows(memo)
            return dataclasses.replace(report, from_cache=len(files))
    scan_state = _Scan(store)
    summaries: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, Any]] = []
    for path in files:
        file_stamp = stamp(path)
        scan_state.inputs[path] = file_stamp
        cached = store.summary(path, file_stamp) if file_stamp is not None else None
        if cached is not None:
            summaries[path] = cached
        else:
            todo.append((path, file_stamp))
    from_cache = len(summaries)
    workers = _workers(jobs)
    if workers > 1 and len(todo) >= POOL_MIN_FILES:
        by_size = sorted(todo, key=lambda item: -(item[1] or (0, 0))[0])
        batches = [(by_size[i :: workers * 2], store.base) for i in range(workers * 2)]
        results = _pool_map(_summarize_many, [b for b in batches if b[0]], workers)
    else:
        results = _summarize_many((todo, store.base))
    for path, summary, why in results:
        if summary is None:
            failures.append(FileFailure(path, why))
        else:
            summaries[path] = summary
    project, entries = _project(files, summaries, scan_state)
    classes, findings, unresolved = _analyse(project, entries, scan_state, workers)
    report = StaticReport(
        files=tuple(files),
        classes=tuple(classes),
        findings=tuple(findings),
        failures=tuple(sorted(failures, key=lambda f: f.file)),
        unresolved=tuple(unresolved),
        from_cache=from_cache,
        imports=_imported_tops(summaries.values()),
    )
    if store.folder is not None:
        store.put_report(request, scan_state.inputs, report.to_rows())
    return report
