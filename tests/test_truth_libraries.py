"""The issue 17 patterns on the real libraries, when they are installed (each test is skipped
otherwise): vit-pytorch, x-transformers, lightning, segmentation-models-pytorch."""

from __future__ import annotations

import json
import textwrap

import pytest


def check(cli, *args: str) -> tuple[int, list[dict], str]:
    result = cli("check", *args, "--format", "json")
    assert result.code in (0, 1), result.err
    findings = [f for f in json.loads(result.out)["findings"] if f["severity"] != "info"]
    return result.code, findings, result.err


VIT = ("-a", "image_size=32", "-a", "patch_size=8", "-a", "num_classes=10", "-a", "dim=32", "-a", "depth=1")
VIT += ("-a", "heads=2", "-a", "mlp_dim=64", "-a", "dim_head=16", "--input-shape", "2,3,32,32")


def test_simple_vit_positions_moved_in_forward_are_pi002_only(cli):
    pytest.importorskip("vit_pytorch")
    _, findings, _ = check(cli, "vit_pytorch.simple_vit:SimpleViT", "--run", *VIT)
    assert [(f["code"], f["names"]) for f in findings] == [("PI002", ["pos_embedding"])]  # true, and no PI105


def test_x_transformers_alibi_and_rotary_run_without_findings(cli):
    pytest.importorskip("x_transformers")
    for flag in ("alibi_pos_bias", "rotary_pos_emb"):
        code, findings, _ = check(
            cli, "x_transformers:Decoder", "-a", "dim=32", "-a", "depth=1", "-a", "heads=2", "-a", f"{flag}=True",
            "--run", "--input-shape", "2,8,32",
        )  # fmt: skip
        assert findings == [], (flag, findings)
        assert code == 0


def test_x_transformers_layer_dropout_is_deterministic(cli):
    pytest.importorskip("x_transformers")
    args = ("x_transformers:Decoder", "-a", "dim=32", "-a", "depth=4", "-a", "heads=2", "-a", "layer_dropout=0.5")
    runs = [check(cli, *args, "--run", "--input-shape", "2,8,32") for _ in range(2)]
    assert runs[0] == runs[1]


def test_lightning_example_input_array_is_no_finding(cli, tmp_path):
    pytest.importorskip("lightning")
    path = tmp_path / "lit.py"
    path.write_text(
        textwrap.dedent(
            """\
            import torch
            from torch import nn
            import lightning.pytorch as pl

            class Lit(pl.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.layer = nn.Linear(32, 2)
                    self.example_input_array = {"x": torch.rand(2, 32)}

                def forward(self, x):
                    return self.layer(x)
            """
        )
    )
    code, findings, _ = check(cli, f"{path}:Lit", "--run", "--input-shape", "2,32")
    assert findings == []
    assert code == 0


def test_torchmetrics_states_are_no_finding(cli, tmp_path):
    pytest.importorskip("torchmetrics")
    path = tmp_path / "metrics.py"
    path.write_text(
        "import torchmetrics\nfrom torch import nn\n\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.acc = torchmetrics.Accuracy(task='multiclass', num_classes=3)\n"
    )
    code, findings, _ = check(cli, f"{path}:M")
    assert findings == []
    assert code == 0


def test_segmentation_models_build_without_encoder_weights(cli):
    pytest.importorskip("segmentation_models_pytorch")
    result = cli("show", "segmentation_models_pytorch:Unet", "-a", "encoder_name=resnet18")
    assert result.code == 0, result.err
    assert "encoder_weights=None" in result.err
