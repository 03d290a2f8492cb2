"""`check PATH` for the CLI: the files under the paths (nothing imported), their module
classes read by the static pass (no torch), the arguments found for the classes that need
some, then the files imported in a child process to see which classes build, as check
targets. coverage.py joins the built results and the static findings into the report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paraminspect.discover.files import FileSearch, find_files, spec_path
from paraminspect.discover.found import Discovery, FoundClass
from paraminspect.static.args.model import ARGS_TABLE

# discover(batches, libraries) runs discover.classes.discover_classes(**batch) for each batch
# where the user's files may be imported (child processes, side by side; `libraries`: the
# installed libraries they import, worth importing once for all of them): for each batch,
# (Discovery or None when its process failed, what the files printed, the failure's line).
Discover = Callable[[list[dict[str, Any]], Sequence[str]], list[tuple[Any, str, str]]]


@dataclass(frozen=True)
class PathClass:
    """One module class found under the paths. `file` is absolute (folders resolved);
    `record` is the static pass's (None for a class only importing the file showed),
    `found` the import's (None when the file was not imported: --static, or its import
    failed); `source` the arguments found for it (static.args.ArgSource); `target`: it is
    built (`with_source`: from those arguments); `reason`: why not, when it is not."""

    spec: str
    file: str
    qualname: str
    line: int | None = None
    record: Any = None  # static.ModuleClass
    found: FoundClass | None = None
    source: Any = None  # static.args.ArgSource
    target: bool = False
    reason: str = ""
    with_source: bool = False  # built from `source` (else with no arguments or the args table's)

    @property
    def key(self) -> tuple[str, str]:
        return class_key(self.file, self.qualname)

    @property
    def guessed(self) -> bool:
        """Built with no arguments given or found although its constructor takes some: its
        defaults (or an empty `*args, **kwargs`) are a guess, and a guess that fails to build
        it is not a failure of the project (coverage.py: static only, with a way out); so is
        the found call of a base that a `*args, **kwargs` class was built with."""
        if self.with_source:  # a base's found call, this class called instead: a guess too
            return bool(getattr(self.source, "borrowed_from", ""))
        found = self.found
        return self.target and found is not None and not found.kwargs and found.takes_arguments


def class_key(file: str, qualname: str) -> tuple[str, str]:
    """How classes found by the static pass, by importing and in built models are matched."""
    return os.path.realpath(file), qualname


@dataclass(frozen=True)
class PathRun:
    """What `check PATH` found before any build: the files, the static report, what
    importing them showed, every module class, and the check targets (commands.check_plan
    CheckTargets) for those that build. `static_only`: `check --static`."""

    paths: tuple[str, ...]
    search: FileSearch
    static: Any  # static.StaticReport
    discovery: Discovery
    classes: tuple[PathClass, ...]
    targets: tuple[Any, ...]
    output: str = ""  # what importing the files printed (in the child)
    static_only: bool = False
    root: str = ""
    exclude: tuple[str, ...] = ()
    cache: str | None = None  # the static pass's cache folder
    changes: Any = None  # --changed-since: discover.changed.Changes

    def notes(self) -> list[str]:
        """One note for given paths that --force-exclude left out, one when nothing was found
        (with --changed-since: what changed, or that nothing did)."""
        out = []
        skipped = self.search.skipped_given
        if skipped:
            shown = "; ".join(f"{path} ({why})" for path, why in skipped[:3])
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            out.append(f"skipped {shown}{more}: --force-exclude applies the skip rules to the paths named")
        if self.changes is not None:
            return [*out, self._changed_note()]
        if not self.classes and not self.static.failures and not self.discovery.import_failures:
            looked = self.search.looked_at
            files = f"{looked} Python file{'s' if looked != 1 else ''} looked at"
            out.append(f"no nn.Module class is defined in {', '.join(self.paths)} ({files})")
        return out

    def _changed_note(self) -> str:
        changes = self.changes
        count = len(changes.changed) + len(changes.removed)
        if not count:
            return f"no changed files since {changes.ref}: nothing to check"
        files = f"{count} Python file{'s' if count != 1 else ''} changed since {changes.ref}"
        if not self.search.files:
            return f"{files}; none of them, nor a file importing them, is under {', '.join(self.paths)}"
        read = len(self.search.files)
        where = ", ".join(self.paths)
        checked = f"{read} file{'s' if read != 1 else ''} under {where} checked (changed, or importing a changed file)"
        if not self.classes:
            return f"{files}; {checked}: no nn.Module class is defined in them"
        return f"{files}; {checked}"


def _key_path(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def _run_discovery(
    entries: list[dict[str, Any]], args: Mapping[str, Any], discover: Discover, libraries: Sequence[str]
) -> tuple[Discovery, str]:
    """All files imported in one child; when that child ends without an answer (a file that
    segfaults, calls os._exit, hangs), each file again in a child of its own, so that the
    file that did it fails alone."""
    if not entries:
        return Discovery(), ""
    ((found, output, why),) = discover([{"files": entries, "args": dict(args)}], libraries)
    if found is not None:
        return found, output
    if len(entries) == 1:
        return Discovery(import_failures=((entries[0]["shown"], why),)), output
    classes: list[FoundClass] = []
    absent: list[str] = []
    failures: list[tuple[str, str]] = []
    missing: list[tuple[str, str]] = []
    outputs = []
    one_each = discover([{"files": [e], "args": dict(args)} for e in entries], libraries)
    for entry, (each, out, why) in zip(entries, one_each, strict=True):
        outputs.append(out)
        if each is None:
            failures.append((entry["shown"], why))
        else:
            classes += each.classes
            absent += each.absent
            failures += each.import_failures
            missing += each.missing_modules
    return Discovery(tuple(classes), tuple(absent), tuple(failures), tuple(missing)), "".join(outputs)


# Top-level modules whose distribution is named otherwise (what `pip install` takes).
_DISTRIBUTIONS = {
    "cv2": "opencv-python", "PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
    "yaml": "pyyaml", "bs4": "beautifulsoup4", "attr": "attrs", "paddle": "paddlepaddle",
}  # fmt: skip


def _project_names(files: Sequence[Path], root: Path) -> dict[str, set[str]]:
    """Every folder and module name of the project's files, below the root, with the files
    that give it: a module the import could not find that is named like one of these is the
    project's, not a library."""
    names: dict[str, set[str]] = {}
    for file in files:
        real = os.path.realpath(file)
        try:
            parts = Path(real).relative_to(root).parts
        except ValueError:
            parts = Path(file).parts[-1:]
        for name in (*parts[:-1], Path(parts[-1]).stem if parts else ""):
            names.setdefault(name, set()).add(real)
    return names


