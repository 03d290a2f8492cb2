"""Answers for repeated runs whose inputs did not change, without importing torch.

A run is cached under a key of everything its result depends on that the parent knows before
it starts (paraminspect's own code and the model libraries' versions, the command line, the
configuration file's bytes, the terminal's width and colour, the environment variables that
change behaviour) and is valid while every source file the build imported is unchanged (path,
size, mtime; plus a content hash when the file was modified so close to the run that its mtime
cannot be trusted to change again, as git does for "racily clean" files).

Entries are JSON, never pickles: a corrupt, truncated or foreign entry is ignored, never
trusted. Writes are atomic (a temporary file renamed into place), so concurrent runs never
read half an entry. Imports nothing heavier than the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

CACHE_DIR_ENV = "PARAMINSPECT_CACHE_DIR"
FOLDER_NAME = ".paraminspect_cache"
ENTRY_FORMAT = 1
# Libraries whose version is in the key: their own files need no fingerprint.
VERSIONED = ("torch", "timm", "transformers", "safetensors", "torchvision", "numpy")
# A file modified less than this long before the entry was written is hashed too: a later edit
# within the filesystem's timestamp granularity could leave size and mtime unchanged.
RACY_SECONDS = 2.0
# Environment variables that change what a run prints or builds.
ENV_KEYS = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "PYTHONPATH")


@dataclass(frozen=True)
class CachedRun:
    """What a run printed and how it ended. `output_file` is the -o file's content (None when
    the output went to stdout)."""

    stdout: str
    stderr: str
    exit_code: int
    output_file: str | None = None


def library_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (no import of the libraries)."""
    versions: dict[str, str | None] = {}
    for name in ("paraminspect", *VERSIONED):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def code_fingerprint(folder: str) -> list[list[Any]]:
    """[relative path, size, mtime_ns] of every .py file under `folder`: paraminspect's own
    code, part of the key, so that an edited checkout (an editable install keeps its version
    number) never replays what older code printed. ~150 stat calls, well under a millisecond."""
    out: list[list[Any]] = []
    for where, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(where, name))
                out.append([os.path.relpath(os.path.join(where, name), folder), st.st_size, st.st_mtime_ns])
    return out


def request_key(parts: Mapping[str, Any]) -> str:
    """A stable digest of the run's inputs known before it starts; `parts` must be JSON data."""
    material = {
        "format": ENTRY_FORMAT,
        "python": sys.version,
        "executable": sys.executable,
        "versions": library_versions(),
        "code": code_fingerprint(os.path.dirname(os.path.abspath(__file__))),
        "env": {k: os.environ.get(k) for k in ENV_KEYS},
        **parts,
    }
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _excluded_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"]}
    for name in VERSIONED:
        module = sys.modules.get(name)
        for folder in getattr(module, "__path__", None) or ():
            roots.add(folder)
    real = {os.path.realpath(r) for r in roots if r}
    return tuple(os.path.join(r, "") for r in {*roots, *real} if r)


# Per set of excluded roots: a module's __file__ -> its real path when it is a watched
# source, else None. A worker process checks one model after another with the same ~2,700
# modules imported: resolving each again (realpath, isfile) cost ~5 ms a model.
_decided: dict[tuple[str, ...], dict[str, str | None]] = {}


def _watched_file(path: str, excluded: tuple[str, ...]) -> str | None:
    if path.startswith(excluded):
        return None  # most files: decided without resolving links
    real = os.path.realpath(path)
    return real if not real.startswith(excluded) and os.path.isfile(real) else None


def imported_sources(modules: Iterable[Any] | None = None) -> list[str]:
    """The source files of the imported modules whose changes the key does not cover: not the
    standard library, not the versioned libraries. Called where the model was built."""
    versioned = tuple(id(sys.modules.get(name)) for name in VERSIONED)
    excluded = _excluded_roots_for(versioned)
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


_roots: dict[tuple[int, ...], tuple[str, ...]] = {}


def _excluded_roots_for(versioned: tuple[int, ...]) -> tuple[str, ...]:
    """_excluded_roots(), computed again only when a versioned library was imported since."""
    try:
        return _roots[versioned]
    except KeyError:
        roots = _roots[versioned] = _excluded_roots()
        return roots


def fingerprint(paths: Sequence[str], written_at: float) -> list[list[Any]]:
    """[path, size, mtime_ns, sha256 or None] per file; the hash only where mtime is racy."""
    out: list[list[Any]] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue  # a file gone since the import cannot be watched; a later run misses anyway
        racy = st.st_mtime >= written_at - RACY_SECONDS
        out.append([path, st.st_size, st.st_mtime_ns, file_digest(path) if racy else None])
    return out


def _unchanged(entry: list[Any]) -> bool:
    path, size, mtime_ns, digest = entry
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_size != size or st.st_mtime_ns != mtime_ns:
        return False
    return digest is None or file_digest(path) == digest


