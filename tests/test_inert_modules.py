"""PI004 and modules that hold no tensor: flagged when train()/eval() changes them, not when
unregistered they lose nothing (transformers' `_kernel_funcs`: stateless kernel wrappers kept
in a dict on purpose). The built check and the static pass agree."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import torch
from torch import nn

import paraminspect


class Kernel(nn.Module):  # a stateless function wrapper, as the kernels package makes
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class ModeDependent(nn.Module):  # no tensor, but its behaviour follows train()/eval()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5 if self.training else x


class Holder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self._kernel_funcs = {"rotary_pos_emb": Kernel()}
        self.acts = [nn.ReLU(), nn.Sequential(nn.GELU(), nn.Identity())]
        self.modes = [ModeDependent()]
        self.drops = {"a": nn.Dropout(0.1)}
        self.linears = [nn.Linear(2, 2)]


def test_only_modules_that_lose_something_are_reported() -> None:
    found = {(f.code, f.attribute) for f in paraminspect.check(Holder()) if f.code == "PI004"}
    assert found == {("PI004", "modes"), ("PI004", "drops"), ("PI004", "linears")}


def test_the_static_pass_and_the_build_agree(tmp_path: Path, cli, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.paraminspect]\n")
    (tmp_path / "net.py").write_text(
        textwrap.dedent(
            """\
            from torch import nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(2, 2)
                    self.acts = [nn.ReLU(), nn.MaxPool2d(2)]
                    self.losses = {"mse": nn.MSELoss(), "ce": nn.CrossEntropyLoss(reduction="none")}
                    self.weighted = {"ce": nn.CrossEntropyLoss(weight=None)}
                    self.drops = [nn.Dropout(0.1)]
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    static = json.loads(cli("check", ".", "--static", "--no-cache", "-f", "json").out)
    built = json.loads(cli("check", "net.py:Net", "-f", "json").out)
    # `weight=` may be a tensor: the static pass cannot rule it out and reports it
    assert {f["attribute"] for f in static["findings"]} == {"drops", "weighted"}
    assert {f["attribute"] for f in built["findings"]} == {"drops"}
