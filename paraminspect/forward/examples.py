"""Example inputs for `check --run`: which tensors the forward pass receives.

Sources, first match wins: `--example file.py:make_input` / `pkg.mod:make_input`;
`--input-ids 1,16` (int64 tokens below `--vocab`); `--input-shape 1,3,32,32` (float, with
`--input-dtype`); a timm model's own `pretrained_cfg["input_size"]` with batch 1. Anything
else cannot be guessed and is refused with the options to use.

Inputs are made on CPU and moved to the device the model runs on, so the same example
serves the meta run and a CPU fallback.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paraminspect.errors import UsageError

INPUT_OPTIONS_HELP = (
    "--input-shape 1,3,32,32 (float, with --input-dtype), --input-ids 1,16 (int64 tokens, with --vocab) "
    "or --example path/file.py:make_input"
)
SEED = 0
MAX_INPUT_ELEMENTS = 2**31  # of --input-shape/--input-ids: an example input is allocated for real
# A model that cannot run on meta is run on CPU only up to this many bytes of parameters and
# buffers (a CPU copy allocates them all); --max-cpu-bytes or the environment variable overrides.
DEFAULT_MAX_CPU_BYTES = 2 * 1024**3
INT64_MAX = 2**63 - 1
MAX_CPU_BYTES_ENV = "PARAMINSPECT_MAX_CPU_BYTES"
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tb": 1000**4, "tib": 1024**4})


@dataclass(frozen=True)
class RunOptions:
    """The CLI's `check --run` options, as given (parsed here, not in cli.py)."""

    input_shape: str | None = None
    input_dtype: str | None = None
    input_ids: str | None = None
    vocab: int | None = None
    example: str | None = None
    max_cpu_bytes: str | None = None


def run_options(
    run: bool,
    input_shape: str | None = None,
    input_dtype: str | None = None,
    input_ids: str | None = None,
    vocab: int | None = None,
    example: str | None = None,
    max_cpu_bytes: str | None = None,
) -> RunOptions | None:
    """The `check` command's run options, checked before any model is built; None without --run."""
    given = {
        "--input-shape": input_shape,
        "--input-dtype": input_dtype,
        "--input-ids": input_ids,
        "--vocab": vocab,
        "--example": example,
        "--max-cpu-bytes": max_cpu_bytes,
    }
    if not run:
        used = [name for name, value in given.items() if value is not None]
        if used:
            raise UsageError(f"{used[0]} goes with --run (run the model on an example input)")
        return None
    options = RunOptions(input_shape, input_dtype, input_ids, vocab, example, max_cpu_bytes)
    _parse_values(options)
    if vocab is not None and not 1 <= vocab <= INT64_MAX:
        raise UsageError(f"--vocab must be from 1 to {INT64_MAX:,} (token ids are int64), got {vocab}")
    if max_cpu_bytes is None and os.environ.get(MAX_CPU_BYTES_ENV):  # checked now, not in the model's process
        parse_size(os.environ[MAX_CPU_BYTES_ENV], MAX_CPU_BYTES_ENV)
    return options


def example_options(
    input_shape: str | None = None,
    input_dtype: str | None = None,
    input_ids: str | None = None,
    vocab: int | None = None,
    example: str | None = None,
    max_cpu_bytes: str | None = None,
) -> RunOptions | None:
    """`show`'s example-input options (the same as `check --run`'s), checked before any model
    is built; None when no input is given (`--input-shape`, `--input-ids` or `--example`)."""
    options = RunOptions(input_shape, input_dtype, input_ids, vocab, example, max_cpu_bytes)
    if input_shape is None and input_ids is None and example is None:
        if max_cpu_bytes is not None:
            raise UsageError(f"--max-cpu-bytes goes with an example input: {INPUT_OPTIONS_HELP}")
        check_combination(options)
        return None
    check_combination(options)
    _parse_values(options)
    return options


