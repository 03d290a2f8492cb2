"""The Typer app: parse options into each command's options dataclass, call the command
(paraminspect.commands), turn what ends it into an exit code.

No inspection logic lives here. Only typer/click and the standard library are imported at
module level (and paraminspect.forms/formats, which import nothing else), so
`paraminspect --help` never imports torch or timm.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from paraminspect import formats
from paraminspect.commands.arguments import Invocation
from paraminspect.commands.outcomes import ChildError, bug_message
from paraminspect.commands.output import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from paraminspect.errors import ParamInspectError, Terminated, UsageError
from paraminspect.forms import BY_NAME, HF_PREFIX, TIMM_PREFIX, model_help


def markup_safe(text: str) -> str:
    """Help text as rich shows it literally: typer renders help as rich markup, which takes
    `[tool.paraminspect]` for a style tag and drops it. Every `[` is escaped (a backslash
    before one is doubled, as rich.markup.escape does)."""
    return re.sub(r"(\\*)\[", lambda m: m.group(1) * 2 + "\\[", text)


class _PlainFlags:
    """Help lists a boolean flag as `--run`, not `--run <bool>` (typer's rich help shows a
    type for every option, flags included), and every help text literally (markup_safe)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
            help_text = getattr(param, "help", None)
            if help_text and not getattr(param, "_markup_safe", False):  # get_params runs more than once
                param.help = markup_safe(help_text)
                param._markup_safe = True
        if self.help and not getattr(self, "_markup_safe", False):  # type: ignore[attr-defined]
            self.help = markup_safe(self.help)  # type: ignore[attr-defined]
            self._markup_safe = True
        return params


class PlainFlagsGroup(_PlainFlags, TyperGroup):
    pass


class PlainFlagsCommand(_PlainFlags, TyperCommand):
    pass


def set_debug(ctx: typer.Context, value: bool) -> None:
    """`--debug`, before the subcommand or after it (`show x --debug`)."""
    if value and isinstance(ctx.obj, Invocation):
        ctx.obj.debug = True


def _invocation(ctx: typer.Context) -> Invocation:
    return ctx.obj if isinstance(ctx.obj, Invocation) else Invocation()


