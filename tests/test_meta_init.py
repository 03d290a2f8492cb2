"""PI012 (a model that cannot be built on meta, at the line of model code that read tensor data)
and PI013 (a non-persistent buffer that stays uninitialised after meta init, to_empty() and the
model's own init hooks), on real models: small sample files per trigger, torchvision's
regnet_y_400mf, timm and transformers models; and PI008's prediction of safetensors' refusal."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from paraminspect.checks.rule import EXAMPLE_IMPORTS
from paraminspect.commands.check import check_model

# --- PI012 ---------------------------------------------------------------------------------

# (what the message names, the line that reads tensor data in __init__)
TRIGGERS = [
    ("`.item()`", "self.n = torch.tensor(3).item()"),
    ("`.tolist()`", "self.sizes = torch.arange(3).tolist()"),
    ("`.numpy()`", "self.table = torch.arange(3).numpy()"),
    ("`bool(t)`", "self.flag = bool(torch.ones(1) > 0)"),
    ("`int(t)`", "self.n = int(torch.ones(1).sum())"),
    ("`float(t)`", "self.scale = float(torch.ones(1) * 0.5)"),
    ("a condition on a tensor", "if (torch.ones(2) > 0).all(): self.n = 2"),
    ("depends on the data", "self.register_buffer('idx', torch.ones(3).nonzero())"),
]


def _model_file(tmp_path: Path, body: str, name: str = "m.py", extra: str = "") -> Path:
    path = tmp_path / name
    init = textwrap.indent(textwrap.dedent(body).strip() + "\n", " " * 8)
    path.write_text(
        EXAMPLE_IMPORTS
        + extra
        + "\n\nclass Model(nn.Module):\n    def __init__(self) -> None:\n        super().__init__()\n"
        + "        self.proj = nn.Linear(2, 2)\n"
        + init
    )
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(("call", "line"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_each_data_dependent_call_is_pi012_at_its_line(tmp_path, call, line):
    path = _model_file(tmp_path, line)
    result = check_model(f"{path}:Model")
    assert result.error is None and result.build_device == "cpu"
    (finding,) = [f for f in result.findings if f.code == "PI012"]
    assert finding.severity == "warning" and (finding.module, finding.attribute) == ("", "")
    assert Path(finding.file) == path and finding.line == _line_of(path, line)
    assert call in finding.message
    for words in ("init_empty_weights", "FSDP2", "low_cpu_mem_usage", "is_meta"):
        assert words in finding.message
    assert any("built on CPU instead" in n for n in result.notes)  # the fallback's note stays


def test_the_innermost_frame_of_model_code_is_the_one_reported(tmp_path):
    """A helper in another file of the model's code raises: the helper's line, not __init__'s."""
    (tmp_path / "helpers.py").write_text("import torch\n\n\ndef widths():\n    return torch.arange(3).tolist()\n")
    path = _model_file(tmp_path, "self.widths = widths()", extra="from helpers import widths\n")
    (finding,) = [f for f in check_model(f"{path}:Model").findings if f.code == "PI012"]
    assert (Path(finding.file).name, finding.line) == ("helpers.py", 5)


def test_a_model_that_builds_on_meta_and_a_forced_device_get_no_pi012(tmp_path):
    clean = _model_file(tmp_path, "self.n = 3", name="clean.py")
    assert [f for f in check_model(f"{clean}:Model").findings if f.code == "PI012"] == []
    bad = _model_file(tmp_path, "self.n = torch.tensor(3).item()", name="bad.py")
    forced = check_model(f"{bad}:Model", device="cpu")  # --device: meta is never tried
    assert forced.build_device == "cpu" and not [f for f in forced.findings if f.code == "PI012"]


def test_torchvision_regnet_is_reported_at_torchvisions_line():
    pytest.importorskip("torchvision")
    result = check_model("torchvision.models:regnet_y_400mf")
    assert result.error is None and result.build_device == "cpu"
    (finding,) = [f for f in result.findings if f.code == "PI012"]
    assert finding.file.endswith(os.path.join("torchvision", "models", "regnet.py"))
    with open(finding.file) as fh:
        source = fh.read().splitlines()[finding.line - 1]
    assert ".tolist()" in source and "`.tolist()`" in finding.message


