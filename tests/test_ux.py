"""Reading at a glance and working in notebooks (issue 18): totals first for big models,
counts of what --filter/--kind hide, checkpoint listings that claim only what a file
records, plurals, --depth CSV/JSON agreement, and the Python API's summary object."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import torch
from conftest import sample
from torch import nn

import paraminspect
from paraminspect.checking import ModelResult
from paraminspect.checks.model import Finding
from paraminspect.render.findings import summary_line
from paraminspect.render.fit import shorten_middle
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
    result = cli("show", sample("tiny_vit"), "--filter", "*.bias")
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
    assert html.startswith("<div>") and "<code>1.running_mean</code>" in html
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
