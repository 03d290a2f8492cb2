"""What `check --fix` does for the registration rules PI001-PI004, with the before/after
examples that tests are generated from and that `explain` prints. The rewriting itself is
in paraminspect.fixes (LibCST), which this module does not import: `rules` and `explain`
stay instant."""

from __future__ import annotations

from paraminspect.checks.model import Fix, FixExample

# The examples are whole files: tests build them, fix them and check them again.
_EXAMPLE_HEAD = """\
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
"""


PI001_FIX = Fix(
    "wrap the value in nn.Parameter (dropping requires_grad=True: a Parameter requires grad already)",
    changes_state=True,
    examples=(
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.gamma = torch.ones(4, requires_grad=True)
""",
            _EXAMPLE_HEAD
            + """\
        self.gamma = nn.Parameter(torch.ones(4))
""",
        ),
    ),
)


PI002_FIX = Fix(
    'self.register_buffer("x", value, persistent=False): it moves with .to(); non-persistent, so '
    "state_dict() and existing checkpoints stay as they are (--fix-persistent saves it instead)",
    changes_state=False,
    examples=(
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.mean = torch.zeros(3)
""",
            _EXAMPLE_HEAD
            + """\
        self.register_buffer("mean", torch.zeros(3), persistent=False)
""",
        ),
    ),
)


PI003_FIX = Fix(
    "wrap a list of Parameters in nn.ParameterList, a dict of them in nn.ParameterDict (plain tensors "
    "are not fixed: they become buffers, each registered under a name, by hand)",
    changes_state=True,
    examples=(
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.scales = [nn.Parameter(torch.ones(1)) for _ in range(3)]
""",
            _EXAMPLE_HEAD
            + """\
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(1)) for _ in range(3)])
""",
        ),
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.gains = {"low": nn.Parameter(torch.ones(1)), "high": nn.Parameter(torch.ones(1))}
""",
            _EXAMPLE_HEAD
            + """\
        self.gains = nn.ParameterDict({"low": nn.Parameter(torch.ones(1)), "high": nn.Parameter(torch.ones(1))})
""",
        ),
    ),
)


PI004_FIX = Fix(
    "wrap a list or tuple of modules in nn.ModuleList (an empty [] filled by .append() becomes "
    "nn.ModuleList()), a dict with string keys in nn.ModuleDict",
    changes_state=True,
    examples=(
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.blocks = [nn.Linear(4, 4) for _ in range(2)]
""",
            _EXAMPLE_HEAD
            + """\
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
""",
        ),
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.layers = []
        for _ in range(2):
            self.layers.append(nn.Linear(4, 4))
""",
            _EXAMPLE_HEAD
            + """\
        self.layers = nn.ModuleList()
        for _ in range(2):
            self.layers.append(nn.Linear(4, 4))
""",
        ),
        FixExample(
            _EXAMPLE_HEAD
            + """\
        body = [nn.Linear(4, 4), nn.ReLU()]
        self.stages = (*body, nn.Linear(4, 2))
""",
            _EXAMPLE_HEAD
            + """\
        body = [nn.Linear(4, 4), nn.ReLU()]
        self.stages = nn.ModuleList((*body, nn.Linear(4, 2)))
""",
        ),
        FixExample(
            _EXAMPLE_HEAD
            + """\
        self.heads = {"cls": nn.Linear(4, 2), "box": nn.Linear(4, 4)}
""",
            _EXAMPLE_HEAD
            + """\
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "box": nn.Linear(4, 4)})
""",
        ),
    ),
)
