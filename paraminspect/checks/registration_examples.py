"""The registration rules' examples (PI001-PI010, PI014) as code: a bad model, its corrected
version, and where the finding points. tests/test_rule_examples.py builds every one of them
and `explain` prints them; the `fixed` ones are also what `check --fix` must write."""

from __future__ import annotations

from paraminspect.checks.rule import Example
from paraminspect.checks.rule import example_source as src

_GAINS = "low = nn.Parameter(torch.zeros(1))\nhigh = nn.Parameter(torch.ones(1))\n"

PI001 = (
    Example(
        src("self.gamma = torch.ones(4, requires_grad=True)"),
        src("self.gamma = nn.Parameter(torch.ones(4))"),
        "gamma",
        line="self.gamma =",
        fixed=True,
    ),
)

PI002 = (
    Example(
        src("self.mean = torch.zeros(3)"),
        src('self.register_buffer("mean", torch.zeros(3), persistent=False)'),
        "mean",
        line="self.mean =",
        fixed=True,
    ),
    Example(
        src('self.register_buffer("scale", torch.ones(1))\nself.alias = self.scale'),
        src('self.register_buffer("scale", torch.ones(1))'),
        "alias",
        line="self.alias =",
        title="a plain attribute aliasing a buffer keeps the old tensor after .to(): read the buffer itself",
    ),
    Example(
        src("dims = torch.tensor([4, 2])\nself.proj = nn.Linear(dims[0], dims[1])"),
        src("dims = (4, 2)\nself.proj = nn.Linear(dims[0], dims[1])"),
        "proj.in_features",
        line="self.proj =",
        also=("PI012",),  # nn.Linear reads the tensor's value: no meta build either
        title="a torch module built with a tensor for a number: reported where it is built",
    ),
    Example(
        src("self.mean = torch.zeros(3)"),
        src(
            "self.mean = torch.zeros(3)",
            """\
            def _apply(self, fn, recurse=True):
                self.mean = fn(self.mean)
                return super()._apply(fn, recurse)
            """,
        ),
        "mean",
        line="self.mean =",
        title="a class whose _apply moves its own tensors (as torchmetrics' Metric does) is not reported",
    ),
)

PI003 = (
    Example(
        src("scales = [nn.Parameter(torch.ones(1)) for _ in range(3)]\nself.scales = scales"),
        src("scales = [nn.Parameter(torch.ones(1)) for _ in range(3)]\nself.scales = nn.ParameterList(scales)"),
        "scales",
        line="self.scales =",
        fixed=True,
    ),
    Example(
        src(_GAINS + 'self.gains = {"low": low, "high": high}'),
        src(_GAINS + 'self.gains = nn.ParameterDict({"low": low, "high": high})'),
        "gains",
        line="self.gains =",
        fixed=True,
    ),
    Example(
        src("self.anchors = [torch.zeros(2), torch.ones(2)]"),
        src('self.register_buffer("anchor_0", torch.zeros(2))\nself.register_buffer("anchor_1", torch.ones(2))'),
        "anchors",
        line="self.anchors =",
        title="plain tensors in a list become buffers, each under its own name (no automatic fix)",
    ),
    Example(
        src('self.register_buffer("low", torch.zeros(2))\nself.bounds = [self.low]'),
        src('self.register_buffer("low", torch.zeros(2))\nself.bounds = ["low"]  # look it up by name'),
        "bounds",
        line="self.bounds =",
        title="a list of registered buffers goes stale after .to(): keep their names",
    ),
)

