"""`show MODEL --input-shape ...` end to end (issue 29): the forward pass runs in the model's child
process and its output shapes, FLOPs and activation memory reach the table, the JSON document and
the Python API; repeated blocks fold into one row; errors are one line and exit 2. The truth
checks go through the CLI's JSON and compare with forward hooks and FlopCounterMode on CPU."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, sample
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import paraminspect
from paraminspect.forward.outputs import output_tensors
from paraminspect.forward.stats_data import META

FIXTURES = ROOT / "tests" / "fixtures" / "forward_models.py"
sys.path.insert(0, str(FIXTURES.parent))
from forward_models import DictOutput, Pair, Stack  # noqa: E402


def fixture(name: str) -> str:
    return f"{FIXTURES}:{name}"


def cpu_truth(model: nn.Module, *args: torch.Tensor) -> tuple[dict[str, list[list[int]]], dict[str, int], int]:
    """Per module path: the first call's output shapes (forward hooks) and FLOPs
    (torch.utils.flop_counter.FlopCounterMode), on CPU; and the pass's total FLOPs."""
    names = {module: name for name, module in model.named_modules()}
    shapes: dict[str, list[list[int]]] = {}

    def hook(module: nn.Module, _args: Any, output: Any) -> None:
        shapes.setdefault(names[module], [list(t.shape) for t in output_tensors(output)])

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        with FlopCounterMode(display=False) as counter:
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
    root = type(model).__name__
    counts = {key: sum(ops.values()) for key, ops in counter.get_flop_counts().items()}
    flops = {name: counts.get(f"{root}.{name}" if name else root, 0) for name in names.values()}
    return shapes, flops, counter.get_total_flops()


def forward_json(cli, *args: str) -> dict[str, Any]:
    result = cli("show", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def assert_matches_cpu(doc: dict[str, Any], model: nn.Module, *args: torch.Tensor) -> None:
    shapes, flops, total = cpu_truth(model, *args)
    forward = doc["forward"]
    ran = {m["name"]: m["output_shapes"] for m in forward["modules"] if m["calls"]}
    assert ran == shapes
    assert {m["name"]: m["flops"] for m in forward["modules"]} == flops
    assert forward["flops"] == total > 0
    assert [m["name"] for m in forward["modules"]] == [name for name, _ in model.named_modules()]


# --- truth, through the CLI's JSON ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
def test_resnet18_output_shapes_and_flops_equal_hooks_and_flopcountermode_on_cpu(cli):
    import timm

    doc = forward_json(cli, "resnet18", "--input-shape", "1,3,224,224")
    assert doc["forward"]["engine"] == META and doc["forward"]["notes"] == []
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False)
    with torch.backends.mkldnn.flags(enabled=False):
        assert_matches_cpu(doc, model, torch.randn(1, 3, 224, 224))
    root = doc["forward"]["modules"][0]
    assert root["name"] == "" and root["type"] == "ResNet" and root["output_shapes"] == [[1, 1000]]
    assert {m["mode"] for m in doc["forward"]["modules"]} == {"train"}


def test_a_dict_output_model_flattens_its_outputs_in_order(cli):
    doc = forward_json(cli, fixture("dict_output"), "--input-shape", "3,4")
    assert_matches_cpu(doc, DictOutput(), torch.randn(3, 4))
    root = doc["forward"]["modules"][0]
    # the dict's values in order: logits, then the tuple (aux, [sum, mean])
    assert root["output_shapes"] == [[3, 6], [3, 2], [], [4]]


def test_an_example_function_feeds_every_positional_input(cli):
    doc = forward_json(cli, fixture("pair"), "--example", fixture("pair_input"))
    forward = doc["forward"]
    assert [i["name"] for i in forward["inputs"]] == ["args[0]", "args[1]"]
    assert forward["input_bytes"] == 2 * 3 * 4 * 4
    assert forward["modules"][0]["output_shapes"] == [[3, 5]]
    assert forward["flops"] == 2 * (2 * 3 * 4 * 5)  # two Linear(4, 5) on 3 rows


