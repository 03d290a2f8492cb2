"""Nested wrapper prefixes in diff: state dicts saved from real wrapped models (torch.compile's
OptimizedModule, DataParallel on CPU, a Lightning-style module holding a compiled model) are one
cause with the exact Python that fixes them (nanoGPT#325, timm#2003), run here for real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from safetensors.torch import save_file
from torch import nn

from tests.fixtures import diff_models as models

MODEL = "tests/fixtures/diff_models.py:Classifier"


class Lit(nn.Module):
    """What a LightningModule that compiled its `self.model` saves."""

    def __init__(self) -> None:
        super().__init__()
        self.model = torch.compile(models.Classifier())


WRAPPED = {
    "_orig_mod.module.": (
        lambda: torch.compile(nn.DataParallel(models.Classifier())),
        "torch.compile around DataParallel/DistributedDataParallel",
    ),
    "module._orig_mod.": (
        lambda: nn.DataParallel(torch.compile(models.Classifier())),
        "DataParallel/DistributedDataParallel around torch.compile",
    ),
    "model._orig_mod.": (
        Lit,
        "a Lightning-style checkpoint (the LightningModule's `model` attribute) around torch.compile",
    ),
}


def _fix_in(message: str) -> str:
    """The Python expression the message ends with."""
    return re.findall(r"`([^`]*)`", message)[-1]


def _diff(cli, *args: str) -> dict:
    result = cli("diff", *args, "--format", "json")
    assert result.code == 1, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("prefix", list(WRAPPED))
def test_a_nested_prefix_is_one_cause_with_the_exact_strip(cli, tmp_path, prefix):
    build, cause = WRAPPED[prefix]
    state = build().state_dict()
    assert all(k.startswith(prefix) for k in state)  # what the wrappers really save
    ckpt = tmp_path / "wrapped.pt"
    torch.save({"state_dict": state} if prefix.startswith("model.") else state, ckpt)
    doc = _diff(cli, MODEL, str(ckpt))
    (explanation,) = doc["explanations"]
    assert explanation["kind"] == "prefix"
    strip = f"{{k.removeprefix({prefix!r}): v for k, v in sd.items()}}"
    assert explanation["message"] == (
        f"all {len(state)} unexpected keys are the model's keys with a `{prefix}` prefix ({cause}): strip it: `{strip}`"
    )
    assert doc["summary"] == f"loads: no - {explanation['message']}"
    assert doc["mapping"] == {k: k.removeprefix(prefix) for k in state}
    assert doc["unexplained"] == {"missing": [], "unexpected": [], "mismatched": []}
    fixed = eval(_fix_in(explanation["message"]), {"sd": state})  # the line the user is told to run
    models.Classifier().load_state_dict(fixed)


def test_the_text_report_says_it_on_its_first_line(cli, tmp_path):
    state = torch.compile(nn.DataParallel(models.Classifier())).state_dict()
    ckpt = tmp_path / "compiled_ddp.safetensors"
    save_file(state, str(ckpt))
    result = cli("diff", MODEL, str(ckpt))
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"loads: no - all {len(state)} unexpected keys are the model's keys with a `_orig_mod.module.` prefix "
        "(torch.compile around DataParallel/DistributedDataParallel): strip it: "
        "`{k.removeprefix('_orig_mod.module.'): v for k, v in sd.items()}`"
    )


def _factory(tmp_path: Path, body: str) -> str:
    path = tmp_path / "wrapped_models.py"
    path.write_text(
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "import torch\nfrom torch import nn\nfrom tests.fixtures.diff_models import Classifier\n"
        f"def build():\n    return {body}\n"
    )
    return f"{path}:build"


def test_one_wrappers_prefix_where_the_target_has_anothers(cli, tmp_path):
    """A DDP checkpoint (`module.`) for a compiled target (`_orig_mod.`): a prefix to replace,
    not a rename of every subtree."""
    state = nn.DataParallel(models.Classifier()).state_dict()
    ckpt = tmp_path / "ddp.pt"
    torch.save(state, ckpt)
    doc = _diff(cli, _factory(tmp_path, "torch.compile(Classifier())"), str(ckpt))
    (explanation,) = doc["explanations"]
    assert explanation["kind"] == "prefix"
    assert explanation["message"] == (
        f"all {len(state)} unexpected keys are the model's keys with `module.` (DataParallel/DistributedDataParallel) "
        "where the model has `_orig_mod.` (torch.compile): replace it: "
        "`{'_orig_mod.' + k.removeprefix('module.'): v for k, v in sd.items()}`"
    )
    fixed = eval(_fix_in(explanation["message"]), {"sd": state})
    torch.compile(models.Classifier()).load_state_dict(fixed)
    assert doc["mapping"] == {k: "_orig_mod." + k.removeprefix("module.") for k in state}


def test_a_wrapped_target_gets_the_nested_prefix_added(cli, tmp_path):
    state = models.Classifier().state_dict()
    ckpt = tmp_path / "plain.pt"
    torch.save(state, ckpt)
    doc = _diff(cli, _factory(tmp_path, "nn.DataParallel(torch.compile(Classifier()))"), str(ckpt))
    (explanation,) = doc["explanations"]
    assert explanation["message"] == (
        f"all {len(state)} missing keys are the checkpoint's keys with a `module._orig_mod.` prefix added (the model "
        "is wrapped: DataParallel/DistributedDataParallel around torch.compile): add it: "
        "`{'module._orig_mod.' + k: v for k, v in sd.items()}`, or load into the wrapped module"
    )
    fixed = eval(_fix_in(explanation["message"].removesuffix(", or load into the wrapped module")), {"sd": state})
    nn.DataParallel(torch.compile(models.Classifier())).load_state_dict(fixed)


def test_show_names_the_whole_wrapper_chain(cli, tmp_path):
    ckpt = tmp_path / "wrapped.safetensors"
    save_file(nn.DataParallel(torch.compile(models.Classifier())).state_dict(), str(ckpt))
    result = cli("show", str(ckpt), "--format", "json")
    assert result.code == 0, result.err
    assert (
        "every name starts with 'module._orig_mod.': saved from a wrapped (DataParallel/DDP around torch.compile) "
        "model" in result.err + result.out
    )