def with_install_hint(discovery: Discovery, files: Sequence[Path], root: Path) -> Discovery:
    """Import failures caused by a missing third-party package (a top-level module that is
    not installed and is not part of the project) say the way out: install it, or exclude
    the file (`exclude` in [tool.paraminspect], relative to the project root). They stay
    failures: a gate never skips a file silently. A file named like the package it imports
    (einops' `layers/flax.py` importing `flax`) does not make that package the project's."""
    if not discovery.missing_modules:
        return discovery
    project = _project_names(files, root)
    by_shown = {spec_path(Path(f)): f for f in files}
    own = {shown: os.path.realpath(by_shown.get(shown, shown)) for shown, _ in discovery.missing_modules}
    missing = {shown: name for shown, name in discovery.missing_modules if not project.get(name, set()) - {own[shown]}}
    failures = []
    for shown, why in discovery.import_failures:
        name = missing.get(shown)
        if name is not None:
            where = _key_path(own[shown], root)
            package = _DISTRIBUTIONS.get(name, name)
            install = package if package == name else f"{package} (it provides {name})"
            why = f'{why}: install {install}, or exclude it: exclude = ["{where}"] in [tool.paraminspect]'
        failures.append((shown, why))
    return dataclasses.replace(discovery, import_failures=tuple(failures))


def installed_libraries(names: Sequence[str], root: Path) -> list[str]:
    """Of the top-level modules the project imports, the installed libraries (found in a
    site-packages or dist-packages folder, outside the project; never the standard library,
    torch or paraminspect), found without importing them."""
    import importlib.util
    import sys

    out = []
    for name in names:
        if name in sys.stdlib_module_names or name in ("torch", "paraminspect"):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        origin = (spec.origin or "") if spec is not None else ""
        if not origin and spec is not None and spec.submodule_search_locations:
            origin = next(iter(spec.submodule_search_locations), "")
        where = Path(origin)
        if any(part in ("site-packages", "dist-packages") for part in where.parts) and root not in where.parents:
            out.append(name)
    return out


def _way_out(found: FoundClass | None, record: Any, root: Path) -> str:
    from paraminspect.static.args import way_out

    if record is not None:
        return way_out(record, root)
    assert found is not None
    missing = ", ".join(found.missing or ()) or "arguments"
    return (
        f"{found.spec} needs {missing}: give them in pyproject.toml under [tool.paraminspect.args] "
        f'("{found.spec}" = "{found.qualname}(...)"), or list a factory that builds it in [tool.paraminspect] models'
    )


def _classify(
    record: Any, found: FoundClass | None, source: Any, imported: bool, failed_import: str | None, root: Path
) -> tuple[bool, str]:
    """(built?, why not)."""
    if failed_import is not None:
        return False, f"its file could not be imported: {failed_import}"
    if not imported:
        return False, "not built (--static)"
    if found is None:
        return False, "not defined when its file is imported (a class inside a condition or a function?)"
    if found.abstract:
        return False, f"abstract class (abstract methods: {', '.join(found.abstract)}): it cannot be built"
    if found.buildable or found.missing is None:  # (a signature that cannot be read: try)
        return True, ""
    if source is not None and source.kind == ARGS_TABLE and source.kwargs is not None:
        return False, f"needs {', '.join(found.missing)}: its [tool.paraminspect.args] entry does not give them"
    if source is not None:
        return True, ""
    return False, _way_out(found, record, root)