def _parse_values(options: RunOptions) -> None:
    """The shapes and the size given parse (a UsageError of one line if not)."""
    if options.input_shape is not None:
        parse_shape(options.input_shape, "--input-shape")
    if options.input_ids is not None:
        parse_shape(options.input_ids, "--input-ids")
    if options.max_cpu_bytes is not None:
        parse_size(options.max_cpu_bytes)


def check_combination(options: RunOptions) -> None:
    """One source of input at most, and the options that qualify one only with it."""
    if sum(x is not None for x in (options.example, options.input_shape, options.input_ids)) > 1:
        raise UsageError("give only one of --example, --input-shape and --input-ids")
    if options.input_dtype is not None and options.input_shape is None:
        raise UsageError("--input-dtype goes with --input-shape")
    if options.vocab is not None and options.input_ids is None:
        raise UsageError("--vocab goes with --input-ids")


def parse_size(text: str, option: str = "--max-cpu-bytes") -> int:
    """`2GiB`, `512MB`, `1e9`, `0` -> bytes (at most INT64_MAX: `1e999GiB` is refused)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in _UNITS:
        raise UsageError(f"bad {option} {text!r}: expected a size such as 4GiB, 500MB or 1000000")
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if not value <= INT64_MAX:  # inf (1e999) included
        raise UsageError(f"bad {option} {text!r}: at most {INT64_MAX:,} bytes")
    return int(value)


def max_cpu_bytes(option: str | None) -> int:
    """The CPU-fallback limit: the option, else the environment variable, else 2 GiB."""
    if option is not None:
        return parse_size(option)
    env = os.environ.get(MAX_CPU_BYTES_ENV)
    if env:
        return parse_size(env, MAX_CPU_BYTES_ENV)
    return DEFAULT_MAX_CPU_BYTES


def format_size(n: int) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{n}B"


@dataclass(frozen=True)
class ExampleInput:
    """Positional and keyword inputs (CPU tensors or other values) and where they came from."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # tried when the automatic batch-1 input is refused by BatchNorm in training mode
    alternative: ExampleInput | None = None

    def on(self, device: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The inputs with every tensor moved to `device` (containers rebuilt, others kept)."""
        return tuple(_move(a, device) for a in self.args), {k: _move(v, device) for k, v in self.kwargs.items()}


def _move(value: Any, device: str) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to(device)
    if isinstance(value, list):
        return [_move(v, device) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_move(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    return value


def parse_shape(text: str, option: str) -> tuple[int, ...]:
    """`1,3,32,32` (also `1x3x32x32`, spaces, brackets) -> (1, 3, 32, 32)."""
    parts = [p for p in re.split(r"[,x\s]+", text.strip().strip("()[]").lower()) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(n <= 0 for n in shape):
        raise UsageError(f"bad {option} {text[:100]!r}: expected positive integers separated by commas, e.g. 1,3,32,32")
    numel = math.prod(shape)
    if numel > MAX_INPUT_ELEMENTS:  # an example input is made for real on CPU: bound it
        raise UsageError(
            f"{option} {text[:100]} has {numel:,} elements: at most {MAX_INPUT_ELEMENTS:,} (2**31) for an example input"
        )
    return shape


def parse_dtype(text: str) -> Any:
    import torch

    name = text.strip().removeprefix("torch.")
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise UsageError(f"unknown --input-dtype {text!r}: use a torch dtype such as float32, float16, bfloat16, int64")
    return dtype


def _floating_dtype(module: Any) -> Any:
    """The model's own floating dtype (so a bfloat16 model gets bfloat16 inputs), else float32."""
    import torch

    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _generator() -> Any:
    import torch

    return torch.Generator().manual_seed(SEED)


def _float_input(shape: tuple[int, ...], dtype: Any) -> Any:
    import torch

    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, generator=_generator()).to(dtype)
    if dtype == torch.bool:
        return torch.ones(shape, dtype=torch.bool)
    return torch.zeros(shape, dtype=dtype)


