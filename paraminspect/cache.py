"""Answers for repeated runs whose inputs did not change, without importing torch.

A run is cached under a key of everything its result depends on that the parent knows before
it starts (paraminspect's own code and the model libraries' versions, the command line, the
configuration files' bytes, the inputs `[tool.paraminspect]` declares, the terminal's width
and colour, the environment variables that change behaviour), and is valid while everything
the run read is as it was when it was read (paraminspect.reads: files, folders, files that did
not exist, environment variables).

An entry is trusted only when:
- it is a regular file of at most MAX_ENTRY_BYTES, opened without following a link and
  without blocking (a FIFO or a link to /dev/zero is a miss, never a hang);
- its keyed hash (HMAC-SHA256 with a per-user secret kept outside the project, see
  `secret()`) matches: an entry planted in a repository's `.paraminspect_cache` (or edited by
  anyone who cannot read that secret) is a miss;
- it is JSON of the expected shape, written for this very key, with at least one watched
  file, and everything it watched is unchanged.
Folders and files of the cache that are symbolic links are refused (`unsafe()`): nothing is
read through them or written through them. Writes are atomic (paraminspect.atomic).
Standard library only.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from paraminspect.atomic import read_bytes, write_bytes
from paraminspect.reads import VERSIONED, file_fingerprint, file_unchanged, folder_unchanged
from paraminspect.reads import imported_sources as imported_sources  # re-exported for callers

CACHE_DIR_ENV = "PARAMINSPECT_CACHE_DIR"
FOLDER_NAME = ".paraminspect_cache"
ENTRY_FORMAT = 2
ENTRY_FOLDER = f"v{ENTRY_FORMAT}"
MAX_ENTRY_BYTES = 64 * 1024**2
SECRET_NAME = "cache-key"
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


@dataclass(frozen=True)
class Hit:
    """A trusted entry: the run, and the files it read (which `-o` may not overwrite)."""

    run: CachedRun
    files: tuple[str, ...]


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
    from paraminspect.reads import file_digest as digest

    return digest(path)


def declared_inputs(root: Path | None, files: Sequence[str], env: Sequence[str]) -> dict[str, Any]:
    """The inputs `[tool.paraminspect]` declares (`cache-files` globs relative to `root`,
    `cache-env` names): every matching file's digest and every variable's value, for the key."""
    import glob

    base = str(root or Path.cwd())
    found: dict[str, str | None] = {}
    for pattern in files:
        for path in sorted(glob.glob(os.path.join(base, pattern), recursive=True)):
            if os.path.isfile(path):
                found[os.path.relpath(path, base)] = file_digest(path)
    return {"patterns": list(files), "files": found, "env": {name: os.environ.get(name) for name in env}}


# --- the secret of the keyed hash ------------------------------------------------------------


def secret_path() -> Path:
    """Where the per-user secret lives: `$XDG_CACHE_HOME/paraminspect/cache-key` (default
    `~/.cache/...`), never inside a project, so that a repository cannot ship it."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paraminspect" / SECRET_NAME


_secret: dict[str, bytes | None] = {}


def secret() -> bytes | None:
    """The per-user secret (32 random bytes, created on first use, mode 0600, owned by this
    user); None when it cannot be had safely: then nothing is cached."""
    path = str(secret_path())
    if path not in _secret:
        _secret[path] = _read_secret(path) or _create_secret(path)
    return _secret[path]