def discover_paths(
    plan: Any,
    discover: Discover,
    *,
    static_only: bool = False,
    force_exclude: bool = False,
    cache: Path | None = None,
    changed_since: str | None = None,
) -> PathRun:
    """The module classes under `plan.paths` (a commands.check_plan.CheckPlan) and their check
    targets. The static pass and the argument finder run here (no torch, nothing imported);
    `discover` imports the files where user code may run (see Discover). `cache`: the
    static pass's cache folder (None: none)."""
    from paraminspect.static import scan
    from paraminspect.static.args import find_arguments, takes_anything

    config = plan.config
    root = Path(os.path.realpath(config.root or Path.cwd()))
    search = find_files(plan.paths, root, config.exclude, force_exclude)
    changes = None
    if changed_since is not None:  # only the files changed since the ref, and those importing them
        from paraminspect.discover.changed import affected, changes_since

        changes = changes_since(changed_since, root)
        reach = {os.path.realpath(f) for f in affected(changes, [str(f) for f in search.files])}
        search = dataclasses.replace(search, files=tuple(f for f in search.files if os.path.realpath(f) in reach))
    report = scan([str(p) for p in search.files], root=root, exclude=config.exclude, cache_dir=cache)
    records = {class_key(r.file, r.qualname): r for r in report.classes}
    sources: dict[str, Any] = {}
    discovery, output = Discovery(), ""
    if not static_only:
        sources = find_arguments(report, root=root, table=config.args, pyproject=config.path, cache_dir=cache)
        wanted: dict[str, dict[str, Any]] = {}
        for record in report.classes:
            entry = wanted.setdefault(record.file, {"classes": [], "all": False})
            entry["classes"].append(record.qualname)
        for unresolved in report.unresolved:
            wanted.setdefault(unresolved.file, {"classes": [], "all": False})["all"] = True
        entries = [
            {"path": path, "shown": spec_path(Path(path)), "key": _key_path(path, root), **what}
            for path, what in wanted.items()
        ]
        libraries = installed_libraries(report.imports, root)
        discovery, output = _run_discovery(entries, config.args, discover, libraries)
        discovery = with_install_hint(discovery, search.files, root)
    found = {class_key(c.file, c.qualname): c for c in discovery.classes}
    failed_files = {shown: why for shown, why in discovery.import_failures}
    classes: list[PathClass] = []
    keys = list(records) + [k for k in found if k not in records]
    for key in keys:
        record, runtime = records.get(key), found.get(key)
        file, qualname = (record.file, record.qualname) if record is not None else (runtime.file, runtime.qualname)
        shown = spec_path(Path(file))
        source = sources.get(f"{record.file}:{record.qualname}") if record is not None else None
        built, reason = _classify(record, runtime, source, not static_only, failed_files.get(shown), root)
        with_source = built and source is not None and runtime is not None
        with_source = with_source and (
            (not runtime.buildable and runtime.missing is not None) or (record is not None and takes_anything(record))
        )
        line = record.line if record is not None else None
        classes.append(
            PathClass(f"{shown}:{qualname}", file, qualname, line, record, runtime, source, built, reason, with_source)
        )
    for maybe in report.unresolved:  # may be module classes; when nothing imported them, nobody can tell
        shown = spec_path(Path(maybe.file))
        if class_key(maybe.file, maybe.qualname) in found or not (static_only or shown in failed_files):
            continue
        why = "its file could not be imported" if shown in failed_files else "--static imports nothing"
        reason = f"perhaps an nn.Module: its base {maybe.base} could not be read and {why}"
        classes.append(PathClass(f"{shown}:{maybe.qualname}", maybe.file, maybe.qualname, maybe.line, reason=reason))
    targets = []
    for cls in classes:
        if not cls.target:
            continue
        assert cls.found is not None
        target = plan.target(cls.spec, {} if cls.with_source else cls.found.kwargs)
        target.options.update({"arguments": cls.source} if cls.with_source else {}, parts=True)
        targets.append(target)
    return PathRun(
        tuple(plan.paths),
        search,
        report,
        discovery,
        tuple(classes),
        tuple(targets),
        output,
        static_only,
        str(root),
        tuple(config.exclude),
        str(cache) if cache is not None else None,
        changes,
    )


def rescan(run: PathRun) -> Any:
    """The static pass over the run's files again (after `--fix` rewrote some)."""
    from paraminspect.static import scan

    return scan([str(p) for p in run.search.files], root=run.root, exclude=run.exclude, cache_dir=run.cache)
