"""The Typer app: parse options, call the stages, pick a renderer, return an exit code.

No inspection logic lives here. Only typer/click and the standard library are imported at
module level, so `paraminspect --help` never imports torch or timm.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from paraminspect.cli_io import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    NO_CACHE_HELP,
    ChildError,
    PlainFlagsCommand,
    PlainFlagsGroup,
    apply_fixes,
    fix_options,
    in_child,
    maybe_cached,
    model_output,
    notify,
    output_to,
    report_check,
    set_debug,
    show_diff,
    state,
)
from paraminspect.errors import ParamInspectError, Terminated, UsageError
from paraminspect.render.show import TERMINAL_FORMATS, write_show

app = typer.Typer(
    name="paraminspect",
    help="Inspect how every tensor of a PyTorch model is registered, and lint it.",
    cls=PlainFlagsGroup,
    add_completion=True,  # --install-completion / --show-completion
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

SHOW_FORMATS = ("table", "text", "json", "csv", "markdown")  # text: the table, as check's default is text
KINDS = ("parameter", "buffer", "unregistered", "stored", "packed")
TRUST_PICKLE_HELP = "Allow full unpickling of a .pt/.pth/.bin/.ckpt checkpoint (runs code from the file)."
TRUST_REMOTE_CODE_HELP = "Run the code a Hugging Face checkpoint ships (config.json's auto_map)."


MODEL_HELP = (
    "timm name (resnet50, timm:NAME, a partial name such as vit_base), pkg.module:factory, path/to/file.py:factory, "
    "a Hugging Face folder, hf:ORG/NAME or transformers:CLASS"
)
SHOW_MODEL_HELP = f"{MODEL_HELP}, or a checkpoint file (.safetensors, .pt, .pth, .bin, .ckpt, *.index.json)"
DEBUG_OPTION = typer.Option(
    False, "--debug", callback=set_debug, expose_value=False, help="Show the full traceback of errors."
)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {option} {value!r}: use one of {', '.join(allowed)}")
    return value


TIMEOUT_HELP = (
    "A model whose build (and --run pass) takes longer than this many seconds fails "
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
    output_format: str = typer.Option("table", "--format", "-f", help="table (or text), json, csv or markdown."),
    output_file: Optional[Path] = typer.Option(
        None, "-o", "--output-file", help="Write to this file instead of stdout."
    ),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    weights: bool = typer.Option(
        False, "--weights", help="A Hugging Face folder or hf:ORG/NAME: list its weight files (headers only)."
    ),
    dtype: Optional[list[str]] = typer.Option(
        None,
        "--dtype",
        help="Sizes as if loaded in float32, bfloat16, float16, int8 or int4 (repeatable or comma-separated): "
        "weights, largest layer and training with Adam per dtype.",
    ),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=TIMEOUT_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
    debug: bool = DEBUG_OPTION,
) -> int:
    """List every tensor the model (or checkpoint file) holds: kind, grad, shape, dtype, device, size."""
    _choice(output_format, SHOW_FORMATS, "--format")
    if kind is not None:
        _choice(kind, KINDS, "--kind")
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}")
    from paraminspect.tensors.memory import parse_dtypes

    dtypes = parse_dtypes(dtype)

    def build_and_render() -> int:
        from paraminspect.loaders.spec import parse_factory_args, refuse_overwriting
        from paraminspect.registry import preload_for
        from paraminspect.runner import Task, resolve_timeout
        from paraminspect.runner.tasks import SHOW, runs_no_code, show_task

        if weights and arg:
            raise UsageError("--weights lists stored tensors: it takes no -a arguments")
        options = {"kwargs": parse_factory_args(arg), "device": device, "trust_pickle": trust_pickle}
        options |= {"depth": depth, "kind": kind, "name_filter": name_filter, "weights": weights}
        options |= {"trust_remote_code": trust_remote_code, "dtypes": dtypes}
        on_terminal = output_file is None and sys.stdout.isatty()
        # rendered where the records are, unless it needs this process's terminal
        options["render"] = None if on_terminal and output_format in TERMINAL_FORMATS else output_format
        refuse_overwriting(output_file, [model])
        task = Task(SHOW, {"spec": model, **options}, label=model)
        if runs_no_code(model, trust_pickle, weights):
            loaded = show_task(**task.kwargs)
        else:
            loaded = in_child(task, resolve_timeout(timeout), preload_for([model]))
        gc.freeze()  # the records are here: the collector need not rescan them while we render
        for message in loaded.notes:
            notify(message)
        with output_to(output_file) as out:
            write_show(out, loaded, output_format)
        return EXIT_OK

    return maybe_cached([model], not no_cache and not weights, output_file, build_and_render)


CHECK_FORMATS = ("text", "concise", "json", "github", "sarif")
FAIL_ON = ("error", "warning", "info")
CODES_HELP = "comma-separated or repeated codes or prefixes (PI004, PI00)"


@app.command(cls=PlainFlagsCommand)
def check(
    models: Optional[list[str]] = typer.Argument(
        None, help=f"{MODEL_HELP}. Default: the models of tool.paraminspect in pyproject.toml.", show_default=False
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
        "text", "--format", "-f", help="text (each finding with its source line), concise, json, github or sarif."
    ),
    output_file: Optional[Path] = typer.Option(
        None, "-o", "--output-file", help="Write to this file instead of stdout."
    ),
    run: bool = typer.Option(
        False, "--run", help="Also run one forward (and backward) pass on an example input: rules PI101-PI105."
    ),
    input_shape: Optional[str] = typer.Option(
        None, "--input-shape", help="--run: a float input of this shape, e.g. 1,3,32,32."
    ),
    input_dtype: Optional[str] = typer.Option(
        None, "--input-dtype", help="--run: dtype of --input-shape (default: the model's floating dtype)."
    ),
    input_ids: Optional[str] = typer.Option(
        None, "--input-ids", help="--run: int64 token ids of this shape, e.g. 1,16."
    ),
    vocab: Optional[int] = typer.Option(
        None, "--vocab", help="--run: token ids below this (default: the smallest nn.Embedding's size)."
    ),
    example: Optional[str] = typer.Option(
        None, "--example", help="--run: path/file.py:func or pkg.mod:func returning the input."
    ),
    max_cpu_bytes: Optional[str] = typer.Option(
        None,
        "--max-cpu-bytes",
        help="--run: largest model (parameters+buffers) run on CPU when it cannot run on meta "
        "(default 2GiB, or PARAMINSPECT_MAX_CPU_BYTES).",
    ),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    jobs: Optional[int] = typer.Option(
        None,
        "-j",
        "--jobs",
        help="Check N models at a time, each in its own process (default: 1; for timm globs such as "
        "'timm:vit_*', the number of cores). At most the number of cores unless --oversubscribe.",
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
    timeout: Optional[float] = typer.Option(None, "--timeout", help=TIMEOUT_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP + " Never used with --run or --fix."),
    strict: bool = typer.Option(
        False, "--strict", help="check PATH: exit 2 when a module class found there cannot be built (abstract, raises)."
    ),
    debug: bool = DEBUG_OPTION,
) -> int:
    """Lint models: tensors and modules that should be registered (see `paraminspect rules`)."""

    def check_and_report() -> int:
        _choice(output_format, CHECK_FORMATS, "--format")
        fix_codes = fix_options(fix, diff, fix_only, fix_persistent)
        from paraminspect.forward.examples import run_options

        run_opts = run_options(run, input_shape, input_dtype, input_ids, vocab, example, max_cpu_bytes)
        if fail_on is not None:
            _choice(fail_on, FAIL_ON, "--fail-on")
        from paraminspect.loaders.spec import parse_factory_args, refuse_overwriting
        from paraminspect.plan import plan_check
        from paraminspect.registry import check_many, preload_for
        from paraminspect.render.progress import progress_bar
        from paraminspect.runner import resolve_jobs, resolve_timeout

        plan = plan_check(
            models or [],
            kwargs=parse_factory_args(arg),
            device=device,
            select=select,
            ignore=ignore,
            fail_on=fail_on,
            run=run_opts,
            trust_pickle=trust_pickle,
            trust_remote_code=trust_remote_code,
            timeout=resolve_timeout(timeout) if timeout is not None else None,
        )
        for message in plan.notes:
            notify(message)
        tasks, path_run = list(plan.tasks), None
        if plan.paths:  # `check src/`: the module classes defined there, found in a child process
            from paraminspect.discover.paths import discover_paths

            path_run = discover_paths(plan, plan.timeout)
            model_output(path_run.output)
            tasks += path_run.tasks
            for message in path_run.notes():
                notify(message)
        specs = [task.spec for task in tasks]
        refuse_overwriting(output_file, [task.options.get("load_spec") or task.spec for task in tasks])
        workers, note = resolve_jobs(jobs, len(specs), plan.registry_run, oversubscribe)
        if note:
            notify(note)

        def run_checks() -> list[Any]:
            """Each model in a child process of its own (so a re-check after --fix imports the
            files as they are now)."""
            if not tasks:
                return []
            with progress_bar(len(tasks), sys.stderr) as advance:
                return check_many(tasks, workers, plan.timeout, preload=preload_for(specs), on_result=advance)

        results = run_checks()
        for result in results:
            label = None if len(specs) == 1 else result.spec
            model_output(result.output, label)
            if state["debug"] and result.traceback:
                sys.stderr.write(result.traceback)
            for message in result.notes:
                notify(message if label is None else f"{label}: {message}")
        if fix or diff:
            persistent = fix_persistent or plan.fix_persistent
            if diff:
                return show_diff(results, fix_codes, persistent, output_file)
            results = apply_fixes(results, fix_codes, persistent, run_checks)
        if path_run is None:
            return report_check(results, output_format, output_file, plan.fail_on, registry=plan.registry_run)
        results, extra = path_run.report(results, strict)
        return report_check(results, output_format, output_file, plan.fail_on, registry=True, **extra)

    use_cache = not (no_cache or run or fix or diff)
    return maybe_cached(list(models or []), use_cache, output_file, check_and_report)


@app.command(cls=PlainFlagsCommand)
def rules(debug: bool = DEBUG_OPTION) -> int:
    """List every rule: code, name, default severity and summary."""
    from paraminspect.checks import all_rules
    from paraminspect.render.console import make_console
    from paraminspect.render.findings import print_rules

    with output_to(None) as out:
        print_rules(make_console(out), list(all_rules().values()))
    return EXIT_OK


@app.command(cls=PlainFlagsCommand)
def explain(
    code: str = typer.Argument(..., help="A rule code, e.g. PI004.", show_default=False), debug: bool = DEBUG_OPTION
) -> int:
    """Why a rule's finding is a problem, an example, and the fix."""
    import difflib

    from paraminspect.checks import all_rules
    from paraminspect.render.console import make_console
    from paraminspect.render.findings import print_explanation

    catalog = all_rules()
    rule = catalog.get(code.strip().upper())
    if rule is None:
        close = difflib.get_close_matches(code.strip().upper(), list(catalog), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown rule code {code!r}{hint}: run `paraminspect rules` for the list")
    with output_to(None) as out:
        print_explanation(make_console(out), rule)
    return EXIT_OK


DIFF_FORMATS = ("text", "json")
EXIT_NOT_LOADABLE = 1


@app.command(cls=PlainFlagsCommand)
def diff(
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
    output_format: str = typer.Option("text", "--format", "-f", help="text or json."),
    output_file: Optional[Path] = typer.Option(
        None, "-o", "--output-file", help="Write to this file instead of stdout."
    ),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="Write the suggested key renames {old_name: new_name} to this JSON file."
    ),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help=TRUST_PICKLE_HELP),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help=TRUST_REMOTE_CODE_HELP),
    weights: bool = typer.Option(
        False, "--weights", help="RIGHT is LEFT's own weight files (LEFT: a Hugging Face folder or hf:ORG/NAME)."
    ),
    debug: bool = DEBUG_OPTION,
) -> int:
    """Will RIGHT's state_dict load into LEFT? Which keys differ, and why (no tensor data is read)."""
    _choice(output_format, DIFF_FORMATS, "--format")
    from paraminspect.loaders.spec import parse_factory_args, refuse_overwriting
    from paraminspect.registry import preload_for
    from paraminspect.runner import Task, resolve_timeout
    from paraminspect.runner.tasks import DIFF, diff_task, runs_no_code

    if (right is None) == (not weights):
        raise UsageError("diff needs RIGHT (a checkpoint file or a MODEL) or --weights, not both")
    kwargs = parse_factory_args(arg)
    right_kwargs = parse_factory_args(right_arg) if right_arg else kwargs
    refuse_overwriting(output_file, [left, *([right] if right else [])])
    options = {"left": left, "right": right, "left_kwargs": kwargs, "right_kwargs": right_kwargs}
    options |= {"trust_pickle": trust_pickle, "trust_remote_code": trust_remote_code, "weights": weights}
    if all(runs_no_code(spec, trust_pickle, weights) for spec in (left, right or "")):
        result = diff_task(**options)  # two safetensors headers: no code runs, no torch needed
    else:
        result = in_child(Task(DIFF, options, label=f"diff {left}"), resolve_timeout(None), preload_for([left]))
    for side in (result.left, result.right):
        for message in side.notes:
            notify(f"{side.spec}: {message}")
    if mapping is not None:
        import json

        if not result.mapping:
            notify("no key mapping applies: writing an empty one")
        try:
            mapping.write_text(json.dumps(result.mapping, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {mapping}: {exc.strerror}") from None
    with output_to(output_file) as out:
        if output_format == "json":
            from paraminspect.render.diff import diff_json

            out.write(diff_json(result))
        else:
            from paraminspect.render.console import make_console
            from paraminspect.render.diff import print_diff

            print_diff(make_console(out), result, str(mapping) if mapping is not None else None)
    return EXIT_OK if result.loadable else EXIT_NOT_LOADABLE


def _is_usage_error(exc: BaseException) -> bool:
    """click's UsageError family, whether typer vendors click (typer>=0.2x) or not."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__) and hasattr(exc, "format_message")


def _run(argv: Optional[list[str]]) -> int:
    state["argv"] = list(sys.argv[1:] if argv is None else argv)
    state["debug"] = False
    try:
        result = app(args=argv, prog_name="paraminspect", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Terminated as exc:
        sys.stderr.write("terminated\n")
        return 128 + exc.signum
    except ParamInspectError as exc:
        from paraminspect.render.safe import one_line

        if state["debug"] and not isinstance(exc, ChildError):
            traceback.print_exc()
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `paraminspect`: typer printed the help
            return EXIT_ERROR  # once, on stdout, and exits 2 like typer's own no_args_is_help
        if _is_usage_error(exc):
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            sys.stderr.write(f"error: {exc.format_message()}{hint}\n")  # type: ignore[attr-defined]
            return EXIT_ERROR
        if state["debug"]:
            traceback.print_exc()
        from paraminspect.render.safe import one_line

        first = one_line((str(exc).strip().splitlines() or [""])[0])
        sys.stderr.write(
            f"error: internal error: {type(exc).__name__}: {first} "
            "(a paraminspect bug; rerun with --debug for the traceback)\n"
        )
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
    if _fast_exit_allowed():
        os._exit(code)
    sys.exit(code)