app = typer.Typer(
    name="paraminspect",
    help="Inspect how every tensor of a PyTorch model is registered, and lint it.",
    cls=PlainFlagsGroup,
    add_completion=True,  # --install-completion / --show-completion
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

KINDS = ("parameter", "buffer", "unregistered", "stored", "packed")
TRUST_PICKLE_HELP = (
    f"Allow full unpickling of a {'/'.join(BY_NAME['torch-file'].suffixes)} checkpoint (runs code from the file)."
)
TRUST_REMOTE_CODE_HELP = "Run the code a Hugging Face checkpoint ships (config.json's auto_map)."
NO_CACHE_HELP = "Run even when an unchanged earlier run could answer from .paraminspect_cache/."

MODEL_HELP = model_help()
SHOW_MODEL_HELP = model_help(checkpoints=True)
OUTPUT_FILE_OPTION = typer.Option(None, "-o", "--output-file", help="Write to this file instead of stdout.")
DEBUG_OPTION = typer.Option(
    False, "--debug", callback=set_debug, expose_value=False, help="Show the full traceback of errors."
)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {option} {value!r}: use one of {', '.join(allowed)}")
    return value


# The example input of a forward pass: `check --run` and `show` (output shapes, FLOPs,
# activations) take the same options, defined once here; check's help adds "with --run".
def _input_help(text: str, with_run: bool) -> str:
    return f"{text} (with --run)." if with_run else f"{text}."


def input_shape_option(with_run: bool) -> Any:
    return typer.Option(
        None,
        "--input-shape",
        help=_input_help("Example input: a float tensor of this shape, e.g. 1,3,224,224", with_run),
    )


def input_ids_option(with_run: bool) -> Any:
    return typer.Option(
        None, "--input-ids", help=_input_help("Example input: int64 token ids of this shape, e.g. 1,16", with_run)
    )


def example_option(with_run: bool) -> Any:
    return typer.Option(
        None, "--example", help=_input_help("Example input: path/file.py:func or pkg.mod:func returning it", with_run)
    )


INPUT_DTYPE_OPTION = typer.Option(
    None, "--input-dtype", help="Dtype of --input-shape (default: the model's floating dtype)."
)
VOCAB_OPTION = typer.Option(None, "--vocab", help="--input-ids below this (default: the smallest nn.Embedding's size).")
MAX_CPU_BYTES_OPTION = typer.Option(
    None,
    "--max-cpu-bytes",
    help="Largest model (parameters+buffers) run on CPU when the example input cannot run on meta "
    "(default 2GiB, or PARAMINSPECT_MAX_CPU_BYTES).",
)


def timeout_help(with_run: bool) -> str:
    during = "build (and --run pass)" if with_run else "build"
    return (
        f"A model whose {during} takes longer than this many seconds fails "
        "(default 120, or timeout in [tool.paraminspect])."
    )


def _print_version(value: bool) -> None:
    if value:
        from paraminspect import __version__

        sys.stdout.write(f"paraminspect {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = DEBUG_OPTION,
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """--debug is accepted here and after any subcommand (DEBUG_OPTION sets it)."""


@app.command(cls=PlainFlagsCommand)
def show(
    ctx: typer.Context,
    model: str = typer.Argument(..., help=SHOW_MODEL_HELP, show_default=False),
    arg: Optional[list[str]] = typer.Option(
        None, "-a", "--arg", help="Factory keyword argument key=value (repeatable)."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="Build on meta (default), cpu, cuda or cuda:N."),
    depth: Optional[int] = typer.Option(
        None, "--depth", help="Per-module totals down to this depth instead of per-tensor rows."
    ),
    name_filter: Optional[str] = typer.Option(None, "--filter", help="Only tensors whose name matches this glob."),
    kind: Optional[str] = typer.Option(
        None, "--kind", help="Only tensors of this kind: parameter, buffer, unregistered, stored, packed."
    ),
    output_format: str = typer.Option(
        formats.default(formats.SHOW), "--format", "-f", help=formats.help_text(formats.SHOW)
    ),
    output_file: Optional[Path] = OUTPUT_FILE_OPTION,
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    weights: bool = typer.Option(
        False, "--weights", help=f"A Hugging Face folder or {HF_PREFIX}ORG/NAME: list its weight files (headers only)."
    ),
    dtype: Optional[list[str]] = typer.Option(
        None,
        "--dtype",
        help="Sizes as if loaded in float32, bfloat16, float16, int8 or int4 (repeatable or comma-separated): "
        "weights, largest layer and training with Adam per dtype (with an example input, activations too).",
    ),
    input_shape: Optional[str] = input_shape_option(with_run=False),
    input_dtype: Optional[str] = INPUT_DTYPE_OPTION,
    input_ids: Optional[str] = input_ids_option(with_run=False),
    vocab: Optional[int] = VOCAB_OPTION,
    example: Optional[str] = example_option(with_run=False),
    max_cpu_bytes: Optional[str] = MAX_CPU_BYTES_OPTION,
    tree: bool = typer.Option(False, "--tree", help="The module tree (down to --depth), one module a line."),
    no_collapse: bool = typer.Option(
        False, "--no-collapse", help="One row per tensor or module: do not fold repeated blocks into one row."
    ),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=timeout_help(with_run=False)),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
    debug: bool = DEBUG_OPTION,
) -> int:
    """List every tensor the model (or checkpoint file) holds: kind, grad, shape, dtype, device, size.
    With an example input (--input-shape, --input-ids, --example): output shapes, FLOPs and activation memory."""
    _choice(output_format, formats.choices(formats.SHOW), "--format")
    if kind is not None:
        _choice(kind, KINDS, "--kind")
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}")
    from paraminspect.commands.arguments import parse_factory_args
    from paraminspect.commands.show import ShowOptions, run_show
    from paraminspect.forward.examples import example_options
    from paraminspect.tensors.memory import parse_dtypes

    options = ShowOptions(
        model=model,
        kwargs=parse_factory_args(arg),
        device=device,
        depth=depth,
        kind=kind,
        name_filter=name_filter,
        output_format=output_format,
        output_file=output_file,
        trust_pickle=trust_pickle,
        trust_remote_code=trust_remote_code,
        weights=weights,
        dtypes=parse_dtypes(dtype),
        timeout=timeout,
        no_cache=no_cache,
        run=example_options(input_shape, input_dtype, input_ids, vocab, example, max_cpu_bytes),
        tree=tree,
        collapse=not no_collapse,
    )
    return run_show(options, _invocation(ctx))


FAIL_ON = ("error", "warning", "info")
CODES_HELP = "comma-separated or repeated codes or prefixes (PI004, PI00)"


