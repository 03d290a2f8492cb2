"""`paraminspect check`: each rule fires exactly where it should, clean models stay clean."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import SAMPLES, sample
from torch import nn

import paraminspect
from paraminspect.checks import all_rules


def _module(name: str):
    """Import a sample file under a private name (the loader imports it separately)."""
    spec = importlib.util.spec_from_file_location(f"_test_check_{name}", SAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line(name: str, text: str) -> int:
    lines = (SAMPLES / f"{name}.py").read_text().splitlines()
    matches = [i for i, line in enumerate(lines, 1) if text in line]
    assert len(matches) == 1, (name, text, matches)
    return matches[0]


def _check_json(cli, *args: str) -> tuple[int, dict]:
    result = cli("check", *args, "--format", "json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def _serious(doc: dict) -> list[dict]:
    return [f for f in doc["findings"] if f["severity"] in ("error", "warning")]


def _expected_pi001():
    model = _module("bug_pi001").build()
    assert not any(p is model.block.gamma for p in model.parameters())
    return "block", "gamma", ["block.gamma"], _line("bug_pi001", "self.gamma =")


def _expected_pi002():
    _module("bug_pi002").build()
    return "normalize", "mean", ["normalize.mean"], _line("bug_pi002", "self.mean =")


def _expected_pi003():
    model = _module("bug_pi003").build()
    names = [f"head.cell_anchors[{i}]" for i in range(len(model.head.cell_anchors))]
    return "head", "cell_anchors", names, _line("bug_pi003", "self.cell_anchors =")


def _expected_pi004():
    model = _module("bug_pi004").build()
    names = [f"encoder.layers[{i}]" for i in range(len(model.encoder.layers))]
    return "encoder", "layers", names, _line("bug_pi004", "self.layers =")


def _expected_pi005():
    model = _module("bug_pi005").build()
    assert dict(model.named_buffers())["temperature"].requires_grad
    return "", "temperature", ["temperature"], _line("bug_pi005", 'register_buffer("temperature"')


def _expected_pi006():
    model = _module("bug_pi006").build()
    off = [n for n, p in model.named_parameters() if p.device.type == "meta"]
    return "", "", off, None


BUGS = [
    ("bug_pi001", "PI001", (), _expected_pi001),
    ("bug_pi002", "PI002", (), _expected_pi002),
    ("bug_pi003", "PI003", (), _expected_pi003),
    ("bug_pi004", "PI004", (), _expected_pi004),
    ("bug_pi005", "PI005", (), _expected_pi005),
    # on the default meta build everything is on meta: the mix needs a real device
    ("bug_pi006", "PI006", ("--device", "cpu"), _expected_pi006),
]


@pytest.mark.parametrize(("name", "code", "extra", "expected"), BUGS, ids=[b[1] for b in BUGS])
def test_each_bug_fires_exactly_its_rule(cli, name, code, extra, expected):
    module, attribute, names, line = expected()
    status, doc = _check_json(cli, sample(name), *extra)
    assert status == 1
    serious = _serious(doc)
    assert [(f["code"], f["module"], f["attribute"]) for f in serious] == [(code, module, attribute)]
    finding = serious[0]
    assert finding["names"] == names
    assert finding["severity"] == all_rules()[code].severity
    assert finding["line"] == line
    assert finding["file"] == (f"sample_models/{name}.py" if line is not None else None)
    assert finding["model"] == sample(name)


def test_mixed_devices_are_not_reported_on_the_default_meta_build(cli):
    status, doc = _check_json(cli, sample("bug_pi006"))
    assert status == 0 and doc["findings"] == []


def test_list_of_buffer_references_goes_stale(cli):
    model = _module("bug_pi003").build_stale()
    buffers = [n for n, _ in model.named_buffers()]
    _, doc = _check_json(cli, sample("bug_pi003", "build_stale"))
    serious = _serious(doc)
    assert [(f["code"], f["module"], f["attribute"]) for f in serious] == [("PI003", "", "scales")]
    assert serious[0]["names"] == buffers
    assert "stale" in serious[0]["message"]
    # the staleness is real: .to() replaces the buffers, the list keeps the old tensors
    moved = model.to(torch.float64)
    assert moved.scales[0] is not moved.scale0


CLEAN = [c.__name__ for c in _module("clean_models").CLEAN]


@pytest.mark.parametrize("name", CLEAN)
def test_clean_models_have_no_warning_or_error(cli, name):
    status, doc = _check_json(cli, sample("clean_models", name))
    assert status == 0
    assert _serious(doc) == []


@pytest.mark.parametrize("cls", _module("clean_models").CLEAN, ids=CLEAN)
def test_clean_models_built_on_cpu_through_the_python_api(cls):
    torch.manual_seed(0)
    model = cls()
    if cls.__name__ == "Lazy":  # also after the lazy parameters are materialized
        model(torch.randn(1, 3, 8, 8))
    findings = paraminspect.check(model)
    assert [f for f in findings if f.severity != "info"] == []


def test_info_rules_on_clean_models(cli):
    clean = _module("clean_models")
    _, doc = _check_json(cli, sample("clean_models", "Tied"))
    tied = clean.Tied()
    assert tied.lm_head.weight is tied.embed.weight
    [finding] = doc["findings"]
    assert finding["code"] == "PI008"
    assert (finding["module"], finding["attribute"]) == ("lm_head", "weight")
    assert finding["names"] == ["embed.weight", "lm_head.weight"]
    assert finding["line"] == _line("clean_models", "self.lm_head.weight = self.embed.weight")

    _, doc = _check_json(cli, sample("clean_models", "Frozen"))
    frozen = [n for n, p in clean.Frozen().named_parameters() if not p.requires_grad]
    [finding] = doc["findings"]
    assert (finding["code"], finding["module"], finding["names"]) == ("PI009", "backbone", frozen)

    _, doc = _check_json(cli, sample("buffers", "build"))
    assert [(f["code"], f["attribute"], f["line"]) for f in doc["findings"]] == [
        ("PI010", "positions", _line("buffers", '"positions"'))
    ]


def test_fully_frozen_model_is_one_finding():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).requires_grad_(False)
    findings = paraminspect.check(model)
    assert [(f.code, f.module, f.names) for f in findings] == [
        ("PI009", "", tuple(n for n, _ in model.named_parameters()))
    ]


def test_mixed_dtypes_names_the_minority():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.LayerNorm(2))
    model[2].double()
    findings = paraminspect.check(model)
    minority = [n for n, p in model.named_parameters() if p.dtype == torch.float64]
    assert [(f.code, f.names) for f in findings] == [("PI007", tuple(minority))]
    assert "float64" in findings[0].message


def test_python_api_returns_findings_without_model_spec():
    ci = _module("ci_example")
    findings = paraminspect.check(ci.build())
    assert [(f.code, f.module, f.attribute, f.model) for f in findings] == [
        ("PI002", "", "scale", ""),
        ("PI004", "", "blocks", ""),
    ]
    assert paraminspect.check(_module("ci_example_fixed").build()) == []
    assert [f.code for f in paraminspect.check(ci.build(), select=["PI004"])] == ["PI004"]


class _Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = torch.zeros(3)


class _Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.alias = self.proj  # a second name for a registered module: fine
        self.extra = [_Inner()]  # the inner tensor is covered by this PI004 finding
        self.lookup = {"w": self.proj.weight}  # a registered Parameter in a dict: fine
        self.register_buffer("mean", torch.zeros(3))
        self.__dict__["mean_ref"] = self.mean  # a plain alias of a buffer goes stale


def test_nested_and_alias_cases():
    findings = paraminspect.check(_Outer())
    got = [(f.code, f.module, f.attribute, f.names) for f in findings]
    assert got == [
        ("PI002", "", "mean_ref", ("mean",)),
        ("PI004", "", "extra", ("extra[0]",)),
        ("PI008", "", "alias", ("proj.weight", "alias.weight", "proj.bias", "alias.bias")),
    ]
    assert "1 tensor inside" in findings[1].message


def test_select_ignore_prefixes_and_specificity(cli):
    spec = sample("ci_example")
    _, doc = _check_json(cli, spec, "--select", "PI004")
    assert [f["code"] for f in doc["findings"]] == ["PI004"]
    status, doc = _check_json(cli, spec, "--ignore", "PI00")
    assert status == 0 and doc["findings"] == []
    _, doc = _check_json(cli, spec, "--select", "PI00", "--ignore", "PI00")
    assert doc["findings"] == []  # equally specific: ignore wins
    _, doc = _check_json(cli, spec, "--select", "pi004", "--ignore", "PI0")
    assert [f["code"] for f in doc["findings"]] == ["PI004"]  # the more specific code wins, case-insensitive


def test_fail_on_threshold(cli):
    spec = sample("unregistered_tensor")
    assert cli("check", spec).code == 1
    assert cli("check", spec, "--fail-on", "error").code == 0
    tied = sample("clean_models", "Tied")
    assert cli("check", tied).code == 0
    assert cli("check", tied, "--fail-on", "info").code == 1
    result = cli("check", spec, "--fail-on", "fatal")
    assert result.code == 2 and result.err.count("\n") == 1 and "--fail-on" in result.err


def test_unknown_rule_code_is_a_one_line_usage_error(cli):
    result = cli("check", sample("mlp"), "--select", "PI999")
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("error: ") and "PI999" in result.err
    assert "Traceback" not in result.err
    result = cli("check", sample("mlp"), "--ignore", "XX1")
    assert result.code == 2 and "XX1" in result.err


def test_load_error_exits_2_with_one_line(cli):
    result = cli("check", sample("mlp", "missing_factory"))
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")


def test_ci_example_github_annotations(cli):
    result = cli("check", sample("ci_example"), "--format", "github")
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    source = (SAMPLES / "ci_example.py").read_text().splitlines()
    assert "self.scale = torch.ones" in source[8 - 1] and "self.blocks = [" in source[9 - 1]
    assert lines[0].startswith("::warning file=sample_models/ci_example.py,line=8,title=PI002::")
    assert lines[1].startswith("::error file=sample_models/ci_example.py,line=9,title=PI004::")


@pytest.mark.parametrize("variant", ["ci_example_fixed", "ci_example_noqa"])
def test_ci_example_fixed_and_noqa_pass(cli, variant):
    result = cli("check", sample(variant), "--format", "github")
    assert result.code == 0, result.out + result.err
    assert result.out == ""


def test_noqa_only_suppresses_the_listed_code(cli, tmp_path):
    text = (SAMPLES / "ci_example.py").read_text().replace("torch.ones(dim)", "torch.ones(dim)  # noqa: PI004")
    path = tmp_path / "partial_noqa.py"
    path.write_text(text)
    _, doc = _check_json(cli, f"{path}:build")
    assert [f["code"] for f in doc["findings"]] == ["PI002", "PI004"]


def test_output_file_and_text_report(cli, tmp_path):
    out = tmp_path / "report.txt"
    result = cli("check", sample("ci_example"), sample("mlp"), "-o", str(out))
    assert result.code == 1 and result.out == ""
    text = out.read_text()
    assert text.index(sample("ci_example")) < text.index("PI002") < text.index(sample("mlp"))
    assert "no findings" in text
    assert text.rstrip().splitlines()[-1].startswith("Found 2 findings (1 error, 1 warning) in 2 models")


def test_fasterrcnn_anchors_in_a_python_list(cli):
    import torchvision

    status, doc = _check_json(cli, "torchvision.models.detection:fasterrcnn_resnet50_fpn")
    assert status == 1
    serious = _serious(doc)
    assert [(f["code"], f["module"], f["attribute"]) for f in serious] == [
        ("PI003", "rpn.anchor_generator", "cell_anchors")
    ]
    with torch.device("meta"):
        model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    count = len(model.rpn.anchor_generator.cell_anchors)
    assert serious[0]["names"] == [f"rpn.anchor_generator.cell_anchors[{i}]" for i in range(count)]
    assert serious[0]["file"].endswith("anchor_utils.py") and serious[0]["line"] > 0


def test_timm_sequencer_lstm_is_clean(cli):
    status, doc = _check_json(cli, "timm:sequencer2d_s")
    assert status == 0 and _serious(doc) == []


@pytest.mark.parametrize("command", [["rules"], ["explain", "PI004"]])
def test_rules_and_explain_do_not_import_torch(command):
    code = (
        "import sys\n"
        "from paraminspect.cli import _run\n"
        f"status = _run({command!r})\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'timm')))\n"
        "assert not loaded, loaded[:5]\n"
        "sys.exit(status)\n"
    )
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    if command == ["rules"]:
        for rule in all_rules().values():
            assert f"{rule.code}  {rule.name}" in proc.stdout
    else:
        assert "nn.ModuleList" in proc.stdout and "PI004" in proc.stdout


def test_explain_every_rule_and_unknown_code(cli):
    for code, rule in all_rules().items():
        result = cli("explain", code.lower())
        assert result.code == 0 and rule.explanation.strip().splitlines()[0] in result.out
    result = cli("explain", "PI04")
    assert result.code == 2 and "PI004" in result.err and result.err.count("\n") == 1


def test_registration_rules_have_complete_catalog_entries():
    for code in [f"PI{i:03d}" for i in range(1, 11)]:
        rule = all_rules()[code]
        assert rule.check is not None and rule.name and rule.summary
        # the prose says why and how to fix; its code is the tested examples (Rule.examples)
        assert "Fix" in rule.explanation and rule.examples
        assert "Example" not in rule.explanation


def test_python_api_check_unwraps_and_allows():
    import torch

    import paraminspect
    from sample_models.unregistered_tensor import build

    model = build()
    direct = paraminspect.check(model)
    assert [(f.code, f.attribute) for f in direct] == [("PI002", "scale")]
    assert paraminspect.check(torch.compile(model)) == direct
    assert paraminspect.check(model, allow=["scale"]) == []
    assert paraminspect.check(model, ignore=["PI002"]) == []
