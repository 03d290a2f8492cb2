"""`scan(paths)`: the static pass over files and folders, without importing torch or the
files. Files are found as `check PATH` finds them (discover/files.py's skip rules), read
once (never a FIFO, never through a dangling link or a loop), summarized (summary.py, in a
process pool for many files, from the cache when unchanged), joined into a project
(project.py), and every nn.Module class's construction path is followed (flow.py) for
certain PI001-PI004 findings (findings.py).
"""

from __future__ import annotations

import gc
import io
import os
import stat
import sys
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from paraminspect.static import summary as S
from paraminspect.static.findings import class_findings
from paraminspect.static.flow import construction
from paraminspect.static.model import FileFailure, InitParam, ModuleClass, StaticReport, Unresolved
from paraminspect.static.project import ClassRef, FileEntry, Project, TorchClass, package_location
from paraminspect.static.store import Store, stamp

# Below this many files to parse, a process pool costs more than it saves.
POOL_MIN_FILES = 48


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
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot decode the source: {exc}") from None


def summarize_file(path: str) -> tuple[dict[str, Any] | None, str]:
    """(summary, "") or (None, why the file cannot be read)."""
    try:
        text = read_source(path)
    except (OSError, ValueError) as exc:
        return None, str(exc)
    try:
        return S.summarize(text), ""
    except SyntaxError as exc:
        return None, f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, f"cannot parse: {type(exc).__name__}: {exc}"


def _summarize_many(paths: list[str]) -> list[tuple[str, dict[str, Any] | None, str]]:
    gc.disable()  # ast trees hold no cycles: the collector's passes over them cost, find nothing
    try:
        return [(p, *summarize_file(p)) for p in paths]
    finally:
        gc.enable()


