from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from conftest import run_process, sample


def test_vit_base_json_matches_named_parameters(cli):
    import timm

    result = cli("show", "vit_base_patch16_224", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    with torch.device("meta"):
        model = timm.create_model("vit_base_patch16_224", pretrained=False)
    expected = [(n, list(p.shape)) for n, p in model.named_parameters()]
    got = [(t["name"], t["shape"]) for t in doc["tensors"] if t["kind"] == "parameter"]
    assert got == expected
    assert doc["totals"]["parameters"] == 86_567_656
    assert doc["schema_version"] == 1
    assert doc["build_device"] == "meta"
    assert doc["resolved"] == "timm:vit_base_patch16_224"


def test_vit_base_table_total_and_piped_names_whole(cli):
    result = cli("show", "vit_base_patch16_224", "--no-collapse")
    assert result.code == 0
    assert "86,567,656" in result.out
    assert "blocks.11.mlp.fc2.weight" in result.out
    assert "\x1b[" not in result.out  # no colour when not a terminal


def test_piped_process_keeps_long_names_whole():
    result = run_process("show", sample("tiny_vit"), "--no-collapse", env={"COLUMNS": "40"})
    assert result.code == 0, result.err
    assert "encoder.layers.1.self_attn.out_proj.weight" in result.out
    assert "\x1b[" not in result.out


def test_timm_prefix_and_pretrained_tag(cli):
    for spec in ("timm:resnet18", "resnet18.a1_in1k"):
        doc = json.loads(cli("show", spec, "-f", "json").out)
        assert doc["resolved"] == "timm:resnet18"
        assert doc["totals"]["parameters"] == 11_689_512


def test_partial_timm_name_picks_canonical_and_says_so(cli):
    result = cli("show", "vit_base", "-f", "json")
    assert result.code == 0
    assert json.loads(result.out)["resolved"] == "timm:vit_base_patch16_224"
    assert "matched" in result.err and "vit_base_patch16_224" in result.err


def test_unknown_timm_name_suggests(cli):
    result = cli("show", "vit_bsae_patch16_224")
    assert result.code == 2
    assert "vit_base_patch16_224" in result.err
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err


def test_shared_parameters_counted_once(cli):
    import timm

    doc = json.loads(cli("show", "timm:coat_lite_tiny", "-f", "json").out)
    with torch.device("meta"):
        model = timm.create_model("coat_lite_tiny")
    unique = sum(p.numel() for p in model.parameters())
    with_dupes = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert with_dupes > unique  # the model really shares parameters
    assert doc["totals"]["parameters"] == unique
    assert any(t["aliases"] for t in doc["tensors"])


def test_regnet_falls_back_to_cpu(cli):
    result = cli("show", "torchvision.models:regnet_y_400mf", "-f", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["build_device"] == "cpu"
    assert doc["totals"]["parameters"] == 4_344_144
    assert "meta" in result.err and "CPU" in result.err


def test_forced_device(cli):
    doc = json.loads(cli("show", sample("mlp"), "--device", "cpu", "-f", "json").out)
    assert doc["build_device"] == "cpu"
    assert {t["device"] for t in doc["tensors"]} == {"cpu"}


def test_factory_kwargs_are_literals(cli):
    doc = json.loads(cli("show", sample("mlp"), "-a", "in_dim=3", "-a", "hidden=5", "-f", "json").out)
    shapes = {t["name"]: t["shape"] for t in doc["tensors"]}
    assert shapes["fc1.weight"] == [5, 3]


def test_module_path_class_and_instance(cli, tmp_path):
    (tmp_path / "mymodels.py").write_text(
        "from torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, width=3):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(width, 2)\n"
        "class Zoo:\n"
        "    tiny = nn.Linear(2, 2)\n"
    )
    for spec, numel in ((f"{tmp_path}/mymodels.py:Net", 8), (f"{tmp_path}/mymodels.py:Zoo.tiny", 6)):
        doc = json.loads(cli("show", spec, "-f", "json").out)
        assert doc["totals"]["parameters"] == numel
    doc = json.loads(cli("show", "sample_models.mlp:MLP", "-a", "in_dim=2", "-f", "json").out)
    assert doc["totals"]["parameters"] == 2 * 32 + 32 + 32 * 4 + 4


def test_each_kind_in_json(cli):
    doc = json.loads(cli("show", sample("buffers"), "-f", "json").out)
    by_name = {t["name"]: t for t in doc["tensors"]}
    assert by_name["mean"]["kind"] == "buffer" and by_name["mean"]["persistent"] is True
    assert by_name["positions"]["kind"] == "buffer" and by_name["positions"]["persistent"] is False
    assert by_name["proj.weight"]["kind"] == "parameter" and by_name["proj.weight"]["persistent"] is None
    assert "unused" not in by_name
    doc = json.loads(cli("show", sample("unregistered_tensor"), "-f", "json").out)
    scale = next(t for t in doc["tensors"] if t["name"] == "scale")
    assert scale["kind"] == "unregistered" and scale["module"] == "" and scale["module_type"] == "ScaledLinear"
    assert doc["totals"]["unregistered"] == 4


def test_json_contract_fields(cli):
    doc = json.loads(cli("show", sample("tied_embedding"), "-f", "json").out)
    assert set(doc) >= {"schema_version", "model", "resolved", "build_device", "tensors", "totals"}
    fields = {
        "name",
        "kind",
        "persistent",
        "requires_grad",
        "shape",
        "dtype",
        "device",
        "numel",
        "bytes",
        "module",
        "module_type",
        "aliases",
    }
    for t in doc["tensors"]:
        assert set(t) == fields
    assert set(doc["totals"]) >= {"parameters", "trainable", "frozen", "buffers", "unregistered", "bytes"}
    embed = next(t for t in doc["tensors"] if t["name"] == "embed.weight")
    assert embed["aliases"] == ["lm_head.weight"]
    assert doc["totals"]["parameters"] == 100 * 16 + 16 * 16 + 16


def test_frozen_totals_and_table_footer(cli):
    result = cli("show", sample("frozen_backbone"))
    assert "frozen: 1,392" in result.out
    assert "trainable: 170" in result.out


def test_depth_view(cli):
    result = cli("show", sample("frozen_backbone"), "--depth", "1", "-f", "json")
    modules = json.loads(result.out)["modules"]
    assert [(m["path"], m["parameters"], m["trainable"]) for m in modules] == [
        ("", 1562, 170),
        ("backbone", 1392, 0),
        ("head", 170, 170),
    ]
    table = cli("show", sample("frozen_backbone"), "--depth", "1").out
    assert "backbone" in table and "89.12" in table


def test_filter_and_kind(cli):
    doc = json.loads(cli("show", "vit_base_patch16_224", "--filter", "blocks.0.*", "-f", "json").out)
    assert len(doc["tensors"]) == 12
    assert all(t["name"].startswith("blocks.0.") for t in doc["tensors"])
    doc = json.loads(cli("show", sample("buffers"), "--kind", "buffer", "-f", "json").out)
    assert {t["kind"] for t in doc["tensors"]} == {"buffer"}


def test_csv_and_markdown(cli):
    out = cli("show", sample("mlp"), "-f", "csv").out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert rows[0]["shape"] == "32x16"
    md = cli("show", sample("mlp"), "-f", "markdown").out
    assert md.splitlines()[0] == "### `" + sample("mlp") + "` · `MLP` · built on meta"  # a title (issue 33)
    assert md.splitlines()[2].startswith("| Name |")
    assert "`fc2.bias`" in md


def test_output_file(cli, tmp_path):
    target = tmp_path / "out.json"
    result = cli("show", sample("mlp"), "-f", "json", "-o", str(target))
    assert result.code == 0 and result.out == ""
    assert json.loads(target.read_text())["totals"]["parameters"] == 676


@pytest.mark.parametrize(
    "args",
    [
        ("show", "sample_models.mlp:build", "--format", "yaml"),
        ("show", "sample_models.mlp:build", "--depth", "-1"),
        ("show", "sample_models.mlp:build", "--kind", "weights"),
    ],
)
def test_bad_options_exit_2_one_line(cli, args):
    result = cli(*args)
    assert result.code == 2
    assert result.err.startswith("error:") and result.err.count("\n") == 1


@pytest.mark.parametrize("output_format", ["table", "text", "json", "csv", "markdown"])
def test_the_models_process_renders_what_does_not_need_the_terminal(output_format):
    """Piped or written to a file, `show` is rendered in the model's child process and only
    the text comes back: the same text the CLI would render from the records."""
    from paraminspect.commands.show import render_show as write_show
    from paraminspect.commands.show import show_in_child as show_task

    spec = sample("tiny_vit")
    here = io.StringIO()
    write_show(here, show_task(spec), output_format)
    there = show_task(spec, render=output_format)
    assert there.rendered == here.getvalue() and "cls_token" in there.rendered
    assert there.records == () and there.inventory is None  # nothing else to send back
    assert there.notes == show_task(spec).notes
