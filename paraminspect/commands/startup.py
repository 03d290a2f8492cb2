"""What model processes import before their task, and when the CLI forks a spare process
(paraminspect.runner.spare) as it starts. Imported by paraminspect.__main__ for every command:
the standard library and paraminspect.forms only."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# torch, the runner's child side and the stages every show/check task uses (a child that
# imports them itself pays ~0.3 s): what a model process imports before its task, in the
# fork server and in a spare.
MODEL_PROCESS_PRELOAD = (
    "torch",
    "paraminspect.runner.child",
    "paraminspect.commands.show",
    "paraminspect.commands.check",
    "paraminspect.loaders.dispatch",
    "paraminspect.loaders.build",
    "paraminspect.loaders.factory",
    "paraminspect.loaders.fastmeta",
    "paraminspect.tensors.walk",
    "paraminspect.tensors.wrappers",
    "paraminspect.checks.engine",
    "paraminspect.checks.unregistered",
    "paraminspect.checks.registered",
    "paraminspect.checks.module_config",
    "paraminspect.checks.runtime",
)
HEAVY = ("timm", "transformers")  # a caller that imported them has its fork server import them too
WARMUP = "paraminspect.commands.warmup"  # last: checks small models in the server (see there)

# `check PATH`: the installed libraries the project imports, for the fork server to import as
# it starts (paraminspect.commands.libraries reads it there).
LIBRARIES_ENV = "PARAMINSPECT_SERVER_LIBRARIES"

SPARE_COMMANDS = ("show", "check", "diff")
_NOT_A_MODEL_RUN = {
    "-h", "--help", "--version", "--weights", "--show-completion", "--install-completion", "--static",
}  # fmt: skip


def server_preload(preload: Sequence[str]) -> tuple[str, ...]:
    """What the fork server imports once, before any task: the stages, what the models need
    (`preload`, see forms.preload_for), the heavy libraries this process has, the warm-up."""
    already = [name for name in HEAVY if name in sys.modules]
    return tuple(dict.fromkeys([*MODEL_PROCESS_PRELOAD, *preload, *already, WARMUP]))


def wants_spare(argv: Sequence[str]) -> bool:
    """Whether this command line (without the program name) will likely run one model in a
    child process, so that a spare importing torch meanwhile saves time. Linux only;
    PARAMINSPECT_NO_SPARE=1 turns it off."""
    if not sys.platform.startswith("linux") or os.environ.get("PARAMINSPECT_NO_SPARE"):
        return False
    if not argv or argv[0] not in SPARE_COMMANDS:
        return False
    from paraminspect.forms import parse_spec

    for arg in argv[1:]:
        if arg in _NOT_A_MODEL_RUN or any(c in arg for c in "*?["):  # help, or a sweep (fork server)
            return False
        if argv[0] == "show" and not arg.startswith("-") and parse_spec(arg).in_cli():
            return False  # listed by the CLI itself
        if argv[0] == "check" and not arg.startswith("-") and parse_spec(arg).form.name == "source-path":
            return False  # `check PATH` forks from the fork server (--static: no model process at all)
    return True