def test_regnet_on_the_command_line_keeps_its_inventory(cli):
    pytest.importorskip("torchvision")
    shown = cli("show", "torchvision.models:regnet_y_400mf", "--format", "json")
    assert shown.code == 0 and '"build_device": "cpu"' in shown.out and "built on CPU instead" in shown.err
    checked = cli("check", "torchvision.models:regnet_y_400mf", "--select", "PI012")
    assert checked.code == 1 and "PI012 warning" in checked.out and "regnet.py:" in checked.out
    ignored = cli("check", "torchvision.models:regnet_y_400mf", "--select", "PI012", "--ignore", "PI012")
    assert ignored.code == 0 and "PI012" not in ignored.out


def test_noqa_on_the_line_suppresses_pi012(tmp_path):
    path = _model_file(tmp_path, "self.n = torch.tensor(3).item()  # noqa: PI012")
    result = check_model(f"{path}:Model")
    assert not [f for f in result.findings if f.code == "PI012"] and result.suppressed == 1


def test_frames_of_torch_paraminspect_and_the_standard_library_are_not_model_code(tmp_path):
    from paraminspect.loaders.build import _is_model_code

    stdlib, lib = str(tmp_path / "lib" / "python3.11"), str(tmp_path / "torch")
    assert not _is_model_code(f"{lib}/nn/modules/module.py", (lib,), (stdlib,))
    assert not _is_model_code(f"{stdlib}/contextlib.py", (lib,), (stdlib,))
    # a system Python keeps site-packages below the standard library's folder: libraries there are model code
    assert _is_model_code(f"{stdlib}/site-packages/timm/models/vit.py", (lib,), (stdlib,))
    assert _is_model_code(str(tmp_path / "proj" / "model.py"), (lib,), (stdlib,))


# --- PI013 ---------------------------------------------------------------------------------

ROPE = "1.0 / 10000 ** (torch.arange(0, 8, 2) / 8)"

# name -> (__init__ body, other methods, the non-persistent buffers left uninitialised)
BUFFERS = {
    "rope in __init__": (f'self.register_buffer("inv_freq", {ROPE}, persistent=False)', "", {"inv_freq"}),
    "rope in reset_parameters": (
        'self.register_buffer("inv_freq", torch.empty(4), persistent=False)\nself.reset_parameters()',
        f"def reset_parameters(self):\n    self.inv_freq.copy_({ROPE})\n",
        set(),
    ),
    "registered again by a hook": (
        'self.register_buffer("inv_freq", torch.empty(4), persistent=False)',
        f'def reset_parameters(self):\n    self.register_buffer("inv_freq", {ROPE}, persistent=False)\n',
        set(),
    ),
    "integer index in __init__": (
        'self.register_buffer("index", torch.arange(16).view(4, 4), persistent=False)',
        "",
        {"index"},
    ),
    "integer index in timm's hook": (
        'self.register_buffer("index", torch.empty(4, 4, dtype=torch.long), persistent=False)',
        "def init_non_persistent_buffers(self):\n    self.index.copy_(torch.arange(16).view(4, 4))\n",
        set(),
    ),
    "bool mask in __init__": (
        'self.register_buffer("mask", torch.ones(4, 4).tril().bool(), persistent=False)',
        "",
        {"mask"},
    ),
    "half recomputed": (
        'self.register_buffer("table", torch.zeros(8), persistent=False)',
        "def reset_parameters(self):\n    self.table[:4] = 1.0\n",
        {"table"},
    ),
    "root init_weights": (
        'self.register_buffer("inv_freq", torch.empty(4), persistent=False)',
        f"def init_weights(self):\n    self.inv_freq.copy_({ROPE})\n",
        set(),
    ),
    "a persistent buffer is loaded": (f'self.register_buffer("inv_freq", {ROPE})', "", set()),
    "computed on a parameter's device (timm's swinv2)": (
        'self.register_buffer("index", torch.empty(4, dtype=torch.long), persistent=False)',
        "def reset_parameters(self):\n    self.index.copy_(torch.arange(4, device=self.proj.weight.device))\n",
        set(),
    ),
    "set from a parameter's device by index": (
        'self.register_buffer("table", torch.empty(4), persistent=False)',
        "def reset_parameters(self):\n    self.table[:] = torch.ones(4, device=self.proj.weight.device)\n",
        set(),
    ),
}


def _module_source(body: str, methods: str) -> str:
    init = textwrap.indent(textwrap.dedent(body).strip() + "\n", " " * 8)
    extra = "\n" + textwrap.indent(methods, " " * 4) if methods else ""
    return (
        EXAMPLE_IMPORTS
        + "\n\nclass Model(nn.Module):\n    def __init__(self) -> None:\n        super().__init__()\n"
        + "        self.proj = nn.Linear(2, 2)\n"
        + init
        + extra
    )


