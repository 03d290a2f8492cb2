"""`check PATH --changed-since REF`: the Python files changed since a git ref, and the project
files that import them, directly or through other files (the reverse import graph), so that
a pull request's CI checks the classes its change can reach. git runs as a subprocess (no
new dependency); nothing is imported, files are only parsed for their import statements."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paraminspect.errors import UsageError
from paraminspect.static.project import package_location

GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Changes:
    """What changed since `ref` (`base`: the commit compared against, where HEAD left REF):
    `changed` Python files that exist now (added, modified, renamed to, untracked), `removed`
    those that are gone (deleted, renamed from); absolute paths."""

    ref: str
    base: str
    changed: frozenset[str]
    removed: frozenset[str]
    project: frozenset[str] = frozenset()  # every Python file git tracks or would (not ignored)


def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed (not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"--changed-since: `git {' '.join(args)}` ran past {GIT_TIMEOUT:g} s") from None


def _first_line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return text.splitlines()[-1] if text else "no message"


def changes_since(ref: str, where: Path) -> Changes:
    """The Python files changed between `ref` (from the commit where HEAD branched off it,
    `git merge-base`) and the working tree, untracked files included. Not a git repository
    or a ref git does not know: a UsageError."""
    top = _git(["rev-parse", "--show-toplevel"], where)
    if top.returncode != 0:
        raise UsageError(f"--changed-since {ref}: {where} is not in a git repository ({_first_line(top.stderr)})")
    root = Path(os.fsdecode(top.stdout.strip()))
    if ref.startswith("-"):
        raise UsageError(f"--changed-since {ref!r}: not a git ref")
    commit = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], root)
    if commit.returncode != 0:
        raise UsageError(f"--changed-since {ref}: git knows no such commit, branch or tag")
    base = _git(["merge-base", ref, "HEAD"], root)
    since = base.stdout.strip().decode() if base.returncode == 0 else commit.stdout.strip().decode()
    diff = _git(["diff", "--name-status", "-z", "-M", "--no-ext-diff", since, "--"], root)
    if diff.returncode != 0:
        raise UsageError(f"--changed-since {ref}: git diff failed ({_first_line(diff.stderr)})")
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    listed = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.py"], root)
    changed: set[str] = set()
    removed: set[str] = set()
    fields = diff.stdout.split(b"\0")
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i].decode()
        if status[:1] in ("R", "C"):  # renamed or copied: old path, new path
            old, new = fields[i + 1], fields[i + 2]
            if status[:1] == "R":
                removed.add(os.fsdecode(old))
            changed.add(os.fsdecode(new))
            i += 3
            continue
        path = os.fsdecode(fields[i + 1])
        (removed if status[:1] == "D" else changed).add(path)
        i += 2
    changed.update(os.fsdecode(p) for p in untracked.stdout.split(b"\0") if p)
    py = [p for p in changed | removed if p.endswith(".py")]
    absolute = {p: os.path.normpath(root / p) for p in py}
    return Changes(
        ref,
        since,
        frozenset(absolute[p] for p in py if p in changed and os.path.exists(absolute[p])),
        frozenset(absolute[p] for p in py if p in removed or not os.path.exists(absolute[p])),
        frozenset(os.path.normpath(root / os.fsdecode(p)) for p in listed.stdout.split(b"\0") if p),
    )


# An import statement at the start of a line: `from X import a, b as c` (parenthesised over
# several lines, or continued with backslashes) or `import a.b as c, d`. Read with a regular
# expression, not ast: a project of thousands of files is read in a fraction of the time, and
# a match inside a string can only add an edge (a file checked that need not be).
_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+([.\w]+)[ \t]+import[ \t]*(\([^)]*\)|(?:[^\n#;\\]|\\\n)*)|import[ \t]+([^\n#;]+))",
    re.MULTILINE,
)
_NAME = re.compile(rb"[A-Za-z_][\w.]*")


def _imported(path: str, module: str, is_package: bool) -> list[str]:
    """The dotted names a file imports (anywhere in it: a function's import counts too),
    absolute; `from pkg import name` gives `pkg` and `pkg.name` (a submodule or a name)."""
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except OSError:
        return []
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for match in _IMPORT.finditer(source):
        base, names, plain = match.groups()
        if plain is not None:  # import a.b as c, d
            found = (_NAME.match(part.strip()) for part in plain.split(b","))
            out += [name.group().decode() for name in found if name is not None]
            continue
        text = base.decode()
        level = len(text) - len(text.lstrip("."))
        text = text[level:]
        if level:
            parent = package
            for _ in range(level - 1):
                parent = parent.rpartition(".")[0]
            text = f"{parent}.{text}".strip(".") if text else parent
        out.append(text)
        for part in names.strip(b"()").replace(b"\\\n", b" ").split(b","):
            name = _NAME.match(part.strip())
            if name is not None:
                out.append(f"{text}.{name.group().decode()}" if text else name.group().decode())
    return [name for name in out if name]


def affected(changes: Changes, files: Iterable[str] = ()) -> frozenset[str]:
    """Of the project's files (and `files`, absolute), those changed and those that import a
    changed or removed file, directly or through other files."""
    files = sorted({os.path.normpath(f) for f in files} | set(changes.project) | set(changes.changed))
    files = [f for f in files if os.path.isfile(f)]
    by_module: dict[str, set[str]] = {}
    locations = {}
    for path in [*files, *sorted(changes.removed)]:
        _root, module = package_location(Path(path))
        locations[path] = module
        by_module.setdefault(module, set()).add(path)
    importers: dict[str, set[str]] = {}  # file -> the files that import it
    for path in files:
        module = locations[path]
        for name in _imported(path, module, os.path.basename(path) == "__init__.py"):
            parts = name.split(".")
            for end in range(len(parts), 0, -1):  # the longest prefix that is a project module
                found = by_module.get(".".join(parts[:end]))
                if found:
                    for target in found:
                        if target != path:
                            importers.setdefault(target, set()).add(path)
                    break
    reached = set(changes.changed) | set(changes.removed)
    todo = list(reached)
    while todo:
        for importer in importers.get(todo.pop(), ()):
            if importer not in reached:
                reached.add(importer)
                todo.append(importer)
    return frozenset(reached - set(changes.removed))
