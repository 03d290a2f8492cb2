"""`[tool.paraminspect]` in pyproject.toml.

The project root is the nearest folder, from the working directory up, that holds a
pyproject.toml or a `.git` (a checkout's root): its pyproject.toml's `[tool.paraminspect]`
table is the configuration, and nothing above the root is read (a parent folder's
pyproject.toml, such as one in a CI runner's home, never applies). Validation is strict: an
unknown key, a wrong type or an unknown rule code is a UsageError naming the file.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FAIL_ON = ("error", "warning", "info")
KEYS = (
    "models", "select", "ignore", "fail-on", "per-model-ignores", "allow", "fix-persistent", "timeout",
    "exclude", "args", "cache-files", "cache-env",
)  # fmt: skip


@dataclass(frozen=True)
class Config:
    path: Path | None = None  # None when no pyproject.toml has the table
    models: tuple[str, ...] = ()
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    fail_on: str | None = None
    per_model_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    allow: tuple[str, ...] = ()
    fix_persistent: bool = False  # `check --fix` registers PI002 buffers as persistent (saved)
    timeout: float | None = None  # seconds per model (runner.DEFAULT_TIMEOUT when not set)
    exclude: tuple[str, ...] = ()  # path globs that `check PATH` skips
    # MODEL spec (glob) -> keyword arguments, or a Python call snippet (a string; see paraminspect/static/args)
    args: dict[str, dict[str, Any] | str] = field(default_factory=dict)
    # Inputs the result cache cannot see by itself: globs of files (relative to the
    # pyproject.toml's folder) and environment variables the models' code reads.
    cache_files: tuple[str, ...] = ()
    cache_env: tuple[str, ...] = ()

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    def ignores_for(self, spec: str) -> list[str]:
        """Codes from `per-model-ignores` whose key is `spec` (keys may be globs)."""
        import fnmatch

        return [c for key, codes in self.per_model_ignores.items() if fnmatch.fnmatchcase(spec, key) for c in codes]

    def args_for(self, *specs: str) -> dict[str, Any]:
        """Keyword arguments from `[tool.paraminspect.args]` for a model known by any of
        `specs` (as printed, or relative to the pyproject.toml's folder): an exact key wins
        over a glob; of several globs, the first in the file. An entry given as a call snippet
        has no keyword arguments ({}): the static argument finder reads it."""
        import fnmatch

        for spec in specs:
            if spec in self.args:
                found = self.args[spec]
                return dict(found) if isinstance(found, dict) else {}
        for key, kwargs in self.args.items():
            if any(fnmatch.fnmatchcase(spec, key) for spec in specs):
                return dict(kwargs) if isinstance(kwargs, dict) else {}
        return {}


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: the working directory) that holds a
    pyproject.toml or a `.git`; None when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() or os.path.lexists(folder / ".git"):
            return folder
    return None


def find_pyproject(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The project root's pyproject.toml (see project_root) and its [tool.paraminspect] table;
    None when the root has no such file or table."""
    root = project_root(start)
    candidate = root / "pyproject.toml" if root is not None else None
    if candidate is None or not candidate.is_file():
        return None
    try:
        with open(candidate, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{candidate}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{candidate}: invalid TOML: not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise UsageError(f"{candidate}: invalid TOML: nested too deep") from None
    except OSError as exc:
        raise UsageError(f"{candidate}: cannot read: {exc.strerror}") from None
    tool = doc.get("tool")
    if isinstance(tool, dict) and "paraminspect" in tool:
        return candidate, tool["paraminspect"]
    return None


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: [tool.paraminspect] {key} must be a list of strings, got {value!r}")
    return tuple(value)


def _codes(path: Path, key: str, value: Any) -> tuple[str, ...]:
    from paraminspect.checks.finalise import parse_codes

    values = _strings(path, key, value)
    try:
        return tuple(parse_codes(values, f"[tool.paraminspect] {key}") or ())
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _call_snippet(path: Path, model: str, text: str) -> str:
    """A call snippet of [tool.paraminspect.args]: Python whose last statement is the
    expression that builds the model (`"Net(Config(dim=4))"`)."""
    import ast

    try:
        tree = ast.parse(text.strip() + "\n")
    except (SyntaxError, ValueError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise UsageError(f"{path}: [tool.paraminspect.args] {model!r} is not valid Python: {why}") from None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise UsageError(
            f"{path}: [tool.paraminspect.args] {model!r} must end with the expression that builds the model, "
            f'e.g. "Net(dim=4)"'
        )
    return text


def parse_table(path: Path, table: Any) -> Config:
    """Validate a [tool.paraminspect] table."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.paraminspect] must be a table, got {type(table).__name__}")
    for key in table:
        if key not in KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{path}: unknown key {key!r} in [tool.paraminspect]{hint}; known keys: {', '.join(KEYS)}")
    fail_on = table.get("fail-on")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise UsageError(f"{path}: [tool.paraminspect] fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    per_model: dict[str, tuple[str, ...]] = {}
    raw = table.get("per-model-ignores", {})
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: [tool.paraminspect] per-model-ignores must be a table of model -> codes")
    for model, codes in raw.items():
        per_model[model] = _codes(path, f"per-model-ignores.{model!r}", codes)
    fix_persistent = table.get("fix-persistent", False)
    if not isinstance(fix_persistent, bool):
        raise UsageError(f"{path}: [tool.paraminspect] fix-persistent must be true or false, got {fix_persistent!r}")
    args: dict[str, dict[str, Any] | str] = {}
    raw_args = table.get("args", {})
    if not isinstance(raw_args, dict):
        raise UsageError(f"{path}: [tool.paraminspect] args must be a table of model -> {{ name = value }}")
    for model, kwargs in raw_args.items():
        if isinstance(kwargs, str):
            args[model] = _call_snippet(path, model, kwargs)
            continue
        if not isinstance(kwargs, dict) or not all(k.isidentifier() for k in kwargs):
            raise UsageError(
                f"{path}: [tool.paraminspect.args] {model!r} must be a table of keyword arguments, "
                f"e.g. {{ dim = 4 }}, got {kwargs!r}"
            )
        args[model] = dict(kwargs)
    models = _strings(path, "models", table.get("models", []))
    if any(not m.strip() for m in models):
        raise UsageError(f"{path}: [tool.paraminspect] models has an empty entry")
    timeout = table.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise UsageError(f"{path}: [tool.paraminspect] timeout must be a number of seconds, got {timeout!r}")
        from paraminspect.runner.task import validate_timeout

        try:
            timeout = validate_timeout(timeout, "[tool.paraminspect] timeout")
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None
    return Config(
        path=path,
        models=models,
        select=_codes(path, "select", table["select"]) if "select" in table else None,
        ignore=_codes(path, "ignore", table["ignore"]) if "ignore" in table else None,
        fail_on=fail_on,
        per_model_ignores=per_model,
        allow=_strings(path, "allow", table.get("allow", [])),
        fix_persistent=fix_persistent,
        timeout=timeout,
        exclude=_strings(path, "exclude", table.get("exclude", [])),
        args=args,
        cache_files=_strings(path, "cache-files", table.get("cache-files", [])),
        cache_env=_strings(path, "cache-env", table.get("cache-env", [])),
    )


def load_config(start: Path | None = None) -> Config:
    """The configuration that applies in `start` (default: the working directory)."""
    found = find_pyproject(start)
    if found is None:
        return Config()
    return parse_table(*found)


def resolve_model_path(spec: str, root: Path | None) -> str:
    """A `path/file.py:attr` spec from the config is relative to the pyproject.toml's
    folder, so that `paraminspect check` works from any subfolder."""
    from paraminspect.forms import is_file_spec, split_target

    target = split_target(spec)
    if root is None or target is None or not is_file_spec(target[0]) or os.path.isabs(target[0]):
        return spec
    return f"{root / target[0]}:{target[1]}"


def settings_lines(start: Path | None = None) -> list[str]:
    """What `check --show-settings` prints: the project root, the configuration file used (or
    why none is), and every setting it makes (the defaults where it makes none)."""
    root = project_root(start)
    config = load_config(start)
    lines = [f"project root: {root if root is not None else '(none: no pyproject.toml or .git above here)'}"]
    if config.path is None:
        where = f"{root / 'pyproject.toml'} has no [tool.paraminspect] table" if root is not None else "none"
        lines.append(f"configuration: (none) - {where}" if root is not None else "configuration: (none)")
    else:
        lines.append(f"configuration: {config.path} [tool.paraminspect]")
    for name in KEYS:
        value = getattr(config, name.replace("-", "_"))
        if isinstance(value, tuple):
            value = list(value)
        lines.append(f"  {name} = {value!r}")
    return lines