@pytest.mark.parametrize("name", list(BUFFERS))
@pytest.mark.parametrize("whole", [True, False], ids=["whole-model-on-cpu", "parameters-on-meta"])
def test_pi013_finds_exactly_the_buffers_no_hook_recomputes(tmp_path, name, whole):
    from paraminspect.checks import empty_init
    from paraminspect.loaders.dispatch import load

    body, methods, expected = BUFFERS[name]
    path = tmp_path / "m.py"
    path.write_text(_module_source(body, methods))
    model = load(f"{path}:Model", {}, None).module
    wanted = [(p, n) for p, m in model.named_modules() for n in m._non_persistent_buffers_set]
    result = empty_init.probe(model, wanted, whole_limit=2**40 if whole else 0)
    assert result.note == ""
    assert {attribute for _, attribute in result.uninitialised} == expected
    if name == "half recomputed":
        assert result.uninitialised[("", "table")] == 4
    # and through the rule, at the line that registers it
    findings = [f for f in check_model(f"{path}:Model").findings if f.code == "PI013"]
    assert {f.attribute for f in findings} == expected


def test_the_probe_leaves_the_model_and_the_random_state_as_they_were():
    import torch
    from torch import nn

    from paraminspect.checks import empty_init

    class Rope(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.register_buffer("inv_freq", torch.arange(4.0), persistent=False)

    model = Rope()
    before = {k: v.clone() for k, v in [*model.named_parameters(), *model.named_buffers()]}
    rng = torch.get_rng_state()
    result = empty_init.probe(model, [("", "inv_freq")])
    assert result.uninitialised == {("", "inv_freq"): 4}
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in [*model.named_parameters(), *model.named_buffers()]:
        assert v.device.type == "cpu" and torch.equal(v, before[k]), k


def test_a_hook_that_raises_makes_pi013_say_so_and_report_nothing(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        _module_source(
            f'self.register_buffer("inv_freq", {ROPE}, persistent=False)',
            "def reset_parameters(self):\n    raise ValueError('no init here')\n",
        )
    )
    result = check_model(f"{path}:Model")
    assert not [f for f in result.findings if f.code == "PI013"]
    assert any("PI013 could not decide" in n and "ValueError: no init here" in n for n in result.notes), result.notes


BUFFER_AND_LOCK = f'self.register_buffer("inv_freq", {ROPE}, persistent=False)\nself.lock = threading.Lock()'


def test_a_model_that_cannot_be_copied_is_skipped_with_a_note(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import threading\n" + _module_source(BUFFER_AND_LOCK, ""))
    result = check_model(f"{path}:Model")
    assert not [f for f in result.findings if f.code == "PI013"]
    assert any("PI013 skipped: the model cannot be copied" in n for n in result.notes), result.notes


def test_non_persistent_buffers_over_the_limit_are_skipped_with_a_note(monkeypatch):
    import torch
    from torch import nn

    from paraminspect.checks import empty_init

    model = nn.Module()
    model.register_buffer("mask", torch.ones(256, 256, dtype=torch.bool), persistent=False)
    monkeypatch.setattr(empty_init, "BUFFER_BYTES", 1024)
    result = empty_init.probe(model, [("", "mask")])
    assert result.uninitialised == {} and "PI013 skipped" in result.note


_MARKER_MODEL = """\
import os

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("inv_freq", torch.arange(4.0), persistent=False)

    def init_weights(self) -> None:  # only the PI013 probe calls it: it leaves a file behind
        open(os.environ["PROBE_MARKER"], "a").close()
"""


def test_the_probe_runs_only_when_pi013_is_selected_and_never_for_show(cli, tmp_path, monkeypatch):
    path = tmp_path / "marker.py"
    path.write_text(_MARKER_MODEL)
    marker = tmp_path / "probed"
    monkeypatch.setenv("PROBE_MARKER", str(marker))
    assert cli("show", f"{path}:Model").code == 0 and not marker.exists()
    ignored = cli("check", f"{path}:Model", "--ignore", "PI013", "--no-cache")
    assert ignored.code == 0 and "PI013" not in ignored.out and not marker.exists()
    checked = cli("check", f"{path}:Model", "--no-cache")
    assert checked.code == 1 and "PI013 warning" in checked.out and marker.exists()


def test_timm_models_that_recompute_their_buffers_get_no_pi013():
    pytest.importorskip("timm")
    for spec in ("timm:swin_tiny_patch4_window7_224", "timm:levit_128s"):
        result = check_model(spec, select=["PI010", "PI013"])
        assert result.error is None
        assert {f.code for f in result.findings} == {"PI010"}, spec  # it has non-persistent buffers


def _hf_config_and_model(tmp_path: Path, recompute: bool) -> str:
    init = (
        "    def _init_weights(self, module):\n"
        "        super()._init_weights(module)\n"
        "        if isinstance(module, Model):\n"
        "            init.copy_(module.inv_freq, 1.0 / 10000 ** (torch.arange(0, 8, 2) / 8))\n"
        if recompute
        else ""
    )
    source = (
        "import torch\nfrom torch import nn\nfrom transformers import PretrainedConfig, PreTrainedModel\n"
        "from transformers import initialization as init\n\n\n"
        "class Config(PretrainedConfig):\n    model_type = 'pi013-test'\n\n\n"
        "class Model(PreTrainedModel):\n    config_class = Config\n\n"
        "    def __init__(self, config=None):\n        super().__init__(config or Config())\n"
        "        self.proj = nn.Linear(8, 8)\n"
        "        self.register_buffer('inv_freq', 1.0 / 10000 ** (torch.arange(0, 8, 2) / 8), persistent=False)\n"
        "        self.post_init()\n\n" + init
    )
    path = tmp_path / f"hf_{recompute}.py"
    path.write_text(source)
    return f"{path}:Model"


@pytest.mark.parametrize("recompute", [False, True])
def test_a_transformers_model_counts_what_its_init_weights_recompute(tmp_path, recompute):
    pytest.importorskip("transformers")
    result = check_model(_hf_config_and_model(tmp_path, recompute), select=["PI013"])
    assert result.error is None, result.error
    assert [f.attribute for f in result.findings] == ([] if recompute else ["inv_freq"])
    if not recompute:
        assert "initialize_weights()" in result.findings[0].message


def test_llamas_rotary_buffers_are_recomputed_by_transformers_init():
    """LlamaRotaryEmbedding has no reset_parameters: only transformers' own init path
    recomputes inv_freq, so no finding shows that path ran."""
    pytest.importorskip("transformers")
    kwargs = dict(num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=4)
    result = check_model("transformers:LlamaForCausalLM", kwargs, select=["PI010", "PI013"])
    assert result.error is None
    assert {f.attribute for f in result.findings if f.code == "PI010"} >= {"inv_freq"}
    assert [f for f in result.findings if f.code == "PI013"] == []


# --- PI008 and safetensors --------------------------------------------------------------------


def test_pi008_predicts_safetensors_refusal_and_its_fix_works(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from paraminspect.checks.registration_examples import PI008

    path = tmp_path / "tied.py"
    path.write_text(PI008[0].bad)
    result = check_model(f"{path}:Model", device="cpu")
    (finding,) = [f for f in result.findings if f.code == "PI008"]
    assert "save_file" in finding.message and "Some tensors share memory" in finding.message
    assert "save_model" in finding.message

    import importlib.util

    spec = importlib.util.spec_from_file_location("tied", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    with pytest.raises(RuntimeError, match="Some tensors share memory"):
        safetensors_torch.save_file(model.state_dict(), str(tmp_path / "refused.safetensors"))
    saved = tmp_path / "model.safetensors"
    safetensors_torch.save_model(model, str(saved))  # the fix the message names
    fresh = module.Model()
    missing, unexpected = safetensors_torch.load_model(fresh, str(saved))
    assert (missing, unexpected) == (set(), [])
    assert fresh.head.weight is fresh.embed.weight
    import torch

    assert torch.equal(fresh.embed.weight, model.embed.weight)


def test_the_explanation_states_the_probes_limits():
    from paraminspect.checks import empty_init
    from paraminspect.checks.meta_init import PI013

    assert empty_init.WHOLE_MODEL_BYTES == 16 * 1024**2 and "over 16 MiB" in PI013.explanation
    assert empty_init.BUFFER_BYTES == 1024**3 and "up to 1 GiB" in PI013.explanation


def test_the_python_api_reports_pi013_on_a_copy():
    import torch
    from torch import nn

    import paraminspect

    class Rope(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, 8, 2) / 8), persistent=False)

    model = Rope()
    before = model.inv_freq.clone()
    assert [f.code for f in paraminspect.check(model) if f.severity != "info"] == ["PI013"]
    assert torch.equal(model.inv_freq, before)
    assert [f.code for f in paraminspect.check(model, ignore=["PI013"]) if f.severity != "info"] == []
