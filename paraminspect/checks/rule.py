"""Plain data for the rule catalog: importable without torch (`rules`, `explain`)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


def at_least(severity: str, threshold: str) -> bool:
    """True when `severity` is at or above `threshold` (error > warning > info)."""
    return _RANK[severity] >= _RANK[threshold]


class FixKind(str, Enum):
    """The automatic fix a check chose for a finding: what `check --fix` writes
    (paraminspect.fixes.rewrite) and how the fix reports name it (render.fixes). NONE (falsy,
    equal to "") when there is none. A str, so JSON shows the value (`"parameter"`)."""

    NONE = ""
    PARAMETER = "parameter"
    BUFFER = "buffer"
    PARAMETER_LIST = "parameter-list"
    PARAMETER_DICT = "parameter-dict"
    MODULE_LIST = "module-list"
    MODULE_DICT = "module-dict"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def wrapper(self) -> str | None:
        """The torch.nn class the fix wraps the value in (None: register_buffer, or no fix)."""
        return _WRAPPERS.get(self)

    @property
    def is_dict(self) -> bool:
        return self in (FixKind.PARAMETER_DICT, FixKind.MODULE_DICT)

    @property
    def spelled(self) -> str:
        """How the fix lines name what the fix writes: `nn.ParameterList`, `register_buffer`."""
        return "register_buffer" if self is FixKind.BUFFER else f"nn.{self.wrapper}"


_WRAPPERS = {
    FixKind.PARAMETER: "Parameter",
    FixKind.PARAMETER_LIST: "ParameterList",
    FixKind.PARAMETER_DICT: "ParameterDict",
    FixKind.MODULE_LIST: "ModuleList",
    FixKind.MODULE_DICT: "ModuleDict",
}


@dataclass(frozen=True)
class Finding:
    """One offending attribute (module path + attribute), with the tensor names it covers."""

    code: str
    severity: str
    module: str  # dotted path of the owning module, "" for the root
    attribute: str
    names: tuple[str, ...]
    message: str
    file: str | None = None
    line: int | None = None
    model: str = ""  # the MODEL spec as given on the command line ("" through the Python API)
    # The automatic fix the check chose for this finding, or FixKind.NONE with `no_fix`
    # saying why not.
    fix: FixKind = FixKind.NONE
    no_fix: str = ""
    # How it was found: BUILT (the model was built and its tensors read) or STATIC (read from
    # the source by the static pass, paraminspect.static, without building the class).
    evidence: str = "built"


BUILT, STATIC = "built", "static"  # Finding.evidence


@dataclass(frozen=True)
class Example:
    """A rule's example as code: whole module sources, each defining a class `Model` that
    builds without arguments. `bad` gets a finding of the rule at `where` ("attr" on the root
    module, "sub.attr" deeper, "sub." for a finding about a whole submodule, "" for a model-wide
    one), on the line that contains `line` when it is given; `good` is the corrected model and
    gets no finding of the rule. With `fixed`, `good` is exactly what `check --fix` writes for
    `bad`. `also`: the codes `bad` necessarily gets besides (a PI013 buffer is non-persistent:
    PI010 too). `input_shape` makes it a `check --run` example (the PI1xx rules: the forward pass
    gets a float input of that shape); `device` builds on that device instead of meta.
    Tests are generated from every example (tests/test_rule_examples.py) and `explain`
    prints them: the documentation cannot drift from the behaviour."""

    bad: str
    good: str
    where: str
    line: str = ""
    fixed: bool = False
    input_shape: str = ""
    device: str = ""
    title: str = ""
    also: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The finding's `module` (dotted path of the owning module, "" for the root)."""
        return self.where.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        """The finding's `attribute` ("" for a model-wide or whole-module finding)."""
        return self.where.rpartition(".")[2]


EXAMPLE_IMPORTS = "import torch\nfrom torch import nn\n"


def example_source(init: str, *methods: str, preamble: str = "") -> str:
    """A whole example file: the imports, `preamble` (module-level code), then class `Model`
    whose `__init__` body is `init` and whose other methods are `methods` (each written
    flush left, `def forward(self, x):` and its body)."""

    def block(text: str, indent: int) -> str:
        return textwrap.indent(textwrap.dedent(text).strip("\n") + "\n", " " * indent)

    head = EXAMPLE_IMPORTS + "\n\n" + (block(preamble, 0) + "\n\n" if preamble else "")
    body = "class Model(nn.Module):\n    def __init__(self) -> None:\n        super().__init__()\n" + block(init, 8)
    return head + body + "".join("\n" + block(method, 4) for method in methods)


@dataclass(frozen=True)
class Fix:
    """What `check --fix` does for a rule. `changes_state`: the fix changes what
    state_dict() or parameters() hold (checkpoints and optimizers see the difference). The
    rule's examples marked `fixed` show it (bad -> exactly what the fix writes)."""

    summary: str
    changes_state: bool
    kinds: tuple[FixKind, ...] = ()  # the FixKinds the rule's check chooses from


@dataclass(frozen=True)
class Rule:
    """A catalog entry. `check` gets a CheckContext and returns findings; it is None for
    rules that another stage reports (the PI1xx runtime rules). `explanation`: prose only (why
    it is bad, how to fix it), paragraphs separated by blank lines; its code is `examples`:
    at least one, each a bad model and its corrected version (see Example)."""

    code: str
    name: str
    severity: str
    summary: str
    explanation: str
    check: Callable[[Any], list[Finding]] | None = field(default=None, compare=False, repr=False)
    fix: Fix | None = field(default=None, compare=False, repr=False)
    examples: tuple[Example, ...] = field(default=(), compare=False, repr=False)
