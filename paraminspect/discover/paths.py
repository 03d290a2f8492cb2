"""`check PATH` for the CLI: the files under the paths (no import), then their module
classes (imported in a child process), as check tasks and plain results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paraminspect.checks.model_result import ModelResult
from paraminspect.discover.files import FileSearch, find_files, spec_path
from paraminspect.discover.found import Discovery


@dataclass(frozen=True)
class PathRun:
    """What `check PATH` found: the files, the classes (tasks to check), the skipped classes
    and the failures known before any check (import failures, abstract classes)."""

    paths: tuple[str, ...]
    search: FileSearch
    discovery: Discovery
    targets: tuple[Any, ...]  # commands.check_plan.CheckTarget
    output: str = ""  # what importing the files printed (in the child)

    @property
    def import_failures(self) -> list[ModelResult]:
        """Files that could not be imported: nothing in them was checked (exit 2)."""
        return [ModelResult(spec=file, error=message) for file, message in self.discovery.import_failures]

    @property
    def class_failures(self) -> list[ModelResult]:
        """Classes found that cannot be built at all (abstract): listed apart."""
        return [ModelResult(spec=spec, error=message) for spec, message in self.discovery.failures]

    @property
    def noun(self) -> str:
        return "module classes or files" if self.discovery.import_failures else "module classes"

    def report(self, results: Sequence[ModelResult], strict: bool) -> tuple[list[ModelResult], dict[str, Any]]:
        """The results to report (the classes', then the classes and files that failed before
        any check) and the report's extra arguments: classes' failures exit 2 only with --strict."""
        found = {target.spec for target in self.targets}
        classes = [r for r in results if r.spec in found] + self.class_failures
        every = [r for r in results if r.spec not in found] + classes + self.import_failures
        return every, {
            "skipped": self.discovery.skipped,
            "counts_line": path_summary(self, classes) if classes or self.discovery.skipped else None,
            "lenient": frozenset() if strict else frozenset(r.spec for r in classes),
            "noun": self.noun,
        }

    def notes(self) -> list[str]:
        """One note for given paths that the skip rules left out, one when nothing was found."""
        out = []
        skipped = self.search.skipped_given
        if skipped:
            shown = "; ".join(f"{path} ({why})" for path, why in skipped[:3])
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            out.append(f"skipped {shown}{more}: name a class to check it (file.py:Class)")
        d = self.discovery
        if not (d.classes or d.skipped or d.failures or d.import_failures):
            looked = self.search.looked_at
            files = f"{looked} Python file{'s' if looked != 1 else ''} looked at"
            out.append(f"no nn.Module class is defined in {', '.join(self.paths)} ({files})")
        return out


def _key_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def discover_paths(plan: Any, discover: Callable[[dict[str, Any]], tuple[Discovery, str]]) -> PathRun:
    """The module classes under `plan.paths` (a commands.check_plan.CheckPlan) and their check
    targets. `discover` runs discover.classes.discover_classes(**kwargs) where the user's
    files may be imported (a child process) and returns its Discovery and their output."""
    config = plan.config
    root = (config.root or Path.cwd()).resolve()
    search = find_files(plan.paths, root, config.exclude)
    discovery, output = Discovery(), ""
    if search.files:
        entries = [{"path": str(p), "shown": spec_path(p), "key": _key_path(p, root)} for p in search.files]
        discovery, output = discover({"files": entries, "args": config.args})
    # the spec as shown loads from this working directory, as the workers' is: no load_spec,
    # so that reports do not add the absolute path
    targets = tuple(plan.target(c.spec, c.kwargs) for c in discovery.classes)
    return PathRun(tuple(plan.paths), search, discovery, targets, output)


def path_summary(run: PathRun, results: Sequence[ModelResult]) -> str:
    """`Checked 12 module classes in 5 files (10 clean, 1 with findings, 1 failed); 3
    skipped: need arguments.`"""
    checked = len(results)
    failed = sum(1 for r in results if r.error is not None)
    findings = sum(1 for r in results if r.error is None and r.findings)
    files = run.discovery.files_with_classes
    line = (
        f"Checked {checked} module class{'es' if checked != 1 else ''} in {files} file{'s' if files != 1 else ''} "
        f"({checked - failed - findings} clean, {findings} with findings, {failed} failed)"
    )
    skipped = len(run.discovery.skipped)
    if skipped:
        line += f"; {skipped} skipped: need arguments"
    unreadable = len(run.discovery.import_failures)
    if unreadable:
        line += f"; {unreadable} file{'s' if unreadable != 1 else ''} could not be imported"
    return line + "."