def _valid_fingerprint(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(e, list)
        and len(e) == 4
        and isinstance(e[0], str)
        and isinstance(e[1], int)
        and isinstance(e[2], int)
        and (e[3] is None or isinstance(e[3], str))
        for e in value
    )


def cache_folder(project_root: Path | None) -> Path:
    """PARAMINSPECT_CACHE_DIR, else `.paraminspect_cache/` beside the pyproject.toml, else in
    the working directory."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return (project_root or Path.cwd()) / FOLDER_NAME


class ResultCache:
    """One folder of entries, named by their request key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"v{ENTRY_FORMAT}" / f"{key}.json"

    def lookup(self, key: str) -> CachedRun | None:
        """The entry for `key` if it is well-formed, was written for this key, and every file
        it watched is unchanged; anything else is a miss."""
        try:
            raw = self._path(key).read_text(encoding="utf-8")
            entry = json.loads(raw)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != ENTRY_FORMAT:
            return None
        run, watched = entry.get("run"), entry.get("watched")
        if not isinstance(run, dict) or not _valid_fingerprint(watched):
            return None
        stdout, stderr, code, out_file = (run.get(k) for k in ("stdout", "stderr", "exit_code", "output_file"))
        if not (isinstance(stdout, str) and isinstance(stderr, str) and type(code) is int):
            return None
        if out_file is not None and not isinstance(out_file, str):
            return None
        if not all(_unchanged(e) for e in watched):
            return None
        return CachedRun(stdout, stderr, code, out_file)

    def store(self, key: str, run: CachedRun, sources: Sequence[str]) -> None:
        """Write the entry atomically; a cache that cannot be written is silently skipped
        (a read-only checkout must still be checkable)."""
        entry = {
            "format": ENTRY_FORMAT,
            "key": key,
            "run": {
                "stdout": run.stdout,
                "stderr": run.stderr,
                "exit_code": run.exit_code,
                "output_file": run.output_file,
            },
            "watched": fingerprint(sources, time.time()),
        }
        path = self._path(key)
        try:
            self._prepare()
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            return

    def _prepare(self) -> None:
        (self.folder / f"v{ENTRY_FORMAT}").mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():  # like .pytest_cache and .ruff_cache: never committed
            ignore.write_text("# Created by paraminspect automatically.\n*\n", encoding="utf-8")


class _Recorder:
    """A text stream that writes through to `stream` and keeps what was written."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding...
        return getattr(self._stream, name)


def project_files(start: Path | None = None) -> dict[str, str | None]:
    """The digest of every pyproject.toml from `start` up: the configuration a run reads."""
    here = (start or Path.cwd()).resolve()
    return {str(f / "pyproject.toml"): file_digest(str(f / "pyproject.toml")) for f in (here, *here.parents)}


def terminal_parts() -> dict[str, Any]:
    """What the output's layout depends on: which streams are terminals, and their width."""
    import shutil

    parts: dict[str, Any] = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            parts[name] = bool(stream.isatty())
        except (AttributeError, ValueError, OSError):
            parts[name] = False
    if parts["stdout"] or parts["stderr"]:
        parts["size"] = tuple(shutil.get_terminal_size())
    return parts


def cached_run(folder: Path, parts: Mapping[str, Any], output_file: Path | None, run: Any, watch: Any) -> int:
    """Replay the cached run for `parts` (stdout, stderr, the -o file, the exit code), or call
    `run()` while recording what it prints, inside `watch()` (a context manager that yields
    the set of source files the run's child processes imported), and store it. Only runs
    that ended with 0 or 1 are stored: an error may depend on a file that does not exist yet."""
    cache = ResultCache(folder)
    key = request_key({**parts, "cwd": os.getcwd(), "project": project_files(), "terminal": terminal_parts()})
    hit = cache.lookup(key)
    if hit is not None and (hit.output_file is None) == (output_file is None):
        if output_file is not None:
            try:
                Path(output_file).write_text(hit.output_file or "", encoding="utf-8")
            except OSError:
                hit = None
        if hit is not None:
            sys.stdout.write(hit.stdout)
            sys.stderr.write(hit.stderr)
            return hit.exit_code
    out, err = _Recorder(sys.stdout), _Recorder(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        with watch() as sources:
            code = run()
    finally:
        sys.stdout, sys.stderr = saved
    if code in (0, 1) and sources:
        written = None
        if output_file is not None:
            try:
                written = Path(output_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return code
        cache.store(key, CachedRun("".join(out.parts), "".join(err.parts), code, written), sorted(sources))
    return code


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` that holds a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    return next((f for f in (here, *here.parents) if (f / "pyproject.toml").is_file()), None)


def cacheable(specs: Sequence[str], root: Path | None = None) -> bool:
    """Models whose result depends only on the key and on imported source files: factories,
    timm and transformers names. Checkpoint files, Hugging Face folders and caches, and
    folders to discover read files that are not imported modules, so they are not cached."""
    from paraminspect.forms import parse_spec

    for spec in specs:
        if not parse_spec(spec).form.cacheable or (root is not None and (root / spec).is_dir()):
            return False
    return True
