"""Imported by the runner's fork server before its warm-up, for `check PATH`: the installed
libraries the project's files import (`torchvision`, `einops`; named in
PARAMINSPECT_SERVER_LIBRARIES by the CLI, which read them from the static pass), so that
each class's process, forked from the server, does not import them again (vit-pytorch's
files import torchvision, ~3 s of CPU in every process otherwise).

Only libraries from a site-packages folder are named (never the project's own code), and
whatever one of them does at import (an exception, SystemExit, output) is swallowed here:
a class that needs it fails in its own process with its own message.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os

from paraminspect.commands.startup import LIBRARIES_ENV


def _import_all(names: list[str]) -> None:
    sink = io.StringIO()
    for name in names:
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                importlib.import_module(name)
        except BaseException:  # SystemExit too: the server must live on
            continue


_import_all([n for n in os.environ.get(LIBRARIES_ENV, "").split(",") if n])
