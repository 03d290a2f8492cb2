"""The meta-device initialisation rules' examples (PI012-PI013) as code: a bad model, its
corrected version, and where the finding points. tests/test_rule_examples.py builds every one
of them and `explain` prints them."""

from __future__ import annotations

from paraminspect.checks.rule import Example
from paraminspect.checks.rule import example_source as src

_STAGES = "self.stages = nn.ModuleList(nn.Linear(4, w) for w in widths)"

PI012 = (
    Example(
        src(f"widths = (torch.arange(3) * 8 + 8).tolist()\n{_STAGES}"),
        src(f"widths = [i * 8 + 8 for i in range(3)]\n{_STAGES}"),
        "",
        line="widths =",
        title="sizes computed with tensors and read back with .tolist(): use Python numbers",
    ),
    Example(
        src("self.log_temp = torch.tensor(0.07).log().item()\nself.proj = nn.Linear(4, 4)"),
        src("self.log_temp = math.log(0.07)\nself.proj = nn.Linear(4, 4)", preamble="import math"),
        "",
        line="self.log_temp =",
        title="a constant read with .item()",
    ),
    Example(
        src(
            "mask = torch.ones(4)\n"
            "if mask.sum() > 2:  # a condition on a tensor reads its value\n"
            "    self.head = nn.Linear(4, 2)\n"
            "else:\n"
            "    self.head = nn.Identity()"
        ),
        src(
            "mask = [1.0] * 4\nif sum(mask) > 2:\n    self.head = nn.Linear(4, 2)\nelse:\n    self.head = nn.Identity()"
        ),
        "",
        line="if mask.sum() > 2:",
        title="control flow on a tensor's value",
    ),
)

_INV_FREQ = "1.0 / 10000 ** (torch.arange(0, 8, 2) / 8)"

PI013 = (
    Example(
        src(f'inv_freq = {_INV_FREQ}\nself.register_buffer("inv_freq", inv_freq, persistent=False)'),
        src(
            'self.register_buffer("inv_freq", torch.empty(4), persistent=False)\nself.reset_parameters()',
            f"""\
            def reset_parameters(self) -> None:
                self.inv_freq.copy_({_INV_FREQ})
            """,
        ),
        "inv_freq",
        line='self.register_buffer("inv_freq"',
        also=("PI010",),
        title="a rotary inv_freq: recompute it in reset_parameters(), which __init__ calls",
    ),
    Example(
        src(f'inv_freq = {_INV_FREQ}\nself.register_buffer("inv_freq", inv_freq, persistent=False)'),
        src(f'inv_freq = {_INV_FREQ}\nself.register_buffer("inv_freq", inv_freq)'),
        "inv_freq",
        line='self.register_buffer("inv_freq"',
        also=("PI010",),
        title="or register it persistent: checkpoints carry it",
    ),
)
