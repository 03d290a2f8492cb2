"""The runtime rules' examples (PI101-PI105) as code: each runs (`check --run`) with a float
input of shape `input_shape`. tests/test_rule_examples.py runs every one of them and
`explain` prints them."""

from __future__ import annotations

from paraminspect.checks.rule import Example
from paraminspect.checks.rule import example_source as src

_SHAPE = "2,4"

PI101 = (
    Example(
        src(
            "self.body = nn.Linear(4, 4)\nself.aux_head = nn.Linear(4, 2)",
            "def forward(self, x):\n    return self.body(x)",
        ),
        src("self.body = nn.Linear(4, 4)", "def forward(self, x):\n    return self.body(x)"),
        "aux_head.weight",
        line="self.aux_head =",
        input_shape=_SHAPE,
        title="a head that forward never calls",
    ),
    Example(
        src(
            "self.body = nn.Linear(4, 4)\nself.gain = nn.Parameter(torch.ones(4))",
            "def forward(self, x):\n    return self.body(x) * self.gain.detach()",
        ),
        src(
            "self.body = nn.Linear(4, 4)\nself.gain = nn.Parameter(torch.ones(4))",
            "def forward(self, x):\n    return self.body(x) * self.gain",
        ),
        "gain",
        line="self.gain =",
        input_shape=_SHAPE,
        title="a parameter used only detached",
    ),
)

PI102 = (
    Example(
        src(
            "self.mask = None",
            """\
            def forward(self, x):
                if self.mask is None:
                    self.mask = x.new_ones(4, 4).tril()
                return x @ self.mask
            """,
        ),
        src(
            'self.register_buffer("mask", None, persistent=False)',
            """\
            def forward(self, x):
                if self.mask is None:
                    self.mask = x.new_ones(4, 4).tril()
                return x @ self.mask
            """,
        ),
        "mask",
        line="self.mask = x.new_ones",
        input_shape=_SHAPE,
    ),
)

PI103 = (
    Example(
        src("self.proj = nn.Linear(4, 4)", "def forward(self, x):\n    return self.proj(x + torch.arange(4))"),
        src(
            "self.proj = nn.Linear(4, 4)",
            "def forward(self, x):\n    return self.proj(x + torch.arange(4, device=x.device))",
        ),
        "",
        line="torch.arange(4)",
        input_shape=_SHAPE,
        title="a position offset added to the input",
    ),
    Example(
        src(
            "self.pos = nn.Embedding(4, 4)",
            "def forward(self, x):\n    positions = torch.arange(x.shape[1])\n    return x @ self.pos(positions)",
        ),
        src(
            "self.pos = nn.Embedding(4, 4)",
            """\
            def forward(self, x):
                positions = torch.arange(x.shape[1], device=x.device)
                return x @ self.pos(positions)
            """,
        ),
        "",
        line="positions = torch.arange",
        input_shape=_SHAPE,
        title="position indices looked up in an embedding",
    ),
)

PI104 = (
    Example(
        src(
            "self.proj = nn.Linear(4, 4)",
            """\
            def forward(self, x):
                bias = nn.Parameter(torch.zeros(4, device=x.device))
                return self.proj(x) + bias
            """,
        ),
        src(
            "self.proj = nn.Linear(4, 4)\nself.bias = nn.Parameter(torch.zeros(4))",
            "def forward(self, x):\n    return self.proj(x) + self.bias",
        ),
        "",
        line="bias = nn.Parameter",
        input_shape=_SHAPE,
    ),
)

PI105 = (
    Example(
        src(
            "self.proj = nn.Linear(4, 4)",
            "def forward(self, x):\n    return self.proj(x) * SCALE",
            preamble="SCALE = torch.full((4,), 0.5)",
        ),
        src(
            'self.proj = nn.Linear(4, 4)\nself.register_buffer("scale", SCALE.clone(), persistent=False)',
            "def forward(self, x):\n    return self.proj(x) * self.scale",
            preamble="SCALE = torch.full((4,), 0.5)",
        ),
        "",
        line="* SCALE",
        input_shape=_SHAPE,
        title="a module-level tensor read in forward",
    ),
)