@app.command(cls=PlainFlagsCommand)
def check(
    ctx: typer.Context,
    models: Optional[list[str]] = typer.Argument(
        None,
        help=f"A folder or .py file (src/, model.py: every nn.Module class defined there), or a MODEL: {MODEL_HELP}. "
        "Default: the models of tool.paraminspect in pyproject.toml.",
        show_default=False,
        metavar="PATH|MODEL",
    ),
    arg: Optional[list[str]] = typer.Option(
        None, "-a", "--arg", help="Factory keyword argument key=value (repeatable)."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="Build on meta (default), cpu, cuda or cuda:N."),
    select: Optional[list[str]] = typer.Option(None, "--select", help=f"Rules to run: {CODES_HELP}. Default: all."),
    ignore: Optional[list[str]] = typer.Option(None, "--ignore", help=f"Rules to skip: {CODES_HELP}."),
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", help="Exit 1 on findings at or above: error, warning (default) or info."
    ),
    output_format: str = typer.Option(
        formats.default(formats.CHECK), "--format", "-f", help=formats.help_text(formats.CHECK)
    ),
    output_file: Optional[Path] = OUTPUT_FILE_OPTION,
    run: bool = typer.Option(
        False, "--run", help="Also run one forward (and backward) pass on an example input: rules PI101-PI105."
    ),
    input_shape: Optional[str] = input_shape_option(with_run=True),
    input_dtype: Optional[str] = INPUT_DTYPE_OPTION,
    input_ids: Optional[str] = input_ids_option(with_run=True),
    vocab: Optional[int] = VOCAB_OPTION,
    example: Optional[str] = example_option(with_run=True),
    max_cpu_bytes: Optional[str] = MAX_CPU_BYTES_OPTION,
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    jobs: Optional[int] = typer.Option(
        None,
        "-j",
        "--jobs",
        help="Check N models at a time, each in its own process (default: 1; for timm globs such as "
        f"'{TIMM_PREFIX}vit_*', the number of cores). At most the number of cores unless --oversubscribe.",
    ),
    fix: bool = typer.Option(
        False, "--fix", help="Rewrite the assignments of fixable findings ([*]), then build and check again."
    ),
    diff: bool = typer.Option(
        False, "--diff", help="Print the fixes as a unified diff and change nothing (exit 1 when there are some)."
    ),
    fix_only: Optional[list[str]] = typer.Option(
        None, "--fix-only", help=f"With --fix/--diff, only the fixes of these rules: {CODES_HELP}."
    ),
    fix_persistent: bool = typer.Option(
        False, "--fix-persistent", help="PI002 fixes register persistent buffers (saved by state_dict())."
    ),
    oversubscribe: bool = typer.Option(False, "--oversubscribe", help="Allow -j above the number of cores."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=timeout_help(with_run=True)),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP + " Never used with --run or --fix."),
    strict: bool = typer.Option(
        False, "--strict", help="check PATH: exit 2 when a module class found there cannot be built (abstract, raises)."
    ),
    static: bool = typer.Option(
        False, "--static", help="check PATH: only read the source (no torch, nothing imported or built)."
    ),
    force_exclude: bool = typer.Option(
        False, "--force-exclude", help="check PATH: the skip rules (tests/, exclude) apply to the paths named too."
    ),
    show_settings: bool = typer.Option(
        False, "--show-settings", help="Print the project root, the configuration file used and its settings; exit."
    ),
    shard: Optional[str] = typer.Option(
        None, "--shard", help="Check only shard K of N (K/N) of the expanded models; join the JSON outputs with merge."
    ),
    durations: Optional[Path] = typer.Option(
        None, "--durations", help="Split --shard by the durations recorded in this JSON file (else by stable hash)."
    ),
    store_durations: bool = typer.Option(
        False, "--store-durations", help="Record how long each model took in the --durations file."
    ),
    changed_since: Optional[str] = typer.Option(
        None,
        "--changed-since",
        help="check PATH: only the classes in files changed since this git ref, and in the files importing them.",
    ),
    debug: bool = DEBUG_OPTION,
) -> int:
    """Lint models: tensors and modules that should be registered (see `paraminspect rules`).
    `check src/` (as CI runs it) or `check model.py`: every nn.Module class defined there; `check MODEL`: one."""
    _choice(output_format, formats.choices(formats.CHECK), "--format")
    from paraminspect.commands.arguments import parse_factory_args
    from paraminspect.commands.check import CheckOptions, run_check
    from paraminspect.commands.check_fixes import fix_codes
    from paraminspect.commands.shard import parse_shard
    from paraminspect.forward.examples import run_options

    codes = fix_codes(fix, diff, fix_only, fix_persistent)
    run_opts = run_options(run, input_shape, input_dtype, input_ids, vocab, example, max_cpu_bytes)
    if fail_on is not None:
        _choice(fail_on, FAIL_ON, "--fail-on")
    options = CheckOptions(
        models=tuple(models or ()),
        kwargs=parse_factory_args(arg),
        device=device,
        select=select,
        ignore=ignore,
        fail_on=fail_on,
        output_format=output_format,
        output_file=output_file,
        run=run_opts,
        trust_pickle=trust_pickle,
        trust_remote_code=trust_remote_code,
        jobs=jobs,
        fix=fix,
        diff=diff,
        fix_codes=codes,
        fix_persistent=fix_persistent,
        oversubscribe=oversubscribe,
        timeout=timeout,
        no_cache=no_cache,
        strict=strict,
        static=static,
        force_exclude=force_exclude,
        show_settings=show_settings,
        shard=parse_shard(shard) if shard is not None else None,
        durations=durations,
        store_durations=store_durations,
        changed_since=changed_since,
    )
    return run_check(options, _invocation(ctx))