def _read_secret(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        owner = getattr(os, "geteuid", lambda: st.st_uid)()
        if not stat.S_ISREG(st.st_mode) or st.st_uid != owner or st.st_mode & 0o077 or st.st_size != 64:
            return None
        return bytes.fromhex(os.read(fd, 64).decode("ascii"))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _create_secret(path: str) -> bytes | None:
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        return _read_secret(path)  # another run made it first, or none can be made
    try:
        os.write(fd, os.urandom(32).hex().encode("ascii"))
    except OSError:
        return None
    finally:
        os.close(fd)
    return _read_secret(path)


def _mac(key: bytes, body: Mapping[str, Any]) -> str:
    blob = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


# --- what a run read, merged and checked -------------------------------------------------------


def reads_of_files(paths: Iterable[str]) -> dict[str, Any]:
    """A `reads` record of plain files, fingerprinted now (the Python API, tests)."""
    files = []
    for path in sorted(set(paths)):
        fingerprint = file_fingerprint(path)
        if fingerprint is not None:
            files.append([path, *fingerprint])
    return {"files": files, "folders": [], "absent": [], "env": []}


def merge_reads(records: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """One `reads` record for the runs of several models; None when one of them cannot be
    cached, or when two saw one input differently (it changed between them)."""
    if not records or any(r is None or r.get("unstable") for r in records):
        return None
    merged: dict[str, dict[str, Any]] = {"files": {}, "folders": {}, "env": {}}
    absent: set[str] = set()
    for record in records:
        assert record is not None
        for part in ("files", "folders", "env"):
            for name, *value in record.get(part, ()):
                seen = merged[part].setdefault(name, value)
                if part == "files" and seen[:2] == value[:2]:
                    merged[part][name] = seen if seen[2] is not None else value  # keep a digest
                elif seen != value:
                    return None
        absent.update(record.get("absent", ()))
    if absent & set(merged["files"]):
        return None  # absent for one model, read by another: created meanwhile
    return {
        "files": sorted([k, *v] for k, v in merged["files"].items()),
        "folders": sorted([k, *v] for k, v in merged["folders"].items()),
        "absent": sorted(absent),
        "env": sorted([k, *v] for k, v in merged["env"].items()),
    }


def _valid_reads(reads: Any) -> bool:
    if not isinstance(reads, dict):
        return False
    files, folders, absent, env = (reads.get(k) for k in ("files", "folders", "absent", "env"))
    if not all(isinstance(part, list) for part in (files, folders, absent, env)):
        return False
    return (
        all(
            isinstance(f, list)
            and len(f) == 4
            and isinstance(f[0], str)
            and type(f[1]) is int
            and type(f[2]) is int
            and (f[3] is None or isinstance(f[3], str))
            for f in files
        )
        and all(isinstance(f, list) and len(f) >= 2 and all(isinstance(x, str) for x in f[:2]) for f in folders)
        and all(isinstance(a, str) for a in absent)
        and all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and (e[1] is None or isinstance(e[1], str))
            for e in env
        )
    )


def unchanged(reads: Mapping[str, Any]) -> bool:
    """Whether everything a run read is as it was (the cheap checks first)."""
    if any(os.environ.get(name) != value for name, value in reads["env"]):
        return False
    if any(os.path.lexists(path) for path in reads["absent"]):
        return False
    if not all(folder_unchanged(path, fingerprint) for path, *fingerprint in reads["folders"]):
        return False
    return all(file_unchanged(path, fingerprint) for path, *fingerprint in reads["files"])


# --- the folder of entries -----------------------------------------------------------------------


def cache_folder(project_root: Path | None) -> Path:
    """PARAMINSPECT_CACHE_DIR, else `.paraminspect_cache/` at the project root (see
    config.project_root), else in the working directory."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return (project_root or Path.cwd()) / FOLDER_NAME


class ResultCache:
    """One folder of entries, named by their request key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / ENTRY_FOLDER / f"{key}.json"

    def unsafe(self) -> str | None:
        """Why the cache folder must not be used (a path of it is a symbolic link), or None."""
        for path in (self.folder, self.folder / ".gitignore", self.folder / ENTRY_FOLDER):
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    return f"{path} is a symbolic link: the result cache is not used"
            except OSError:
                continue
        return None

    def lookup(self, key: str) -> Hit | None:
        """The entry for `key` if it can be trusted (see the module docstring) and everything
        it watched is unchanged; anything else is a miss."""
        secret_key = secret()
        if secret_key is None or self.unsafe() is not None:
            return None
        try:
            raw = read_bytes(self._path(key), MAX_ENTRY_BYTES, follow_symlinks=False)
            entry = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != ENTRY_FORMAT:
            return None
        mac = entry.pop("mac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(secret_key, entry)):
            return None
        run, reads = entry.get("run"), entry.get("reads")
        if not isinstance(run, dict) or not _valid_reads(reads) or not reads["files"]:
            return None
        stdout, stderr, code, out_file = (run.get(k) for k in ("stdout", "stderr", "exit_code", "output_file"))
        if not (isinstance(stdout, str) and isinstance(stderr, str) and type(code) is int):
            return None
        if out_file is not None and not isinstance(out_file, str):
            return None
        if not unchanged(reads):
            return None
        files = tuple(f[0] for f in reads["files"])
        return Hit(CachedRun(stdout, stderr, code, out_file), files)

    def store(self, key: str, run: CachedRun, reads: Mapping[str, Any] | Sequence[str]) -> bool:
        """Write the entry atomically; whether it was written. Nothing is written without a
        watched file, without the secret, or through a symbolic link; a cache that cannot be
        written is skipped (a read-only checkout must still be checkable)."""
        if not isinstance(reads, Mapping):
            reads = reads_of_files(reads)
        secret_key = secret()
        if secret_key is None or not reads.get("files") or self.unsafe() is not None:
            return False
        body = {
            "format": ENTRY_FORMAT,
            "key": key,
            "run": {
                "stdout": run.stdout,
                "stderr": run.stderr,
                "exit_code": run.exit_code,
                "output_file": run.output_file,
            },
            "reads": {k: reads.get(k, []) for k in ("files", "folders", "absent", "env")},
        }
        data = json.dumps({**body, "mac": _mac(secret_key, body)}).encode("utf-8", "surrogatepass")
        if len(data) > MAX_ENTRY_BYTES:
            return False
        try:
            self._prepare()
            write_bytes(self._path(key), data, follow_symlinks=False)
        except OSError:
            return False
        return True

    def _prepare(self) -> None:
        for folder in (self.folder, self.folder / ENTRY_FOLDER):
            try:
                os.mkdir(folder, 0o777)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(folder).st_mode):  # a link, a file: never followed
                    raise OSError(errno.ENOTDIR, f"{folder} is not a folder") from None
        ignore = self.folder / ".gitignore"
        if not os.path.lexists(ignore):  # like .pytest_cache and .ruff_cache: never committed
            write_bytes(ignore, b"# Created by paraminspect automatically.\n*\n", follow_symlinks=False)


# --- the key's other parts ---------------------------------------------------------------------


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


def cacheable(specs: Sequence[str], root: Path | None = None) -> bool:
    """Models whose result depends only on the key and on what the run read: factories, timm
    and transformers names. Checkpoint files, Hugging Face folders and caches, and folders to
    discover read files that are not imported modules, so they are not cached."""
    from paraminspect.forms import parse_spec

    for spec in specs:
        if not parse_spec(spec).form.cacheable or (root is not None and (root / spec).is_dir()):
            return False
    return True