def test_a_70b_decoder_with_4096_tokens_works_through_the_cli(cli):
    doc = forward_json(cli, sample("huge"), "--input-ids", "1,4096", "--depth", "1")
    forward = doc["forward"]
    assert forward["engine"] == META and forward["activation_kind"] == "training"
    by_name = {m["name"]: m for m in forward["modules"]}
    assert by_name[""]["output_shapes"] == [[1, 4096, 128256]]
    assert by_name["lm_head"]["flops"] == 2 * 4096 * 8192 * 128256  # a Linear: 2 x tokens x in x out
    layers = [m for m in forward["modules"] if re.fullmatch(r"layers\.\d+", m["name"])]
    assert len(layers) == 80 and {m["calls"] for m in layers} == {1}
    assert forward["flops"] > 80 * layers[0]["flops"] > 0
    # what autograd keeps for 80 layers of 4096 x 8192 float32 activations: far over the input's size
    assert forward["activation_bytes"] > 80 * 4096 * 8192 * 4
    assert doc["totals"]["parameters"] == 70_553_706_496


# --- the JSON `forward` object: documented, additive -------------------------------------------


def _documented_forward_fields() -> set[str]:
    page = (ROOT / "docs" / "output.md").read_text(encoding="utf-8")
    section = page.split("<!-- forward-json -->", 2)[1]
    return set(re.findall(r"^\| `([A-Za-z_.\[\]]+)`", section, flags=re.M))


def test_every_forward_field_is_documented_and_the_rest_is_unchanged(cli):
    plain = forward_json(cli, sample("tiny_vit"), "--depth", "1")
    measured = forward_json(cli, sample("tiny_vit"), "--depth", "1", "--input-shape", "2,3,32,32")
    assert "forward" not in plain and measured["schema_version"] == plain["schema_version"] == 1
    assert {k: v for k, v in measured.items() if k != "forward"} == plain  # additive: nothing else changes
    doc = forward_json(cli, sample("tiny_vit"), "--depth", "1", "--input-shape", "2,3,32,32", "--dtype", "bf16,int8")
    forward = doc["forward"]
    fields = {f"forward.{key}" for key in forward}
    fields |= {f"forward.modules[].{key}" for m in forward["modules"] for key in m}
    fields |= {f"forward.inputs[].{key}" for i in forward["inputs"] for key in i}
    fields |= {f"forward.training_memory.DTYPE.{key}" for t in forward["training_memory"].values() for key in t}
    assert fields == _documented_forward_fields()
    bf16, int8 = forward["training_memory"]["bfloat16"], forward["training_memory"]["int8"]
    parts = ("weights_bytes", "gradient_bytes", "optimizer_bytes", "input_bytes", "saved_activation_bytes")
    assert bf16["training_bytes"] == sum(bf16[p] for p in parts)
    assert bf16["optimizer_dtype"] == "bfloat16" and bf16["gradient_bytes"] == 2 * doc["totals"]["trainable"]
    assert int8["training_bytes"] is None and int8["optimizer_dtype"] is None and "Adam" in int8["notes"][0]
    assert forward["activation_bytes"] == sum(forward["activation_bytes_by_dtype"].values()) > 0
    assert forward["inputs"] == [{"name": "args[0]", "shape": [2, 3, 32, 32], "dtype": "float32", "bytes": 24576}]


# --- tables --------------------------------------------------------------------------------------


def table_names(out: str) -> list[str]:
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


