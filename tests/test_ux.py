"""Reading at a glance and working in notebooks (issue 18): totals first for big models,
counts of what --filter/--kind hide, checkpoint listings that claim only what a file
records, plurals, --depth CSV/JSON agreement, and the Python API's summary object."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import torch
from conftest import ROOT, run_process, sample
from torch import nn

import paraminspect
from paraminspect.checks.engine import name_allowed
from paraminspect.checks.model_result import ModelResult
from paraminspect.checks.rule import Finding
from paraminspect.loaders.timm import close_names
from paraminspect.render.findings import concise_line, summary_line
from paraminspect.render.fit import shorten_middle, shorten_path
from paraminspect.render.table import Styler, tensor_table


def _lines(text: str) -> list[str]:
    return text.splitlines()


# 1 (renderer): the fitted table, as a pure function of records and a width


def test_fitted_table_never_wider_than_width_and_piped_keeps_everything():
    records = paraminspect.inventory(nn.Sequential(*[nn.Linear(2, 2) for _ in range(12)])).tensors
    long = [dataclasses.replace(r, name="encoder.layers." + r.name) for r in records]
    for width in (40, 60, 80):
        lines, notes = tensor_table(long, width, Styler(None))
        assert max(len(line) for line in lines) <= width
        assert notes and notes[0] == "Numel"  # Numel gives way first
    lines, notes = tensor_table(long, None, Styler(None))
    assert notes == [] and "encoder.layers.11.weight" in "\n".join(lines)
    assert shorten_middle("blocks.11.mlp.fc2.weight", 21) == "blocks.11.…fc2.weight"


# 3. big models: totals first; --filter/--kind say how many rows they kept, also in --depth


def test_big_model_prints_totals_before_the_table(cli):
    result = cli("show", sample("huge"))
    lines = _lines(result.out)
    assert lines[1].startswith("Parameters: 70,553,706,496")
    assert lines.index(next(line for line in lines if line.startswith("┏"))) > 3
    small = _lines(cli("show", sample("mlp")).out)
    assert small[1].startswith("┏") and small[-4].startswith("Parameters:")


def test_filter_says_how_many_tensors_are_shown_and_applies_to_depth(cli):
    result = cli("show", sample("tiny_vit"), "--filter", "*.bias", "--no-collapse")  # a row per tensor
    total = json.loads(cli("show", sample("tiny_vit"), "--format", "json").out)["totals"]["tensors"]
    shown = [line for line in _lines(result.out) if line.startswith("│")]
    assert f"{len(shown)} of {total} tensors shown (--filter/--kind)" in result.out
    everything = json.loads(cli("show", sample("tiny_vit"), "--depth", "1", "--format", "json").out)["modules"]
    biases = json.loads(cli("show", sample("tiny_vit"), "--depth", "1", "--filter", "*.bias", "--format", "json").out)
    root_all = everything[0]
    root_bias = biases["modules"][0]
    assert root_bias["path"] == "" and 0 < root_bias["parameters"] < root_all["parameters"]
    bias_numel = sum(t["numel"] for t in biases["tensors"])
    assert root_bias["parameters"] == bias_numel
    text = cli("show", sample("tiny_vit"), "--depth", "1", "--filter", "*.bias").out
    assert "tensors counted (--filter/--kind)" in text


def test_depth_table_has_size_and_buffers(cli):
    doc = json.loads(cli("show", sample("buffers"), "--depth", "1", "--format", "json").out)
    root = doc["modules"][0]
    assert root["buffers"] == doc["totals"]["buffers"]
    assert root["bytes"] == doc["totals"]["bytes"]
    text = cli("show", sample("buffers"), "--depth", "1").out
    head = next(line for line in _lines(text) if line.startswith("┃"))
    assert "Buffers" in head and "Size" in head


# 6. checkpoint listings claim only what a file records


def test_checkpoint_listing_shows_stored_tensors_not_parameters(cli, tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}, path)
    out = cli("show", str(path)).out
    assert "Stored: 2 tensors, 8 elements, 32 B" in out
    assert "Parameters:" not in out and "trainable" not in out
    head = next(line for line in _lines(out) if line.startswith("┃"))
    assert "Grad" not in head


# 7. grammar


def test_plurals_in_the_summary_line():
    def f(code: str, severity: str) -> Finding:
        return Finding(code, severity, "", "x", ("x",), "m")

    one = [ModelResult("m", findings=(f("PI004", "error"), f("PI002", "warning"), f("PI002", "warning")))]
    assert summary_line(one, "warning").startswith("Found 3 findings (1 error, 2 warnings) in 1 model;")
    infos = [ModelResult("m", findings=(f("PI010", "info"), f("PI010", "info")))]
    assert "(2 infos)" in summary_line(infos, "warning")


def test_frozen_message_agrees_in_number():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].weight.requires_grad_(False)
    [finding] = paraminspect.check(model, select=["PI009"])
    assert " 1 of 2 parameters in `0` is frozen" in " " + finding.message


# 12 (part): --depth CSV header and JSON keys agree


def test_depth_csv_columns_are_the_json_keys(cli):
    doc = json.loads(cli("show", sample("mlp"), "--depth", "1", "--format", "json").out)
    rows = list(csv.DictReader(io.StringIO(cli("show", sample("mlp"), "--depth", "1", "--format", "csv").out)))
    assert list(rows[0]) == list(doc["modules"][0])
    assert [r["path"] for r in rows] == [m["path"] for m in doc["modules"]]


# 15. the Python API: show / summary and a clean dir()


def test_summary_object_totals_dict_and_notebook_reprs():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    s = paraminspect.summary(model)
    assert (s.parameters, s.trainable, s.frozen, s.buffers, s.tensors) == (24, 24, 0, 9, 7)
    assert s.bytes == 136 and s.model_type == "Sequential"
    doc = s.to_dict()
    assert doc["schema_version"] == 1 and doc["totals"]["parameters"] == 24
    assert [t["name"] for t in doc["tensors"]][:2] == ["0.weight", "0.bias"]
    html = s._repr_html_()
    assert html.startswith('<div class="pi-report"') and "<code>1.running_mean</code>" in html
    assert "| `0.weight` |" in s._repr_markdown_()
    assert "0.weight" in str(s) and "24 parameters" in repr(s)
    depth = paraminspect.summary(model, depth=1)
    assert [m["path"] for m in depth.to_dict()["modules"]] == ["", "0", "1"]


def test_show_prints_the_table_and_returns_the_summary(capsys):
    s = paraminspect.show(nn.Linear(2, 3), kind="parameter")
    out = capsys.readouterr().out
    assert "weight" in out and "Parameters: 9" in out and "\x1b[" not in out
    assert s.parameters == 9 and s._repr_html_() is None  # displayed once, not twice in a notebook


def test_dir_lists_the_public_api_only():
    names = dir(paraminspect)
    assert {"show", "summary", "check", "inventory", "load", "ModelSummary"} <= set(names)
    assert not {"Any", "TYPE_CHECKING", "annotations"} & set(names)
    assert set(paraminspect.__all__) == set(names)


# 6 (rest): a bare tensor gets a name; --depth and Markdown of a checkpoint claim no parameters


def test_bare_tensor_file_is_listed_under_the_files_name(cli, tmp_path):
    path = tmp_path / "rope.pt"
    torch.save(torch.zeros(3, 4), path)
    result = cli("show", str(path), "--format", "json")
    assert result.code == 0
    [tensor] = json.loads(result.out)["tensors"]
    assert tensor["name"] == "rope" and tensor["shape"] == [3, 4]
    assert "one bare tensor, not a state_dict: listed as 'rope'" in result.err
    assert "note: 1 stored tensor, 12 elements" in result.err  # not "1 stored tensors"
    assert "│ rope " in cli("show", str(path)).out


def test_checkpoint_depth_and_markdown_show_stored_not_parameters(cli, tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}, path)
    table = cli("show", str(path), "--depth", "1").out
    head = next(line for line in _lines(table) if line.startswith("┃"))
    assert "Stored" in head and not {"Parameters", "Trainable", "Buffers"} & set(head.replace("┃", " ").split())
    assert "Parameters:" not in table
    markdown = cli("show", str(path), "--format", "markdown").out
    assert _lines(markdown)[2] == "| Name | Kind | Shape | Dtype | Device | Numel | Size |"  # under the title
    assert "- Stored: 2 tensors, 8 elements, 32 B" in markdown  # a file's totals: stored, no parameters
    assert "| `a.weight` | stored | (2, 3) | float32 | cpu | 6 | 24 B |" in markdown
    depth_md = cli("show", str(path), "--depth", "1", "--format", "markdown").out
    assert _lines(depth_md)[2] == "| Module | Type | Stored | % | Size |"
    assert (
        "| Module | Type | Parameters | % | Trainable | Buffers | Size |"
        in cli("show", sample("mlp"), "--depth", "1", "--format", "markdown").out
    )


# 8. bare `paraminspect`: the help once


def test_bare_command_prints_the_help_once_and_exits_2():
    result = run_process(env={"COLUMNS": "100"})
    assert result.code == 2  # what typer's no_args_is_help gives
    assert result.out.count("Usage: paraminspect") == 1 and "show" in result.out
    assert result.err == ""


# 9. check --run with no PI1xx rule selected says the forward pass was skipped


def test_run_with_no_runtime_rule_selected_says_so(cli, tmp_path):
    result = cli("check", sample("run_bugs"), "--run", "--select", "PI00")
    note = "note: --run: the forward pass is skipped: no PI1xx rule is selected (by --select/--ignore)"
    assert note in result.err
    (tmp_path / "pyproject.toml").write_text('[tool.paraminspect]\nselect = ["PI00"]\n')
    from_config = run_process("check", sample("run_bugs"), "--run", "--format", "json", cwd=tmp_path)
    assert "no PI1xx rule is selected (by select/ignore in [tool.paraminspect])" in from_config.err
    assert not any(f["code"].startswith("PI1") for f in json.loads(from_config.out)["findings"])
    plain = cli("check", sample("mlp"), "--select", "PI00")
    assert "forward pass" not in plain.err  # no --run, nothing to say


# 11. hints that point the right way


def test_folder_as_model_says_what_a_model_can_be(cli, tmp_path):
    result = cli("show", str(tmp_path))
    assert result.code == 2
    assert ":build" not in result.err
    assert "is a folder without a config.json: a MODEL is a timm name, pkg.module:attr" in result.err
    assert result.err.count("\n") == 1


def test_timm_misses_suggest_torchvision_and_close_prefixes(cli):
    miss = cli("show", "mobilenet_v2")
    assert miss.code == 2 and "did you mean torchvision.models:mobilenet_v2 (a torchvision builder)?" in miss.err
    typo = cli("show", "vit_bse")
    assert "did you mean: vit_base_patch16_224, " in typo.err
    package = cli("show", "torchvision:resnet18")
    assert package.code == 2
    assert "torchvision has no attribute 'resnet18'; it is torchvision.models:resnet18" in package.err


def test_torchvision_builders_are_found_without_importing_torchvision():
    code = (
        "import sys; from paraminspect.loaders.hints import torchvision_builder as b; "
        "print(b('mobilenet_v2'), b('fasterrcnn_resnet50_fpn'), b('vit_base_patch16_224')); "
        "print('torchvision' in sys.modules)"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == [
        "torchvision.models:mobilenet_v2",
        "torchvision.models.detection:fasterrcnn_resnet50_fpn",
        "None",
        "False",
    ]


def test_close_names_compare_leading_words():
    names = ["vit_base_patch16_224", "vit_base_patch32_224", "davit_base", "gcvit_base", "resnet50"]
    assert close_names("vit_bse", names, {"vit_base_patch16_224": 5})[:2] == [
        "vit_base_patch16_224",
        "vit_base_patch32_224",
    ]


# 12. help and options


def test_help_shows_flags_plain_and_models_checkpoints():
    check_help = run_process("check", "--help", env={"COLUMNS": "120"}).out
    assert "<bool>" not in check_help and "--run " in check_help and "--debug " in check_help
    show_help = run_process("show", "--help", env={"COLUMNS": "120"}).out
    assert "<bool>" not in show_help and "checkpoint file (.safetensors, .pt" in show_help
    root = run_process("--help", env={"COLUMNS": "120"}).out
    assert "--install-completion" in root and "--show-completion" in root and "<bool>" not in root


def test_debug_after_the_subcommand(cli, tmp_path):
    missing = str(tmp_path / "missing.pt")
    result = cli("show", missing, "--debug")
    assert result.code == 2 and "No such option" not in result.err
    assert "Traceback (most recent call last)" in result.err and f"error: no such file: {missing}" in result.err
    assert "Traceback" not in cli("show", missing).err  # and it does not stick to the next command
    assert cli("rules", "--debug").code == 0


def test_show_format_text_is_the_table(cli):
    assert cli("show", sample("mlp"), "--format", "text").out == cli("show", sample("mlp")).out


def test_shell_completion_is_on():
    env = {"_PARAMINSPECT_COMPLETE": "complete_bash", "COMP_WORDS": "paraminspect sh", "COMP_CWORD": "1"}
    result = run_process(env=env)
    assert result.code == 0 and result.out.split() == ["show"]
    script = run_process("--show-completion", "bash")
    assert script.code == 0 and "_paraminspect_completion" in script.out


# 13. allow globs: a leading `*.` matches at the root too


def test_allow_star_dot_matches_a_root_level_name():
    class Rope(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rope_cache = torch.zeros(4)
            self.inner = nn.Module()
            self.inner.rope_cache = torch.zeros(4)
            self.other_cache = torch.zeros(4)

    findings = paraminspect.check(Rope(), select=["PI002"])
    assert {n for f in findings for n in f.names} == {"rope_cache", "inner.rope_cache", "other_cache"}
    allowed = paraminspect.check(Rope(), select=["PI002"], allow=["*.rope_cache"])
    assert [n for f in allowed for n in f.names] == ["other_cache"]
    assert name_allowed("rope_cache", ["*.rope_cache"]) and name_allowed("a.b.rope_cache", ["*.rope_cache"])
    assert not name_allowed("xrope_cache", ["*.rope_cache"])


# 14. noqa suppressions are counted


def test_noqa_suppressions_counted_in_text_and_json(cli):
    text = cli("check", sample("ci_example_noqa"))
    assert text.code == 0 and "No findings in 1 model; 2 suppressed (# noqa)." in text.out
    doc = json.loads(cli("check", sample("ci_example_noqa"), "--format", "json").out)
    assert doc["summary"]["suppressed"] == 2 and doc["findings"] == []
    assert json.loads(cli("check", sample("ci_example"), "--format", "json").out)["summary"]["suppressed"] == 0


# concise lines fit the width (as a pure function; the pty test is in test_terminal.py)


def test_concise_line_fits_by_shortening_the_path_then_the_message():
    long_path = "/usr/lib/python3.11/site-packages/torchvision/models/detection/anchor_utils.py"
    f = Finding("PI003", "error", "rpn.anchor_generator", "cell_anchors", ("x",), "m " * 80, long_path, 50)
    for width in (50, 60, 80, 120):
        line = concise_line(f, width).plain
        assert len(line) <= width, line
        assert ":50: PI003 error " in line and line.endswith("…")
    # on a terminal an installed file is shown from its package on (a link keeps the whole path)
    assert concise_line(f, 120).plain.startswith("torchvision/…/detection/anchor_utils.py:50: ")
    assert concise_line(f, 300).plain.startswith("torchvision/models/detection/anchor_utils.py:50: ")
    assert concise_line(f, None).plain.startswith(f"{long_path}:50: ")  # piped: the whole path
    short = Finding("PI002", "warning", "", "scale", ("scale",), "msg " * 30, "sample_models/ci_example.py", 8)
    assert concise_line(short, 80).plain.startswith("sample_models/ci_example.py:8: PI002 warning scale: msg")
    assert concise_line(short, None).plain.endswith("msg ")  # piped: whole
    assert shorten_path("a/b/c/d/file.py", 12) == "a/…/file.py"
