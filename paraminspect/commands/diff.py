"""`paraminspect diff LEFT RIGHT`: its options, what runs in the child (both sides gathered
and compared), and the report. Imports only the standard library and paraminspect.formats
at module level."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from paraminspect import formats

DIFF_TARGET = "paraminspect.commands.diff:diff_in_child"
EXIT_NOT_LOADABLE = 1


@dataclass(frozen=True)
class DiffOptions:
    """`diff`'s command line, validated by cli.py."""

    left: str
    right: Optional[str]
    left_kwargs: dict[str, Any] = field(default_factory=dict)
    right_kwargs: dict[str, Any] = field(default_factory=dict)
    output_format: str = formats.default(formats.DIFF)
    output_file: Optional[Path] = None
    mapping: Optional[Path] = None
    trust_pickle: bool = False
    trust_remote_code: bool = False
    weights: bool = False
    timeout: Optional[float] = None


@dataclass(frozen=True)
class DiffReport:
    """What a diff renderer gets: the Diff, and where --mapping wrote the renames."""

    diff: Any  # paraminspect.diffs.Diff
    mapping: Optional[str] = None


def diff_in_child(
    left: str,
    right: str | None,
    left_kwargs: dict[str, Any],
    right_kwargs: dict[str, Any],
    trust_pickle: bool = False,
    weights: bool = False,
    trust_remote_code: bool = False,
) -> Any:
    """Both sides gathered and compared here (a Diff of plain, torch-free data); with
    `weights`, RIGHT is LEFT's own weight files."""
    from paraminspect.diffs import diff_sides

    other: Any = right
    if weights:
        from paraminspect.diffs.gather import gather_weights

        other = gather_weights(left, trust_pickle=trust_pickle)
    return diff_sides(
        left,
        other,
        left_kwargs=left_kwargs,
        right_kwargs=right_kwargs,
        trust_pickle=trust_pickle,
        trust_remote_code=trust_remote_code,
    )


def run_diff(options: DiffOptions, invocation: Any) -> int:
    """`diff`: in a child process unless both sides are listings that run no code."""
    from paraminspect.commands.arguments import refuse_overwriting

    if options.right is None and not options.weights:
        from paraminspect.errors import UsageError
        from paraminspect.forms import parse_spec
        from paraminspect.render.safe import printable

        left = printable(options.left)
        example = f"resnet18 {left}" if parse_spec(options.left).form.checkpoint else f"{left} model.safetensors"
        raise UsageError(
            "diff needs LEFT and RIGHT (the model, then the state_dict to load into it), e.g. "
            f"`paraminspect diff {example}`; --weights compares a Hugging Face folder with its own weight files"
        )
    if options.right is not None and options.weights:
        from paraminspect.errors import UsageError

        raise UsageError("diff takes RIGHT or --weights (LEFT's own weight files), not both")
    sides = [options.left, *([options.right] if options.right else [])]
    refuse_overwriting(options.output_file, sides)
    refuse_overwriting(options.mapping, sides)
    if options.output_file is None and options.mapping is None:
        return _diff(options, invocation)
    from paraminspect.commands.output import protecting
    from paraminspect.runner import watch_sources

    with watch_sources() as watched, protecting(watched.files):  # -o never overwrites a file the models read
        return _diff(options, invocation)


def _diff(options: DiffOptions, invocation: Any) -> int:
    import json

    from paraminspect.commands.outcomes import in_child
    from paraminspect.commands.output import EXIT_OK, notify, output_to, write_file
    from paraminspect.forms import parse_spec, preload_for
    from paraminspect.runner import Task, resolve_timeout

    left, right = options.left, options.right
    kwargs = {"left": left, "right": right, "left_kwargs": options.left_kwargs, "right_kwargs": options.right_kwargs}
    kwargs |= {"trust_pickle": options.trust_pickle, "trust_remote_code": options.trust_remote_code}
    kwargs |= {"weights": options.weights}
    sides = (left, right or "")
    if not options.weights and all(parse_spec(side).in_cli(options.trust_pickle) for side in sides):
        result = diff_in_child(**kwargs)  # two safetensors headers: no code runs, no torch needed
    else:
        from paraminspect.commands.outcomes import fetch_hub_configs

        fetch_hub_configs(sides)  # here: the model process has no network
        timeout = resolve_timeout(options.timeout)
        result = in_child(Task(DIFF_TARGET, kwargs, label=f"diff {left}"), timeout, preload_for([left]), invocation)
    for side in (result.left, result.right):
        for message in side.notes:
            notify(f"{side.spec}: {message}")
    if options.mapping is not None:
        if not result.mapping:
            notify("no key mapping applies: writing an empty one")
        write_file(options.mapping, json.dumps(result.mapping, indent=2) + "\n")
    report = DiffReport(result, str(options.mapping) if options.mapping is not None else None)
    with output_to(options.output_file) as out:
        formats.renderer(options.output_format, formats.DIFF)(out, report)
    return EXIT_OK if result.loadable else EXIT_NOT_LOADABLE
