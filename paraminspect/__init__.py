"""paraminspect: see how every tensor of a PyTorch model is registered, and lint it.

The public API is importable without torch being imported first; torch is imported the
first time one of these functions runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from paraminspect.checks.rule import Finding
    from paraminspect.diffs import Diff
    from paraminspect.loaders.loaded import LoadedModel
    from paraminspect.summaries import ModelSummary
    from paraminspect.tensors.records import Inventory

__all__ = ["ModelSummary", "__version__", "check", "diff", "inventory", "load", "show", "summary"]


def __dir__() -> list[str]:
    # the public names only, not this module's imports (Any, TYPE_CHECKING, annotations)
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name == "ModelSummary":  # imported on first use: `import paraminspect` stays torch-free
        from paraminspect.summaries import ModelSummary

        return ModelSummary
    raise AttributeError(f"module 'paraminspect' has no attribute {name!r}")


def load(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    *,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Build the model that a MODEL spec names (timm name, `pkg.mod:attr`, `file.py:attr`, a
    Hugging Face folder, `hf:ORG/NAME`, `transformers:CLASS`), or list a checkpoint file;
    `trust_pickle` allows full unpickling of a checkpoint, `trust_remote_code` running the code
    a Hugging Face checkpoint ships."""
    from paraminspect.loaders.dispatch import load as _load

    return _load(spec, kwargs=kwargs, device=device, trust_pickle=trust_pickle, trust_remote_code=trust_remote_code)


def inventory(model: Any) -> Inventory:
    """One record per tensor reachable from `model` (an nn.Module), registered or not."""
    from paraminspect.tensors.walk import build_inventory

    return build_inventory(model)


def check(
    model: Any,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    allow: list[str] | None = None,
) -> list[Finding]:
    """Run the static rules on an nn.Module and return the findings (empty when clean), so a
    test can assert `paraminspect.check(build()) == []`. torch.compile / DataParallel / DDP
    wrappers are looked through, as on the command line."""
    from paraminspect.checks import CheckContext
    from paraminspect.checks.engine import run_static_checks
    from paraminspect.tensors.walk import build_inventory
    from paraminspect.tensors.wrappers import unwrap

    module, _ = unwrap(model)
    return run_static_checks(CheckContext(build_inventory(module), module), select=select, ignore=ignore, allow=allow)


def diff(
    left: Any,
    right: Any,
    *,
    left_kwargs: dict[str, Any] | None = None,
    right_kwargs: dict[str, Any] | None = None,
    trust_pickle: bool = False,
) -> Diff:
    """Will `right`'s state_dict load into `left` (as in `left.load_state_dict(right)`), and
    why not. Each side is a MODEL spec, an nn.Module or a state_dict; `loadable` is torch's
    own strict verdict, taken on a meta copy (the module passed in is not changed)."""
    from paraminspect.diffs import diff_sides

    return diff_sides(left, right, left_kwargs=left_kwargs, right_kwargs=right_kwargs, trust_pickle=trust_pickle)


def summary(
    model: Any,
    depth: int | None = None,
    filter: str | None = None,
    kind: str | None = None,
    *,
    input_shape: str | Sequence[int] | None = None,
    input_dtype: str | None = None,
    input_ids: str | Sequence[int] | None = None,
    vocab: int | None = None,
    example: str | None = None,
    inputs: Any = None,
    dtype: str | Sequence[str] | None = None,
    collapse: bool = True,
) -> ModelSummary:
    """The `show` table of an nn.Module as an object: the totals as attributes
    (`.parameters`, `.trainable`, `.frozen`, `.buffers`, `.bytes`, `.tensors`), the records
    (`.records`), `.to_dict()` (the `show --format json` document), `str()` (the text
    table) and the HTML report's view in notebooks (`_repr_html_`). `depth`, `filter` and
    `kind` are `show`'s --depth, --filter and --kind; `dtype` its --dtype (sizes recast to the
    first; memory estimates per dtype); `collapse=False` its --no-collapse.

    An example input runs one forward pass on the meta device (fake or CPU tensors where meta
    cannot run it), as `show --input-shape` does: `input_shape=(1, 3, 224, 224)` (with
    `input_dtype`), `input_ids=(1, 16)` (with `vocab`), `example="file.py:make_input"`, or
    `inputs` (a tensor, a tuple of positional inputs or a dict of keyword inputs). Then
    `.forward` holds each module's output shapes, FLOPs, calls and mode, `.flops` and
    `.activation_bytes` the totals, and `.training` the training memory per `dtype`. The
    model is left exactly as found (modes, hooks, devices, requires_grad, grads, random
    number generators). Prints nothing."""
    from paraminspect.summaries import summarize

    return summarize(
        model,
        depth=depth,
        filter=filter,
        kind=kind,
        input_shape=input_shape,
        input_dtype=input_dtype,
        input_ids=input_ids,
        vocab=vocab,
        example=example,
        inputs=inputs,
        dtype=dtype,
        collapse=collapse,
    )


def show(
    model: Any,
    depth: int | None = None,
    filter: str | None = None,
    kind: str | None = None,
    **options: Any,
) -> ModelSummary:
    """Print the `show` table of an nn.Module (fitted to the terminal; in a notebook, the HTML
    report's view: treemap, totals, searchable tensor table) and return its summary. Takes
    `summary`'s options (`input_shape=`, `inputs=`, `dtype=`, `collapse=`, ...)."""
    from paraminspect.summaries import display, summarize

    return display(summarize(model, depth=depth, filter=filter, kind=kind, **options))