def test_repeated_blocks_fold_into_one_row_and_no_collapse_lists_them(cli):
    folded = cli("show", fixture("stack"))
    assert folded.code == 0, folded.err
    assert table_names(folded.out) == [
        "blocks.{0..2}.weight  x3",
        "blocks.{0..2}.bias  x3",
        "blocks.3.0.weight",
        "blocks.3.0.bias",
        "blocks.3.1.weight",
        "blocks.3.1.bias",
        "blocks.{4..5}.weight  x2",
        "blocks.{4..5}.bias  x2",
    ]
    assert "xN: N alike tensors in one row" in folded.out
    expanded = cli("show", fixture("stack"), "--no-collapse")
    assert len(table_names(expanded.out)) == 14 and "blocks.5.bias" in table_names(expanded.out)
    assert "xN" not in expanded.out
    modules = cli("show", fixture("stack"), "--depth", "3", "--input-shape", "2,8")
    rows = [line.split("│") for line in modules.out.splitlines() if line.startswith("│")]
    labels = [row[1].strip() for row in rows]
    assert labels == ["(root)", "blocks", "{0..2}  x3", "3", "0", "1", "{4..5}  x2"]
    head = next(line for line in modules.out.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in head.split("┃")[1:-1]] == [
        "Module",
        "Type",
        "Output shape",
        "Parameters",
        "Params %",
        "Trainable",
        "Buffers",
        "Size",
        "FLOPs",
        "Mode",
    ]
    cells = dict(zip(labels, rows, strict=True))
    assert cells["{0..2}  x3"][3].strip() == "[2, 8]" and cells["{0..2}  x3"][9].strip() == str(2 * 2 * 8 * 8)
    assert cells["blocks"][3].strip() == "--"  # a ModuleList does not run itself
    assert "--: the module did not run in the forward pass" in modules.out


def test_totals_say_flops_input_and_activations_and_dtype_training_memory(cli):
    result = cli("show", sample("tiny_vit"), "--input-shape", "1,3,32,32", "--dtype", "bf16,int8")
    assert result.code == 0, result.err
    doc = forward_json(cli, sample("tiny_vit"), "--input-shape", "1,3,32,32", "--dtype", "bf16,int8")
    forward = doc["forward"]
    assert "FLOPs (forward pass on the meta device): " in result.out and f"{forward['flops']:,}" in result.out
    assert "Input: 12.0 KiB; args[0] float32 [1, 3, 32, 32]" in result.out
    saved = r"^Activations: [0-9.]+ KiB \(float32\); training: what autograd saves for backward$"
    assert re.search(saved, result.out, re.M)
    line = next(line for line in result.out.splitlines() if line.startswith("Training as bfloat16 with Adam: "))
    assert all(part in line for part in ("weights", "gradients", "Adam states", "(2 x bfloat16)", "saved activations"))
    assert "Training as int8 with Adam: not counted" in result.out
    assert "int8 weights are not trained with Adam" in result.out
    evaluated = forward_json(cli, fixture("dict_output"), "--input-shape", "3,4")
    assert evaluated["forward"]["activation_kind"] == "training"


def test_tree_draws_the_module_tree_with_shapes_and_flops(cli):
    result = cli("show", fixture("stack"), "--tree", "--input-shape", "2,8")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1].split() == ["Module", "Output", "shape", "Params", "FLOPs"]
    assert any(line.startswith("   ├─ {0..2} (Linear) x3") and "[2, 8]" in line for line in lines)
    assert any("└─ {4..5} (Linear) x2" in line for line in lines)
    plain = cli("show", fixture("stack"), "--tree", "--no-collapse")
    assert sum("(Linear)" in line for line in plain.out.splitlines()) == 7


