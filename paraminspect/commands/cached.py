"""The result cache around a command (see paraminspect.cache: the command line, versions,
config, terminal, and every source file the build imported make the key)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional


def maybe_cached(
    specs: list[str], enabled: bool, output_file: Optional[Path], invocation: Any, run: Callable[[], int]
) -> int:
    """`run()`, or the answer of an earlier run with the same inputs."""
    from paraminspect.cache import cache_folder, cacheable, cached_run, project_root

    root = None
    if enabled and not specs:  # the models come from [tool.paraminspect]: judge those
        from paraminspect.config import load_config

        config = load_config()
        specs, root = list(config.models), config.root
    if not enabled or not cacheable(specs, root):
        return run()
    from paraminspect.runner import watch_sources

    parts = {"argv": list(invocation.argv), "debug": invocation.debug}
    return cached_run(cache_folder(project_root()), parts, output_file, run, watch_sources)
