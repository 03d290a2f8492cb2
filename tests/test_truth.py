"""Truth on real libraries (issue 17): no false alarm, no crash, every finding where the user can
act. Each test reproduces a pattern in the shape a library has it: framework code lives in a
`site-packages` folder under tmp_path, the user's code in tests/fixtures/truth_project, and the
`check --run` models in tests/truth_models.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
PROJECT = FIXTURES / "truth_project" / "models.py"
RUN_MODELS = ROOT / "tests" / "truth_models.py"


def line_of(fragment: str, path: Path) -> int:
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if fragment in text]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


@pytest.fixture(scope="module")
def site_packages(tmp_path_factory) -> Path:
    """The library-shaped packages, installed where installed packages live."""
    site = tmp_path_factory.mktemp("truth") / "site-packages"
    shutil.copytree(FIXTURES / "truth_frameworks", site, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    return site


@pytest.fixture
def frameworks(site_packages, monkeypatch) -> Path:
    monkeypatch.syspath_prepend(str(site_packages))
    return site_packages


def findings_of(cli, spec: str, *extra: str) -> tuple[int, list[dict], dict]:
    result = cli("check", spec, "--format", "json", *extra)
    assert result.code in (0, 1), result.err
    doc = json.loads(result.out)
    return result.code, [f for f in doc["findings"] if f["severity"] != "info"], doc


def where(findings: list[dict]) -> set[tuple]:
    return {(f["code"], f["attribute"], Path(f["file"]).name if f["file"] else None, f["line"]) for f in findings}


# --- 1. Lightning's example_input_array is the framework's ---------------------------------------


@pytest.mark.parametrize("model", ["TensorExample", "TupleExample", "DictExample"])
def test_example_input_array_of_a_lightning_module_is_no_finding(cli, frameworks, model):
    code, findings, _ = findings_of(cli, f"{PROJECT}:{model}")
    assert findings == []
    assert code == 0


def test_a_metric_that_moves_its_own_states_in_apply_is_no_finding(cli, frameworks):
    code, findings, _ = findings_of(cli, f"{PROJECT}:WithMetric")
    assert findings == []  # torchmetrics-style: states and _defaults moved by Metric._apply
    assert code == 0


# --- 2. framework code is located at the user's line -------------------------------------------


def test_attribute_stored_by_a_framework_property_setter_is_at_the_users_assignment(cli, frameworks):
    _, findings, _ = findings_of(cli, f"{PROJECT}:UsesSetter")
    assert where(findings) == {("PI002", "_scale", "models.py", _setter_line())}


def _setter_line() -> int:
    lines = PROJECT.read_text().splitlines()
    start = next(i for i, t in enumerate(lines) if t.startswith("class UsesSetter("))
    return next(i for i, t in enumerate(lines[start:], start + 1) if "self.scale = torch.ones(3)" in t)


def test_noqa_on_the_users_line_silences_a_framework_written_attribute(cli, frameworks):
    code, findings, _ = findings_of(cli, f"{PROJECT}:UsesSetterNoqa")
    assert findings == []
    assert code == 0


def test_tensor_stored_by_a_framework_base_class_is_at_the_users_super_init(cli, frameworks):
    _, findings, _ = findings_of(cli, f"{PROJECT}:UsesBase")
    assert where(findings) == {("PI002", "table", "models.py", line_of("super().__init__(4)", PROJECT))}


def test_users_tensors_kept_by_a_library_module_are_at_the_line_that_built_it_and_reported_once(cli, frameworks):
    _, findings, _ = findings_of(cli, f"{PROJECT}:Augmented")
    line = line_of("self.augment1 = nn.Sequential(Normalize(", PROJECT)
    assert where(findings) == {("PI002", "mean", "models.py", line), ("PI002", "std", "models.py", line)}
    by_attribute = {f["attribute"]: f for f in findings}
    assert by_attribute["mean"]["names"] == ["augment1.0.mean", "augment2.0.mean"]  # one finding, both names
    assert "also registered as `augment2.0`" in by_attribute["mean"]["message"]


def test_a_model_written_entirely_inside_a_library_keeps_the_librarys_line(cli, frameworks):
    spec = "fakeframework:WithTable"
    _, findings, _ = findings_of(cli, spec, "-a", "n=3")
    (finding,) = findings
    assert Path(finding["file"]).parent == frameworks / "fakeframework"  # nowhere else to point at
    assert finding["line"] == line_of("self.table = torch.zeros(n)", frameworks / "fakeframework" / "__init__.py")


# --- 3. weight-fetching factory parameters -----------------------------------------------------


def test_encoder_weights_defaults_to_none(cli, frameworks):
    result = cli("show", "fakesmp:Unet")
    assert result.code == 0, result.err
    assert "encoder_weights=None" in result.err  # the note says how it was built


def test_network_error_names_the_factorys_own_weight_parameters(cli, frameworks):
    result = cli("show", "fakesmp:detector")
    assert result.code == 2
    assert "-a backbone_ckpt=None or -a use_pretrained_head=False" in result.err
    assert "weights_backbone" not in result.err  # no fixed list that this factory does not take
    assert "Traceback" not in result.err


def test_network_error_for_a_factory_without_weight_parameters(cli, frameworks):
    result = cli("show", "fakesmp:always_downloads")
    assert result.code == 2
    assert "none of its parameters looks like a weight source" in result.err


# --- check --run ---------------------------------------------------------------------------------


def run_findings(cli, model: str, *extra: str) -> tuple[list[dict], list[str]]:
    shape = ("--input-shape", "2,3,4,4") if model == "ListedProjections" else ("--input-shape", "2,4,8")
    result = cli("check", f"{RUN_MODELS}:{model}", "--run", *(extra or shape), "--format", "json")
    assert result.code in (0, 1), result.err
    notes = [line for line in result.err.splitlines() if line.startswith("note:")]
    return json.loads(result.out)["findings"], notes


def codes(findings: list[dict]) -> list[tuple[str, str]]:
    return sorted((f["code"], f["names"][0] if f["names"] else "") for f in findings if f["severity"] != "info")


# 4. a meta build that leaves legacy-constructed tensors on CPU


def test_parameter_left_on_cpu_by_a_meta_build_runs_and_finds_the_true_pi102(cli):
    findings, notes = run_findings(cli, "LegacyParameter")
    assert codes(findings) == [("PI102", "last")]
    assert any("masked_spec_embed" in n and "moved to meta" in n for n in notes)


# 5 and 6. a factory result moved to a registered tensor's device; CPU buffers of a meta build


@pytest.mark.parametrize("model", ["RotaryEmbedding", "Alibi"])
def test_positions_moved_to_a_buffers_device_are_no_pi103(cli, model):
    findings, _ = run_findings(cli, model)
    # x-transformers' slopes are computed in __init__ only, a non-persistent buffer: PI013, rightly
    assert codes(findings) == ([("PI013", "slopes")] if model == "Alibi" else [])


def test_a_factory_result_combined_without_a_move_is_still_pi103(cli, tmp_path):
    path = tmp_path / "positions.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.proj = nn.Linear(8, 8)\n\n"
        "    def forward(self, x):\n        return self.proj(x) + torch.arange(8)\n"
    )
    result = cli("check", f"{path}:M", "--run", "--input-shape", "2,8", "--format", "json")
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI103"]


def test_a_mask_moved_to_the_inputs_device_is_no_pi103_on_cpu_either(cli, tmp_path):
    # Lightning's demo Transformer: `torch.triu(torch.ones(n, n)).to(inputs.device)`; on CPU
    # `.to()` returns the same tensor
    path = tmp_path / "mask.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.proj = nn.Linear(8, 8)\n\n"
        "    def forward(self, x):\n"
        "        mask = torch.triu(torch.ones(8, 8), diagonal=1).to(x.device)\n"
        "        return self.proj(x) @ mask\n"
    )
    for device in ("meta", "cpu"):
        result = cli("check", f"{path}:M", "--run", "--device", device, "--input-shape", "2,8", "--format", "json")
        assert json.loads(result.out)["findings"] == [], (device, result.out)


# 7. tensors of modules in a Python list: PI004 covers them


def test_parameters_of_modules_in_a_python_list_are_pi004_only(cli):
    findings, _ = run_findings(cli, "ListedProjections")
    assert codes(findings) == [("PI004", "input_projections[0]")]


# 8. random layer skipping: deterministic, and no PI101 for layers a random skip left out


@pytest.mark.parametrize("model", ["LayerDrop", "TensorLayerDrop"])
def test_layer_drop_gives_the_same_findings_every_run_and_only_the_truly_unused_parameter(cli, model):
    runs = [run_findings(cli, model) for _ in range(3)]
    assert all(r == runs[0] for r in runs)
    findings, notes = runs[0]
    assert codes(findings) == [("PI101", "gain")]
    assert any("random numbers that decide what runs" in n and "truth_models.py" in n for n in notes)


def test_python_random_choice_of_a_branch_is_noticed(cli):
    findings, notes = run_findings(cli, "PythonRandomChoice")
    assert codes(findings) == []
    assert any("(random)" in n and "did not run" in n for n in notes)


def test_seeding_leaves_the_callers_random_state_alone():
    import random

    import torch

    from paraminspect.forward.seeded import seeded

    random.seed(123)
    torch.manual_seed(123)
    expected = (random.random(), torch.rand(1).item())
    random.seed(123)
    torch.manual_seed(123)
    with seeded(torch.device("cpu")) as draws:
        first = torch.rand(1).item()
        random.random()
    assert (random.random(), torch.rand(1).item()) == expected
    assert draws.outside_torch == ["random"]
    with seeded(torch.device("cpu")):
        assert torch.rand(1).item() == first


# 9. a plain tensor read through .to(<the inputs' device>)


@pytest.mark.parametrize("model", ["MovedPositions", "AsTensorNormalize"])
def test_tensor_moved_to_the_inputs_device_in_forward_is_pi002_only(cli, model):
    findings, _ = run_findings(cli, model)
    assert [c for c, _ in codes(findings)] == ["PI002"]


def test_tensor_read_without_a_move_is_still_pi105(cli):
    findings, _ = run_findings(cli, "ReadPositions")
    assert [c for c, _ in codes(findings)] == ["PI002", "PI105"]


def test_torchvision_shaped_normalize_in_site_packages_runs_clean(cli, frameworks):
    findings, _ = run_findings_spec(cli, f"{PROJECT}:Augmented", "--input-shape", "2,3,4,4")
    assert {f["code"] for f in findings} == {"PI002"}  # static, at the user's line; no PI105


def run_findings_spec(cli, spec: str, *extra: str) -> tuple[list[dict], str]:
    result = cli("check", spec, "--run", *extra, "--format", "json")
    assert result.code in (0, 1), result.err
    return json.loads(result.out)["findings"], result.err


# 10. floats inside plain objects, distributions and int subclasses


@pytest.mark.parametrize("model", ["PlainObjectOutput", "CategoricalOutput", "NormalOutput", "IntSubclassOutput"])
def test_outputs_inside_objects_are_found_and_pi101_is_checked(cli, model):
    findings, notes = run_findings(cli, model)
    assert codes(findings) == [("PI101", "unused.bias"), ("PI101", "unused.weight")]
    assert not any("no floating tensor" in n for n in notes)
