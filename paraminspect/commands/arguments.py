"""What every command reads the same way: the Invocation (the command line as a whole, and
--debug), `-a key=value` factory arguments, and `-o` never naming a file the models are
read from."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Any

from paraminspect.errors import UsageError


@dataclass
class Invocation:
    """What the whole command line set, handed to every command (cli.py makes one per run):
    the arguments, for the result cache's key, and --debug, which the Typer callback sets
    wherever it is given (before or after the subcommand)."""

    argv: tuple[str, ...] = ()
    debug: bool = False


def parse_factory_args(pairs: list[str] | None) -> dict[str, Any]:
    """`-a key=value` pairs -> kwargs; values are Python literals when they parse, else strings."""
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"bad --arg {pair!r}: expected key=value, e.g. -a depth=4")
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key] = raw
    return kwargs


def refuse_overwriting(output: os.PathLike[str] | str | None, specs: list[str]) -> None:
    """-o naming a file the models are read from (a checkpoint, a factory's .py) would
    destroy it: a UsageError before anything runs."""
    if output is None:
        return
    from paraminspect.forms import parse_spec

    for spec in specs:
        for name in parse_spec(spec).input_files():
            try:
                same = os.path.samefile(output, name)
            except OSError:  # either does not exist (yet)
                continue
            if same:
                raise UsageError(f"-o {output} is the input file {name}: refused (it would be overwritten)")