@app.command(cls=PlainFlagsCommand)
def merge(
    files: list[Path] = typer.Argument(
        ...,
        help="The JSON outputs of `check --shard K/N --format json`, every shard once.",
        show_default=False,
        metavar="SHARD.json...",
    ),
    output_format: str = typer.Option(
        formats.default(formats.MERGE), "--format", "-f", help=formats.help_text(formats.MERGE)
    ),
    output_file: Optional[Path] = OUTPUT_FILE_OPTION,
    durations: Optional[Path] = typer.Option(
        None, "--durations", help="With --store-durations: the durations file to update with every shard's models."
    ),
    store_durations: bool = typer.Option(
        False, "--store-durations", help="Record how long each model took in the --durations file."
    ),
    debug: bool = DEBUG_OPTION,
) -> int:
    """Join shards' check outputs into the report (and exit code) of the unsplit run."""
    _choice(output_format, formats.choices(formats.MERGE), "--format")
    from paraminspect.commands.merge import MergeOptions, run_merge

    options = MergeOptions(
        files=tuple(files),
        output_format=output_format,
        output_file=output_file,
        durations=durations,
        store_durations=store_durations,
    )
    return run_merge(options)


@app.command(cls=PlainFlagsCommand)
def rules(debug: bool = DEBUG_OPTION) -> int:
    """List every rule: code, name, default severity and summary."""
    from paraminspect.commands.catalog import run_rules

    return run_rules()


@app.command(cls=PlainFlagsCommand)
def explain(
    code: str = typer.Argument(..., help="A rule code, e.g. PI004.", show_default=False), debug: bool = DEBUG_OPTION
) -> int:
    """Why a rule's finding is a problem, an example, and the fix."""
    from paraminspect.commands.catalog import run_explain

    return run_explain(code)


@app.command(cls=PlainFlagsCommand)
def diff(
    ctx: typer.Context,
    left: str = typer.Argument(
        ...,
        help=f"The target, as in LEFT.load_state_dict(RIGHT): {MODEL_HELP}, or a checkpoint file.",
        show_default=False,
    ),
    right: Optional[str] = typer.Argument(
        None, help="The state_dict to load: a checkpoint file or a MODEL (or --weights).", show_default=False
    ),
    arg: Optional[list[str]] = typer.Option(
        None, "-a", "--arg", help="Factory keyword argument key=value for model sides (repeatable)."
    ),
    right_arg: Optional[list[str]] = typer.Option(
        None, "--right-arg", help="Factory keyword argument for RIGHT only (replaces -a there; repeatable)."
    ),
    output_format: str = typer.Option(
        formats.default(formats.DIFF), "--format", "-f", help=formats.help_text(formats.DIFF)
    ),
    output_file: Optional[Path] = OUTPUT_FILE_OPTION,
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="Write the suggested key renames {old_name: new_name} to this JSON file."
    ),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    weights: bool = typer.Option(
        False,
        "--weights",
        help=f"RIGHT is LEFT's own weight files (LEFT: a Hugging Face folder or {HF_PREFIX}ORG/NAME).",
    ),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=timeout_help(with_run=False)),
    debug: bool = DEBUG_OPTION,
) -> int:
    """Will RIGHT's state_dict load into LEFT? Which keys differ, and why (no tensor data is read)."""
    _choice(output_format, formats.choices(formats.DIFF), "--format")
    from paraminspect.commands.arguments import parse_factory_args
    from paraminspect.commands.diff import DiffOptions, run_diff

    kwargs = parse_factory_args(arg)
    options = DiffOptions(
        left=left,
        right=right,
        left_kwargs=kwargs,
        right_kwargs=parse_factory_args(right_arg) if right_arg else kwargs,
        output_format=output_format,
        output_file=output_file,
        mapping=mapping,
        trust_pickle=trust_pickle,
        trust_remote_code=trust_remote_code,
        weights=weights,
        timeout=timeout,
    )
    return run_diff(options, _invocation(ctx))


