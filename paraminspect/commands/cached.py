"""The result cache around a command (paraminspect.cache: the key, the entries, what makes one
trusted; paraminspect.reads: what a run read). This module decides, in order:

1. `-o` never names a file the models are read from, before anything is read or written (a
   cached answer included);
2. whether the run may be cached at all (the command, the MODEL forms, a cache folder that is
   not a symbolic link);
3. a trusted entry with unchanged inputs answers: its stdout, stderr, -o file and exit code,
   unless `-o` names a file that run read;
4. else the command runs, recording what it prints and what its model processes read, and
   the run is stored when it ended with 0 or 1 and everything it read could be watched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional


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


def _guarded(output_file: Optional[Path], run: Callable[[], int]) -> int:
    """`run()`; with -o, the files the models read are watched so that -o cannot overwrite one."""
    if output_file is None:
        return run()
    from paraminspect.commands.output import protecting
    from paraminspect.runner import watch_sources

    with watch_sources() as watched, protecting(watched.files):
        return run()


def maybe_cached(
    specs: list[str], enabled: bool, output_file: Optional[Path], invocation: Any, run: Callable[[], int]
) -> int:
    """`run()`, or the answer of an earlier run with the same inputs."""
    from paraminspect.commands.arguments import refuse_overwriting
    from paraminspect.config import load_config, project_root, resolve_model_path

    config = None
    if not specs:  # the models come from [tool.paraminspect]
        config = load_config()
        specs = [resolve_model_path(spec, config.root) for spec in config.models]
    refuse_overwriting(output_file, specs)
    if not enabled:
        return _guarded(output_file, run)
    from paraminspect.cache import cache_folder, cacheable

    config = config or load_config()
    if not cacheable(specs, config.root):
        return _guarded(output_file, run)
    return _cached_run(config, cache_folder(project_root()), invocation, output_file, run)


def _cached_run(config: Any, folder: Path, invocation: Any, output_file: Optional[Path], run: Callable[[], int]) -> int:
    from paraminspect.cache import (
        CachedRun,
        ResultCache,
        declared_inputs,
        merge_reads,
        project_files,
        request_key,
        terminal_parts,
    )
    from paraminspect.commands.output import notify, protecting, refuse_inputs, write_file
    from paraminspect.runner import watch_sources

    cache = ResultCache(folder)
    problem = cache.unsafe()
    if problem is not None:
        notify(problem)
        return _guarded(output_file, run)
    parts = {
        "argv": list(invocation.argv),
        "debug": invocation.debug,
        "cwd": os.getcwd(),
        "project": project_files(),
        "terminal": terminal_parts(),
        "declared": declared_inputs(config.root, config.cache_files, config.cache_env),
    }
    key = request_key(parts)
    hit = cache.lookup(key)
    if hit is not None and (hit.run.output_file is None) == (output_file is None):
        if output_file is not None:
            refuse_inputs(output_file, hit.files)
            write_file(output_file, hit.run.output_file or "")
        sys.stdout.write(hit.run.stdout)
        sys.stderr.write(hit.run.stderr)
        return hit.run.exit_code
    out, err = _Recorder(sys.stdout), _Recorder(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        with watch_sources() as watched, protecting(watched.files):
            code = run()
    finally:
        sys.stdout, sys.stderr = saved
    reads = merge_reads(watched.reads) if watched.complete else None
    if code not in (0, 1) or reads is None:
        return code
    written = None
    if output_file is not None:
        from paraminspect.atomic import read_bytes

        try:
            written = read_bytes(output_file, 64 * 1024**2).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return code
    cache.store(key, CachedRun("".join(out.parts), "".join(err.parts), code, written), reads)
    return code
