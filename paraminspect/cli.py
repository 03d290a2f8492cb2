"""The Typer app: parse options, call the stages, pick a renderer, return an exit code.

No inspection logic lives here. Only typer/click and the standard library are imported at
module level, so `paraminspect --help` never imports torch or timm.
"""

from __future__ import annotations

import fnmatch
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn, Optional

import typer

from paraminspect.errors import ParamInspectError, UsageError

app = typer.Typer(
    name="paraminspect",
    help="Inspect how every tensor of a PyTorch model is registered, and lint it.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
SHOW_FORMATS = ("table", "json", "csv", "markdown")
KINDS = ("parameter", "buffer", "unregistered")

_state: dict[str, Any] = {"debug": False}

MODEL_HELP = (
    "timm name (resnet50, timm:NAME, a partial name such as vit_base), pkg.module:factory or path/to/file.py:factory"
)


def _note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {option} {value!r}: use one of {', '.join(allowed)}")
    return value


@contextmanager
def _output(path: Optional[Path]) -> Iterator[IO[str]]:
    """stdout, or the -o file (closed before the command returns)."""
    if path is None:
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with fh:
        yield fh


def _print_version(value: bool) -> None:
    if value:
        from paraminspect import __version__

        sys.stdout.write(f"paraminspect {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


@app.command()
def show(
    model: str = typer.Argument(..., help=MODEL_HELP, show_default=False),
    arg: Optional[list[str]] = typer.Option(
        None, "-a", "--arg", help="Factory keyword argument key=value (repeatable)."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="Build on meta (default), cpu, cuda or cuda:N."),
    depth: Optional[int] = typer.Option(
        None, "--depth", help="Per-module totals down to this depth instead of per-tensor rows."
    ),
    name_filter: Optional[str] = typer.Option(None, "--filter", help="Only tensors whose name matches this glob."),
    kind: Optional[str] = typer.Option(
        None, "--kind", help="Only tensors of this kind: parameter, buffer, unregistered."
    ),
    output_format: str = typer.Option("table", "--format", "-f", help="table, json, csv or markdown."),
    output_file: Optional[Path] = typer.Option(
        None, "-o", "--output-file", help="Write to this file instead of stdout."
    ),
) -> int:
    """List every tensor the model holds: how it is registered, grad, shape, dtype, device, size."""
    _choice(output_format, SHOW_FORMATS, "--format")
    if kind is not None:
        _choice(kind, KINDS, "--kind")
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}")

    from paraminspect.inventory import build_inventory, module_summary, unwrap
    from paraminspect.loading import load, parse_factory_args

    loaded = load(model, parse_factory_args(arg), device)
    module, wrap_notes = unwrap(loaded.module)
    for message in loaded.notes + wrap_notes:
        _note(message)
    inv = build_inventory(module)
    records = [
        r
        for r in inv.tensors
        if (kind is None or r.kind == kind)
        and (name_filter is None or any(fnmatch.fnmatchcase(n, name_filter) for n in (r.name, *r.aliases)))
    ]
    modules = module_summary(inv, depth) if depth is not None else None
    with _output(output_file) as out:
        if output_format == "json":
            from paraminspect.render.json import show_json

            out.write(
                show_json(
                    spec=loaded.spec,
                    resolved=loaded.resolved,
                    build_device=loaded.build_device,
                    inventory=inv,
                    records=records,
                    modules=modules,
                    notes=loaded.notes + wrap_notes,
                )
            )
        elif output_format == "csv":
            from paraminspect.render.text import modules_csv, tensors_csv

            out.write(modules_csv(modules) if modules is not None else tensors_csv(records))
        elif output_format == "markdown":
            from paraminspect.render.text import modules_markdown, tensors_markdown

            out.write(modules_markdown(modules) if modules is not None else tensors_markdown(records))
        else:
            from paraminspect.render.table import make_console, print_show

            resolved = f" -> {loaded.resolved}" if loaded.resolved != loaded.spec else ""
            title = f"{loaded.spec}{resolved} · {inv.root_type} · built on {loaded.build_device}"
            caption = (
                "np = non-persistent buffer (not in state_dict)"
                if any(r.persistent is False for r in records)
                else None
            )
            print_show(make_console(out), title=title, inventory=inv, records=records, modules=modules, caption=caption)
    return EXIT_OK


def _is_usage_error(exc: BaseException) -> bool:
    """click's UsageError family, whether typer vendors click (typer>=0.2x) or not."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__) and hasattr(exc, "format_message")


def _run(argv: Optional[list[str]]) -> int:
    try:
        result = app(args=argv, prog_name="paraminspect", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except ParamInspectError as exc:
        if _state["debug"]:
            traceback.print_exc()
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # bare `paraminspect`: the help
            sys.stdout.write(ctx.get_help() + "\n")
            return EXIT_OK
        if _is_usage_error(exc):
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            sys.stderr.write(f"error: {exc.format_message()}{hint}\n")  # type: ignore[attr-defined]
            return EXIT_ERROR
        if _state["debug"]:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(
            f"error: internal error: {type(exc).__name__}: {first} "
            "(a paraminspect bug; rerun with --debug for the traceback)\n"
        )
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else EXIT_OK


def main(argv: Optional[list[str]] = None) -> NoReturn:
    code = _run(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
