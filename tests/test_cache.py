"""The result cache: hits only while every watched file is unchanged; corrupt or foreign
entries are misses, never trusted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from paraminspect.cache import (
    CACHE_DIR_ENV,
    ENTRY_FOLDER,
    FOLDER_NAME,
    CachedRun,
    ResultCache,
    cache_folder,
    imported_sources,
    request_key,
)

RUN = CachedRun(stdout="table\n", stderr="note: x\n", exit_code=1)


def _source(tmp_path: Path, text: str = "x = 1\n") -> Path:
    path = tmp_path / "model.py"
    path.write_text(text)
    return path


def test_hit_returns_what_was_stored(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    src = _source(tmp_path)
    key = request_key({"argv": ["check", "m.py:build"]})
    cache.store(key, RUN, [str(src)])
    hit = cache.lookup(key)
    assert hit is not None and hit.run == RUN and hit.files == (str(src),)
    assert (tmp_path / "c" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_key_covers_the_command_line(tmp_path: Path) -> None:
    assert request_key({"argv": ["check", "a"]}) == request_key({"argv": ["check", "a"]})
    assert request_key({"argv": ["check", "a"]}) != request_key({"argv": ["check", "a", "-a", "depth=2"]})


def test_edit_of_a_watched_file_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    src = _source(tmp_path)
    old = time.time() - 3600
    os.utime(src, (old, old))  # not racy: size + mtime decide
    cache.store("k", RUN, [str(src)])
    assert cache.lookup("k") is not None
    src.write_text("x = 22\n")
    assert cache.lookup("k") is None


def test_same_size_edit_with_the_same_mtime_is_seen_by_the_hash(tmp_path: Path) -> None:
    # Written within the racy window: the entry also records a content hash.
    cache = ResultCache(tmp_path / "c")
    src = _source(tmp_path, "x = 1\n")
    cache.store("k", RUN, [str(src)])
    stat = src.stat()
    src.write_text("x = 2\n")
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as before
    assert cache.lookup("k") is None


def test_deleted_watched_file_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    src = _source(tmp_path)
    cache.store("k", RUN, [str(src)])
    src.unlink()
    assert cache.lookup("k") is None


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[]",
        "\xff",
        '{"format": 2, "key": "other", "run": {}, "reads": {}}',
        '{"format": 2, "key": "k", "run": {"stdout": 1, "stderr": "", "exit_code": 0}, "reads": {}}',
        '{"format": 2, "key": "k", "run": {"stdout": "", "stderr": "", "exit_code": true}, "reads": {}}',
        '{"format": 9, "key": "k", "run": {"stdout": "", "stderr": "", "exit_code": 0}, "reads": {}}',
        "[" * 100_000,
    ],
)
def test_corrupt_or_foreign_entries_are_misses(tmp_path: Path, content: str) -> None:
    cache = ResultCache(tmp_path / "c")
    src = _source(tmp_path)
    assert cache.store("k", RUN, [str(src)])
    entry = tmp_path / "c" / ENTRY_FOLDER / "k.json"
    entry.write_text(content, encoding="utf-8", errors="surrogateescape")
    assert cache.lookup("k") is None


def test_unwritable_cache_folder_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ResultCache(blocker / "c")
    assert not cache.store("k", RUN, [str(_source(tmp_path))])  # no exception
    assert cache.lookup("k") is None


def test_folder_beside_the_project_or_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    assert cache_folder(tmp_path) == tmp_path / FOLDER_NAME
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    assert cache_folder(tmp_path) == tmp_path / "elsewhere"


def test_imported_sources_skip_the_standard_library_and_versioned_libraries() -> None:
    import json as stdlib_module

    import torch

    import paraminspect.cache as ours

    found = imported_sources([stdlib_module, torch, ours])
    assert found == [os.path.realpath(ours.__file__)]


def test_imported_sources_see_modules_imported_since_the_last_call(tmp_path: Path, monkeypatch) -> None:
    """A worker asks after every model: what it decided before is kept, what was imported
    since (or stands in for a module, computing __file__) is looked at."""
    import importlib
    import sys
    import types

    first = imported_sources()
    (tmp_path / "imported_later_mod.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("imported_later_mod")

    class StandIn(types.ModuleType):
        @property
        def __file__(self) -> str:  # type: ignore[override]
            return str(tmp_path / "stand_in.py")

    (tmp_path / "stand_in.py").write_text("y = 2\n")
    monkeypatch.setitem(sys.modules, "stand_in_mod", StandIn("stand_in_mod"))
    later = imported_sources()
    added = {os.path.realpath(tmp_path / "imported_later_mod.py"), os.path.realpath(tmp_path / "stand_in.py")}
    assert set(later) == set(first) | added
    monkeypatch.delitem(sys.modules, "imported_later_mod")


def test_entries_are_json(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    cache.store("k", RUN, [str(_source(tmp_path))])
    entry = json.loads((tmp_path / "c" / ENTRY_FOLDER / "k.json").read_text())
    assert entry["run"]["exit_code"] == 1 and entry["key"] == "k"