def _is_usage_error(exc: BaseException) -> bool:
    """click's UsageError family, whether typer vendors click (typer>=0.2x) or not."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__) and hasattr(exc, "format_message")


def _run(argv: Optional[list[str]]) -> int:
    invocation = Invocation(argv=tuple(sys.argv[1:] if argv is None else argv))
    try:
        result = app(args=argv, prog_name="paraminspect", standalone_mode=False, obj=invocation)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Terminated as exc:
        sys.stderr.write("terminated\n")
        return 128 + exc.signum
    except ParamInspectError as exc:
        from paraminspect.commands.output import error_line

        if invocation.debug and not isinstance(exc, ChildError):
            traceback.print_exc()
        error_line(str(exc))  # wrapped at words on a terminal
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `paraminspect`: typer printed the help
            return EXIT_ERROR  # once, on stdout, and exits 2 like typer's own no_args_is_help
        if _is_usage_error(exc):
            from paraminspect.commands.output import error_line

            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            error_line(f"{exc.format_message()}{hint}")  # type: ignore[attr-defined]
            return EXIT_ERROR
        if invocation.debug:
            traceback.print_exc()
        from paraminspect.errors import exception_line
        from paraminspect.render.safe import one_line

        sys.stderr.write(f"error: {one_line(bug_message(exception_line(exc)))}\n")
        return EXIT_ERROR
    if result == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a silent return of 130
        sys.stderr.write("interrupted\n")
    return int(result) if isinstance(result, int) else EXIT_OK


def _finish_output(code: int) -> int:
    """Flush stdout and stderr (-o files are closed by the command). A reader that went away
    is not an error; a write that failed (disk full) is."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        try:  # nothing may write to the closed pipe again, not even the interpreter's last flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    except OSError as exc:
        sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
        code = max(code, EXIT_ERROR)
    try:
        sys.stderr.flush()
    except OSError:
        pass
    return code


def _run_command(argv: Optional[list[str]]) -> int:
    try:
        return _run(argv)
    except SystemExit as exc:  # click ends a broken pipe outside output_to() with SystemExit(1)
        if isinstance(exc.__context__, BrokenPipeError):  # `--help | head -1`: the reader went away
            return EXIT_OK
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")  # what sys.exit("message") would print
        return 1


def restore_sigint() -> None:
    """Ctrl-C works even when the CLI was started with SIGINT ignored (a shell's `trap '' INT`,
    a CI runner): it ends the model's child processes and exits 130."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Optional[list[str]] = None) -> NoReturn:
    """Run the CLI and leave through SystemExit (what in-process callers and tests expect)."""
    restore_sigint()
    sys.exit(_finish_output(_run_command(argv)))


def _fast_exit_allowed() -> bool:
    return not os.environ.get("PARAMINSPECT_NO_FAST_EXIT") and "coverage" not in sys.modules


def entry() -> NoReturn:
    """The process entry point (console script, `python -m paraminspect`). Once every output
    is written, flushed and closed, it ends the process with os._exit: tearing down an
    interpreter that imported torch (and timm) costs ~0.5-0.9 s and >100 MiB of peak memory
    for nothing a read-only CLI needs. PARAMINSPECT_NO_FAST_EXIT=1 (or coverage being loaded)
    keeps the normal exit, for tools that rely on atexit."""
    restore_sigint()
    code = _finish_output(_run_command(None))
    spare = sys.modules.get("paraminspect.runner.spare")  # started by paraminspect.__main__
    if spare is not None:
        spare.discard()  # a model process the command did not need
    strays = sys.modules.get("paraminspect.runner.strays")  # marked by paraminspect.__main__
    if strays is not None:
        strays.end_everything()  # the fork server, its resource tracker, anything a model left
    if _fast_exit_allowed():
        os._exit(code)
    sys.exit(code)