PI004 = (
    Example(
        src("self.blocks = [nn.Linear(4, 4) for _ in range(2)]"),
        src("self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])"),
        "blocks",
        line="self.blocks =",
        fixed=True,
    ),
    Example(
        src("self.layers = []\nfor _ in range(2):\n    self.layers.append(nn.Linear(4, 4))"),
        src("self.layers = nn.ModuleList()\nfor _ in range(2):\n    self.layers.append(nn.Linear(4, 4))"),
        "layers",
        line="self.layers =",
        fixed=True,
    ),
    Example(
        src("body = [nn.Linear(4, 4), nn.ReLU()]\nself.stages = (*body, nn.Linear(4, 2))"),
        src("body = [nn.Linear(4, 4), nn.ReLU()]\nself.stages = nn.ModuleList((*body, nn.Linear(4, 2)))"),
        "stages",
        line="self.stages =",
        fixed=True,
    ),
    Example(
        src("self.drops = [nn.Dropout(0.1), nn.Dropout(0.2)]\nself.acts = [nn.ReLU(), nn.GELU()]"),
        src("self.drops = nn.ModuleList([nn.Dropout(0.1), nn.Dropout(0.2)])\nself.acts = [nn.ReLU(), nn.GELU()]"),
        "drops",
        line="self.drops =",
        title="no tensors, but eval() must reach dropout; stateless modules (activations, pooling) lose nothing",
    ),
    Example(
        src('self.heads = {"a": nn.Linear(4, 2), "b": nn.ReLU()}'),
        src('self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.ReLU()})'),
        "heads",
        line="self.heads =",
        fixed=True,
    ),
)

PI005 = (
    Example(
        src('self.register_buffer("temp", torch.ones(1, requires_grad=True))'),
        src("self.temp = nn.Parameter(torch.ones(1))"),
        "temp",
        line='self.register_buffer("temp"',
        title="if it should be trained: an nn.Parameter",
    ),
    Example(
        src('self.register_buffer("temp", torch.ones(1, requires_grad=True))'),
        src('self.register_buffer("temp", torch.ones(1))'),
        "temp",
        line='self.register_buffer("temp"',
        title="if it should not be trained: a buffer that does not require grad",
    ),
)

PI006 = (
    Example(
        src('self.body = nn.Linear(4, 4)\nself.head = nn.Linear(4, 2, device="meta")'),
        src("self.body = nn.Linear(4, 4)\nself.head = nn.Linear(4, 2)"),
        "",
        device="cpu",
        title="built on the CPU (--device cpu): the head was left on meta",
    ),
)

PI007 = (
    Example(
        src('self.proj = nn.Linear(4, 4)\nself.register_buffer("scale", torch.ones(4, dtype=torch.float64))'),
        src('self.proj = nn.Linear(4, 4)\nself.register_buffer("scale", torch.ones(4))'),
        "",
        title="a stray float64 buffer",
    ),
    Example(
        src("self.proj = nn.Linear(4, 4).half()\nself.norm = nn.LayerNorm(4)"),
        src("self.proj = nn.Linear(4, 4)\nself.norm = nn.LayerNorm(4)"),
        "",
        title="a half-converted model: one layer in float16, the rest in float32",
    ),
)

PI008 = (
    Example(
        src(
            "self.embed = nn.Embedding(10, 4)\n"
            "self.head = nn.Linear(4, 10, bias=False)\n"
            "self.head.weight = self.embed.weight"
        ),
        src("self.embed = nn.Embedding(10, 4)\nself.head = nn.Linear(4, 10, bias=False)"),
        "head.weight",
        line="self.head.weight =",
        title="weight tying (fine when intended)",
    ),
)

PI009 = (
    Example(
        src("self.backbone = nn.Linear(4, 4)\nself.head = nn.Linear(4, 2)\nself.backbone.requires_grad_(False)"),
        src("self.backbone = nn.Linear(4, 4)\nself.head = nn.Linear(4, 2)"),
        "backbone.",
        title="a frozen backbone (fine for fine-tuning)",
    ),
)

PI010 = (
    Example(
        src('self.register_buffer("counts", torch.zeros(4), persistent=False)'),
        src('self.register_buffer("counts", torch.zeros(4))'),
        "counts",
        line='self.register_buffer("counts"',
        also=("PI013",),  # and nothing recomputes it after meta init
        title="state that must survive a checkpoint, registered non-persistent",
    ),
)

_NO_SUPER_INIT = """\
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self) -> None:
        self.steps = 10
"""

PI014 = (
    Example(
        _NO_SUPER_INIT,
        _NO_SUPER_INIT.replace("        self.steps", "        super().__init__()\n        self.steps"),
        "",
        line="def __init__",
        title="a scheduler-like module that never calls super().__init__()",
    ),
)