def _default_vocab(module: Any) -> int | None:
    from torch import nn

    sizes = [m.num_embeddings for m in module.modules() if isinstance(m, nn.Embedding)]
    return min(sizes) if sizes else None


def _timm_input_size(module: Any) -> tuple[int, ...] | None:
    # vars(): timm sets these as plain attributes; getattr could run a property or __getattr__
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg = vars(module).get(attr)
        if isinstance(cfg, Mapping):
            size = cfg.get("input_size")
            if isinstance(size, (tuple, list)) and size and all(isinstance(n, int) and n > 0 for n in size):
                return tuple(size)
    return None


def _load_callable(target: str) -> Callable[..., Any]:
    from paraminspect.errors import LoadError
    from paraminspect.forms import split_target
    from paraminspect.loaders.factory import import_target

    split = split_target(target)
    if split is None or not split[1]:
        raise UsageError(f"bad --example {target!r}: expected path/file.py:function or pkg.module:function")
    left, attr = split
    try:
        func = import_target(left, attr)
    except LoadError as exc:
        raise UsageError(f"--example: {exc}") from None
    if not callable(func):
        raise UsageError(f"--example {target} is a {type(func).__name__}, not a function")
    return func


def _call_example(func: Callable[..., Any], target: str, model: Any) -> Any:
    """`make_input()` or `make_input(model)`."""
    try:
        required = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = []
    try:
        return func(model) if len(required) == 1 else func()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(f"--example {target} raised {type(exc).__name__}: {first}") from None


def _from_returned(value: Any, target: str) -> ExampleInput:
    """A tensor, a tuple of positional inputs, an (args, kwargs) pair, or a dict of kwargs."""
    import torch

    description = f"--example {target}"
    if isinstance(value, torch.Tensor):
        return ExampleInput((value,), {}, description)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], (tuple, list))
        and isinstance(value[1], Mapping)
    ):
        return ExampleInput(tuple(value[0]), dict(value[1]), description)
    if isinstance(value, tuple):
        return ExampleInput(value, {}, description)
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return ExampleInput((), dict(value), description)
    raise UsageError(
        f"--example {target} returned a {type(value).__name__}: return a tensor, a tuple of inputs "
        "or an (args, kwargs) pair"
    )


def resolve_example(options: RunOptions, model: Any) -> ExampleInput:
    """The example input for `model`, from the options or the model's own config."""
    check_combination(options)
    if options.example is not None:
        func = _load_callable(options.example)
        return _from_returned(_call_example(func, options.example, model), options.example)
    if options.input_ids is not None:
        import torch

        shape = parse_shape(options.input_ids, "--input-ids")
        vocab = options.vocab if options.vocab is not None else _default_vocab(model)
        if vocab is None:
            raise UsageError(
                "--input-ids: the model has no nn.Embedding to take the vocabulary size from; pass --vocab N"
            )
        if vocab <= 0:
            raise UsageError(f"--vocab must be 1 or more, got {vocab}")
        ids = torch.randint(0, vocab, shape, generator=_generator(), dtype=torch.int64)
        return ExampleInput((ids,), {}, f"int64 token ids of shape {tuple(shape)} below {vocab}")
    if options.input_shape is not None:
        shape = parse_shape(options.input_shape, "--input-shape")
        dtype = parse_dtype(options.input_dtype) if options.input_dtype is not None else _floating_dtype(model)
        return ExampleInput((_float_input(shape, dtype),), {}, f"{str(dtype).removeprefix('torch.')} of shape {shape}")
    size = _timm_input_size(model)
    if size is not None:
        dtype = _floating_dtype(model)
        source = "from the model's pretrained_cfg input_size"
        batch2 = ExampleInput((_float_input((2, *size), dtype),), {}, f"{(2, *size)} {source}")
        return ExampleInput((_float_input((1, *size), dtype),), {}, f"{(1, *size)} {source}", batch2)
    raise UsageError(f"cannot guess an example input for {type(model).__name__}: pass {INPUT_OPTIONS_HELP}")