# --- errors: one line, exit 2 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("resnet18", "--input-shape", "1,a,3"), "bad --input-shape '1,a,3'"),
        (("resnet18", "--vocab", "10"), "--vocab goes with --input-ids"),
        (("resnet18", "--max-cpu-bytes", "1GiB"), "--max-cpu-bytes goes with an example input"),
        (("resnet18", "--input-shape", "1,3", "--input-ids", "1,3"), "give only one of"),
        ((fixture("dict_output"), "--input-shape", "3,5"), "cannot run"),
        ((fixture("reads_values"), "--input-shape", "2,6", "--max-cpu-bytes", "10"), "over the 10B limit"),
        ((sample("tiny_vit"), "--tree", "--format", "json"), "--tree draws the module tree"),
        ((sample("tiny_vit"), "--input-ids", "1,4"), "no nn.Embedding"),
        ((sample("tiny_vit"), "--input-shape", "1,3,32,32", "--format", "csv"), "--format csv has no place"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args: tuple[str, ...], message: str):
    result = cli("show", *args)
    assert result.code == 2 and result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


def test_a_checkpoint_has_no_forward_pass(cli, tmp_path: Path):
    from safetensors.torch import save_file

    path = tmp_path / "weights.safetensors"
    save_file({"layers.0.w": torch.zeros(4, 4), "layers.1.w": torch.zeros(4, 4)}, str(path))
    result = cli("show", str(path), "--input-shape", "1,4")
    assert result.code == 2 and "is a checkpoint: its tensors have no forward pass" in result.err
    tree = cli("show", str(path), "--tree")  # its name prefixes still draw a tree
    assert tree.code == 0 and "└─ {0..1} x2" in tree.out


def test_input_dtype_and_ids_reach_the_pass(cli):
    doc = forward_json(cli, fixture("stack"), "--input-shape", "2,8", "--input-dtype", "float64")
    assert doc["forward"]["inputs"][0]["dtype"] == "float64"
    assert doc["forward"]["input_bytes"] == 2 * 8 * 8
    assert doc["forward"]["activation_bytes_by_dtype"].keys() == {"float64"}


def test_a_model_that_reads_values_runs_on_cpu_within_the_limit(cli):
    doc = forward_json(cli, fixture("reads_values"), "--input-shape", "2,6")
    assert doc["forward"]["engine"] == "cpu" and doc["forward"]["flops"] == 2 * 2 * 6 * 6
    assert any("on CPU" in note for note in doc["notes"])


def test_an_example_function_is_never_answered_from_the_cache(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PARAMINSPECT_CACHE_DIR", str(tmp_path / "cache"))
    assert cli("show", fixture("pair"), "--example", fixture("pair_input")).code == 0
    assert not list((tmp_path / "cache").rglob("*.json"))
    assert cli("show", fixture("pair"), "--input-shape", "2,4").code == 2  # Pair takes two inputs
    assert cli("show", fixture("stack"), "--input-shape", "2,8").code == 0
    assert list((tmp_path / "cache").rglob("*.json"))  # a shape's pass is cacheable


# --- the Python API leaves the model exactly as it found it --------------------------------------


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "modes": [m.training for m in model.modules()],
        "hooks": [(dict(m._forward_hooks), dict(m._forward_pre_hooks)) for m in model.modules()],
        "tensors": {
            n: (t, t.device, t.requires_grad, t.grad, t.data_ptr())
            for n, t in (*model.named_parameters(), *model.named_buffers())
        },
        "values": {n: t.clone() for n, t in model.state_dict().items() if t.device.type != "meta"},
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
    }


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("how", ["input_shape", "inputs"])
def test_summary_with_an_input_leaves_the_model_as_found(device: str, how: str):
    with torch.device(device):
        model = Mixed()
    model.body[2].eval()  # modes mixed
    model.head.requires_grad_(False)
    calls: list[str] = []
    model.body.register_forward_hook(lambda m, i, o: calls.append("hook"))
    if device == "cpu":
        model.body[0].weight.grad = torch.ones_like(model.body[0].weight)
    torch.manual_seed(7)
    random.seed(7)
    before = _snapshot(model)
    options = {"input_shape": (4, 4)} if how == "input_shape" else {"inputs": torch.randn(4, 4)}
    if how == "inputs":
        before["torch_rng"] = torch.get_rng_state()
    summary = paraminspect.summary(model, depth=2, dtype="bf16", **options)
    after = _snapshot(model)
    assert after["modes"] == before["modes"] and after["hooks"] == before["hooks"]
    for name, (t, dev, grad_flag, grad, ptr) in before["tensors"].items():
        t2, dev2, grad_flag2, grad2, ptr2 = after["tensors"][name]
        assert t2 is t and dev2 == dev and grad_flag2 == grad_flag and grad2 is grad and ptr2 == ptr, name
    for name, value in before["values"].items():
        assert torch.equal(after["values"][name], value), name
    assert torch.equal(after["torch_rng"], before["torch_rng"]) and after["python_rng"] == before["python_rng"]
    assert calls == ["hook"]  # the user's hook ran once, in the pass, and is still registered
    assert summary.forward is not None and summary.forward.modules[0].output_shapes == ((4, 2),)
    assert [m.mode for m in summary.forward.modules] == ["train" if flag else "eval" for flag in before["modes"]]
    assert summary.flops == summary.to_dict()["forward"]["flops"] > 0
    assert summary.training is not None and summary.training[0].dtype == "bfloat16"
    text = summary.text(width=None)
    assert "Output shape" in text and "FLOPs (forward pass on the meta device)" in text
    assert "Training as bfloat16 with Adam" in text


