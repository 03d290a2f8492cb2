"""Runtime rules PI101-PI105: what only a forward (and backward) pass shows (`check --run`).

The rules have no check function: paraminspect.forward observes one run and
`runtime_findings` turns its observations into findings with the same select/ignore/allow
and `# noqa` handling as the static rules. No torch import here (`rules`, `explain`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from paraminspect.checks import runtime_examples as examples
from paraminspect.checks.rule import ERROR, WARNING, Finding, Rule

PI101 = Rule(
    "PI101",
    "parameter-without-gradient",
    WARNING,
    "Parameter that requires grad gets no gradient from forward (unused or detached).",
    """\
A parameter with requires_grad=True that the forward pass never uses (a head that is never
called, a branch that is never taken) or only uses detached (`self.w.detach()`, under
torch.no_grad()) gets no gradient. The optimizer silently skips it (weight decay still
shrinks it with some optimizers), and DistributedDataParallel fails at the first backward with
"Expected to have finished reduction in the prior iteration before starting a new one ...
parameters that were not used in producing loss".

Found by running forward on the example input, backward of the sum of the floating outputs,
and listing trainable parameters whose .grad is still None. It runs the model as built (train
mode), so parameters used only in eval mode are reported too.

Fix: use the parameter, delete it, freeze it (`.requires_grad_(False)`), or, if
it is used only on some steps, pass find_unused_parameters=True to DDP.
""",
    examples=examples.PI101,
)

PI102 = Rule(
    "PI102",
    "tensor-attribute-set-in-forward",
    ERROR,
    "Tensor attribute set on a module during forward: an unregistered tensor made at run time.",
    """\
`self.mask = ...` inside forward creates (or replaces a None with) a plain tensor attribute
at run time. It is not a buffer: .to() does not move it, state_dict() does not save it, it
keeps the autograd graph or the activations of the last call alive, and a cache computed on
one device or for one input shape is reused for the next input. Building the model shows
nothing; only running it does.

Found by comparing vars() of every module before and after one forward pass.

Fix: register the slot as a buffer in __init__ (register_buffer(name, None,
persistent=False)) so that assignments in forward store a buffer, which moves with .to();
or keep the tensor a local variable.
""",
    examples=examples.PI102,
)

PI103 = Rule(
    "PI103",
    "factory-without-device",
    WARNING,
    "Tensor created in forward without the inputs' device, then combined with the inputs.",
    """\
torch.zeros / torch.arange / torch.tensor / torch.ones ... create their tensor on the default
device (the CPU) unless `device=` is given. Inside forward, combined with the inputs, that
works in every CPU test and fails on the GPU with "Expected all tensors to be on the same
device" (or copies every step). The same holds for a hard-coded device that differs from the
inputs'.

Found by watching factory calls during forward (TorchFunctionMode) and reporting those with
no device argument (or another device) whose result is later used in one operation with a
tensor computed from the inputs, parameters or buffers. 0-dim results (`torch.tensor(0.5)`)
and CPU index tensors (`x[torch.arange(n)]`) work on every device and are not reported.

Fix: create it on the inputs' device (device=x.device), or compute it once in __init__ as
a buffer (register_buffer(..., persistent=False)).
""",
    examples=examples.PI103,
)

PI104 = Rule(
    "PI104",
    "parameter-created-in-forward",
    ERROR,
    "nn.Parameter constructed during forward: never seen by the optimizer.",
    """\
An nn.Parameter constructed inside forward is a new tensor on every call. The optimizer was
built from model.parameters() before training, so it never updates it; if it is a local
variable it is not in state_dict() either, and if it is stored on self on the first call it
appears in parameters() only after the optimizer was created and is missing from checkpoints
saved before.

Fix: create it once in __init__ (`self.bias = nn.Parameter(torch.zeros(dim))`); for a size
known only from the first input, use a lazy module (nn.LazyLinear) or
nn.UninitializedParameter, which the optimizer-building code is expected to materialise
first (run one dummy forward before creating the optimizer).
""",
    examples=examples.PI104,
)

PI105 = Rule(
    "PI105",
    "foreign-tensor-in-forward",
    WARNING,
    "Tensor read in forward that is not a parameter, buffer or input (a global, closure or plain attribute).",
    """\
Forward reads a tensor that the module does not own through registration and that does not
come from the inputs: a module-level global, a variable captured by a closure, a class
attribute or a plain tensor attribute. Such a tensor is not moved by .to() (device mismatch
on the GPU), not saved by state_dict(), not converted by .half(), and not copied to each
device by DataParallel.

Found by tracking which tensors each operation receives during one forward pass: parameters,
buffers, inputs and everything computed from them are known, as are tensors created in
forward; any other tensor is reported once, named after the attribute, global or closure
variable it was read from when one can be found.

Fix: register it as a buffer in __init__ (register_buffer(name, tensor, persistent=False))
and read it from self in forward, or pass the tensor as an input.
""",
    examples=examples.PI105,
)

RULES: list[Rule] = [PI101, PI102, PI103, PI104, PI105]
_BY_CODE = {rule.code: rule for rule in RULES}


def runtime_enabled(select: Sequence[str] | None, ignore: Sequence[str] | None) -> bool:
    """Whether any PI1xx rule survives select/ignore (else the run can be skipped)."""
    from paraminspect.checks.finalise import enabled_rules, parse_codes

    enabled = enabled_rules(parse_codes(select, "select"), parse_codes(ignore, "ignore"))
    return any(rule.code in _BY_CODE for rule in enabled)


def runtime_findings(
    observations: Iterable[Any],
    spec: str = "",
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    allow: Sequence[str] | None = None,
    suppressed: list[Any] | None = None,
) -> list[Finding]:
    """paraminspect.forward Observations -> Findings, through checks.finalise (rules switched
    off, `allow` globs, `# noqa` lines, the catalog's severity)."""
    from paraminspect.checks.finalise import finalise

    found = [
        Finding(
            obs.code,
            _BY_CODE[obs.code].severity,
            obs.module,
            obs.attribute,
            tuple(obs.names),
            obs.message,
            obs.file,
            obs.line,
        )
        for obs in observations
        if obs.code in _BY_CODE
    ]
    return finalise(found, spec=spec, select=select, ignore=ignore, allow=allow, suppressed=suppressed)