def _parallel(paths: list[str], jobs: int) -> list[tuple[str, dict[str, Any] | None, str]]:
    """Summaries from `jobs` forked workers (a plain fork: the parent imported no torch, so a
    worker starts in a few milliseconds); the biggest files first, dealt round-robin."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    sized = sorted(paths, key=lambda p: -(stamp(p) or (0, 0))[0])
    batches = [sized[i :: jobs * 2] for i in range(jobs * 2)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        results = list(pool.map(_summarize_many, [b for b in batches if b]))
    return [r for batch in results for r in batch]


def find_files(
    paths: Sequence[str | os.PathLike[str]], root: Path, exclude: Sequence[str]
) -> tuple[list[str], list[FileFailure]]:
    """The .py files under `paths` that `check PATH` would look at (same skip rules), in a
    stable order; a given path that does not exist is a failure of its own."""
    from paraminspect.discover.files import skip_reason

    found: dict[str, None] = {}
    failures = []
    for given in paths:
        path = Path(given).expanduser().absolute()
        if path.is_dir():
            for here, dirs, names in os.walk(path):
                here_path = Path(here)
                dirs[:] = sorted(d for d in dirs if skip_reason(here_path / d, root, exclude) is None)
                for name in sorted(names):
                    if name.endswith(".py") and skip_reason(here_path / name, root, exclude) is None:
                        found.setdefault(str(here_path / name), None)
        elif path.suffix == ".py" or os.path.lexists(path):
            found.setdefault(str(path), None)
        else:
            failures.append(FileFailure(str(given), "no such file or folder"))
    return list(found), failures


class _Scan:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.texts: dict[str, str] = {}
        self.inputs: dict[str, tuple[int, int] | None] = {}
        self.lazy_events: dict[tuple[str, str, str], Any] = {}

    def library_summary(self, path: str) -> dict[str, Any] | None:
        file_stamp = stamp(path)
        self.inputs[path] = file_stamp
        if file_stamp is None:
            return None
        cached = self.store.summary(path, file_stamp)
        if cached is not None:
            return cached
        summary, _why = summarize_file(path)
        if summary is not None:
            self.store.put_summary(path, file_stamp, summary)
        return summary

    def lazy(self, cls: ClassRef, name: str) -> list[Any] | None:
        key = (cls.file.path, cls.qualname, name)
        if key not in self.lazy_events:
            events = None
            try:
                text = read_source(cls.file.path)
            except (OSError, ValueError):
                text = None
            if text is not None:
                events = S.lazy_method(text, cls.file.summary, cls.info, name)
            self.lazy_events[key] = events
        return self.lazy_events[key]


def _params(project: Project, cls: ClassRef) -> tuple[tuple[InitParam, ...], str, bool]:
    """(the parameters of the __init__ that runs first, its class, whether they are known)."""
    for klass in project.mro(cls):
        if isinstance(klass, TorchClass):
            return (), klass.dotted, klass.name in ("Module", "Sequential", "ModuleList", "ModuleDict")
        if isinstance(klass, ClassRef):
            if "__init__" in klass.info["methods"]:
                params = klass.info.get("params")
                if params is None:
                    return (), klass.dotted, False
                return tuple(InitParam(**p) for p in params), klass.dotted, True
        elif not klass.plain:
            return (), klass.dotted, False
    return (), "", True


def _abstract(project: Project, cls: ClassRef) -> bool:
    seen: set[str] = set()
    for klass in project.mro(cls):
        if not isinstance(klass, ClassRef):
            continue
        for name in klass.info.get("abstract_methods", ()):
            if name not in seen:
                return True
        seen.update(klass.info["methods"])
    return False


def _report(
    project: Project, entries: list[FileEntry], scan: _Scan
) -> tuple[list[ModuleClass], list[Any], list[Unresolved]]:
    classes, findings, unresolved = [], [], []
    for entry in entries:
        for info in entry.summary["classes"]:
            ref = ClassRef(entry, info["q"])
            chain = project.module_chain(ref)
            if chain is None:
                unresolved.append(
                    Unresolved(entry.path, info["line"], info["q"], entry.module, project.first_unreadable(ref))
                )
                continue
            if chain is False:
                continue
            outcome = construction(project, ref, scan.lazy)
            params, owner, known = _params(project, ref)
            note = outcome.note
            if not note and outcome.final is None:
                note = "every path through its __init__ raises"
            classes.append(
                ModuleClass(
                    file=entry.path,
                    line=info["line"],
                    qualname=info["q"],
                    module=entry.module,
                    import_root=entry.summary.get("_root", ""),
                    via=tuple(chain),
                    bases=tuple(text for text, _ref in info["bases"]),
                    params=params,
                    init_owner=owner,
                    params_known=known,
                    abstract=_abstract(project, ref),
                    analysed=not outcome.note,
                    note=note,
                )
            )
            findings.extend(class_findings(ref, outcome))
    return classes, findings, unresolved


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
    `cache_dir`: where to keep the cache (None: no cache). `jobs`: worker processes for the
    files to parse (default: the CPUs available, used only for many files)."""
    base = Path(root or os.getcwd()).absolute()
    files, failures = find_files(list(paths), base, exclude)
    store = Store(cache_dir)
    request = {"files": files, "root": str(base), "exclude": list(exclude), "path": sys.path}
    if store.folder is not None:
        memo = store.report(request)
        if memo is not None:
            report = StaticReport.from_json(memo)
            return StaticReport(
                report.files, report.classes, report.findings, report.failures, report.unresolved, len(files)
            )
    scan_state = _Scan(store)
    summaries: dict[str, dict[str, Any]] = {}
    todo: list[str] = []
    from_cache = 0
    for path in files:
        file_stamp = stamp(path)
        scan_state.inputs[path] = file_stamp
        cached = store.summary(path, file_stamp) if file_stamp is not None else None
        if cached is not None:
            summaries[path] = cached
            from_cache += 1
        else:
            todo.append(path)
    workers = jobs if jobs is not None else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    pooled = workers > 1 and len(todo) >= POOL_MIN_FILES
    results = _parallel(todo, workers) if pooled else _summarize_many(todo)
    for path, summary, why in results:
        if summary is None:
            failures.append(FileFailure(path, why))
            continue
        summaries[path] = summary
        file_stamp = scan_state.inputs.get(path)
        if file_stamp is not None:
            store.put_summary(path, file_stamp, summary)
    roots: list[str] = []
    entries: list[FileEntry] = []
    for path in files:
        if path not in summaries:
            continue
        import_root, module = package_location(Path(path))
        roots.append(str(import_root))
        summary = dict(summaries[path])
        summary["_root"] = str(import_root)
        entries.append(FileEntry(path, module, Path(path).name == "__init__.py", summary, scanned=True))
    project = Project(scan_state.library_summary, list(dict.fromkeys(roots)))
    for entry in entries:
        project.add(entry)
    gc.disable()
    try:
        classes, findings, unresolved = _report(project, entries, scan_state)
    finally:
        gc.enable()
    report = StaticReport(
        files=tuple(files),
        classes=tuple(classes),
        findings=tuple(findings),
        failures=tuple(sorted(failures, key=lambda f: f.file)),
        unresolved=tuple(unresolved),
        from_cache=from_cache,
    )
    if store.folder is not None:
        store.put_report(request, scan_state.inputs, report.to_json())
    return report