def test_summary_takes_the_cli_s_input_options():
    ids = paraminspect.summary(nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 3)), input_ids=(2, 5))
    assert ids.forward.inputs[0].dtype == "int64" and ids.forward.modules[0].output_shapes == ((2, 5, 3),)
    pair = paraminspect.summary(Pair(), example=fixture("pair_input"))
    assert pair.forward.modules[0].output_shapes == ((3, 5),)
    assert paraminspect.summary(Pair(), inputs=(torch.randn(2, 4), torch.randn(2, 4))).flops == 2 * (2 * 2 * 4 * 5)
    stack = paraminspect.summary(Stack())
    assert "blocks.{0..2}.weight  x3" in str(stack)
    assert "blocks.{0..2}" not in str(paraminspect.summary(Stack(), collapse=False))
    with pytest.raises(paraminspect.errors.UsageError, match="either inputs or"):
        paraminspect.summary(Pair(), inputs=torch.randn(2, 4), input_shape=(2, 4))


def test_show_prints_the_table_with_the_pass_and_returns_the_summary(capsys):
    shown = paraminspect.show(Stack(), depth=1, input_shape=(2, 8))
    out = capsys.readouterr().out
    assert "Output shape" in out and "FLOPs (forward pass on the meta device)" in out
    assert shown.flops == 5 * (2 * 2 * 8 * 8) + 2 * (2 * 2 * 8 * 16)  # five Linear(8, 8), 8 -> 16 -> 8
    assert shown._repr_html_() is None  # displayed once already


def test_the_notebook_view_is_the_html_report_with_flops(tmp_path: Path, cli):
    fragment = paraminspect.summary(Stack(), input_shape=(2, 8))._repr_html_()
    result = cli("show", fixture("stack"), "--input-shape", "2,8", "--format", "html", "-o", str(tmp_path / "s.html"))
    assert result.code == 0, result.err
    page = (tmp_path / "s.html").read_text(encoding="utf-8")

    def data(html: str) -> dict[str, Any]:
        block = re.search(r'<script type="application/json" class="pi-data">(.*?)</script>', html, re.S)
        assert block is not None
        return json.loads(block.group(1))

    ours, theirs = data(fragment), data(page)
    assert ours["modules"] == theirs["modules"] and ours["flops"] == theirs["flops"]
    assert theirs["flops"][0] == 5 * 2 * 2 * 8 * 8 + 2 * 2 * 8 * 16 * 2  # the root: every FLOP
    assert page.startswith("<!DOCTYPE html>") and "FLOPs (forward pass on the meta device)" in page
