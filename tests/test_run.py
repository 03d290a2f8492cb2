"""`check --run`: rules PI101-PI105 found by one forward (+backward) pass."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import SAMPLES, sample
from torch import nn

from paraminspect.errors import UsageError
from paraminspect.forward.check_run import model_bytes, run_model
from paraminspect.forward.examples import RunOptions, parse_size, resolve_example, run_options

RUN_BUGS = SAMPLES / "run_bugs.py"
RUN_CLEAN = SAMPLES / "run_clean.py"
SHAPE = ("--input-shape", "2,8")


def line_of(fragment: str, path: Path = RUN_BUGS) -> int:
    """1-based line of the one line of `path` that contains `fragment`."""
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if fragment in text]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


def runtime_findings(cli, spec: str, *extra: str) -> tuple[int, list[dict], str]:
    result = cli("check", spec, "--run", *extra, "--format", "json")
    assert result.code in (0, 1), result.err
    findings = json.loads(result.out)["findings"]
    return result.code, [f for f in findings if f["code"].startswith("PI1")], result.err


def summary(findings: list[dict]) -> set[tuple]:
    return {(f["code"], f["module"], f["attribute"], tuple(f["names"]), f["line"]) for f in findings}


# --- each rule fires exactly where it should -------------------------------------------------

EXPECTED = {
    "unused_parameter": {
        ("PI101", "aux_head", "weight", ("aux_head.weight",), line_of("self.aux_head = nn.Linear")),
        ("PI101", "aux_head", "bias", ("aux_head.bias",), line_of("self.aux_head = nn.Linear")),
        ("PI101", "", "gain", ("gain",), line_of("self.gain = nn.Parameter")),
    },
    "cached_mask": {
        ("PI102", "", "mask", ("mask",), line_of("self.mask = x.new_ones")),
        ("PI102", "", "last_output", ("last_output",), line_of("self.last_output =")),
    },
    "no_device_factory": {("PI103", "", "", ("torch.arange",), line_of("positions = torch.arange(DIM)"))},
    "parameter_in_forward": {("PI104", "", "", ("bias",), line_of("bias = nn.Parameter("))},
    "lazy_parameter": {("PI104", "", "scale", ("scale",), line_of("self.scale = nn.Parameter("))},
    "global_constant": {("PI105", "", "", ("SCALE",), line_of("return self.proj(x) * SCALE"))},
    "closure_constant": {("PI105", "", "", ("table",), line_of("return self.proj(x) + table"))},
    "plain_attribute": {("PI105", "", "offset", ("offset",), line_of("return self.proj(x) + self.offset"))},
}


@pytest.mark.parametrize("factory", sorted(EXPECTED))
def test_each_rule_fires_exactly_where_it_should(cli, factory):
    code, findings, _ = runtime_findings(cli, sample("run_bugs", factory), *SHAPE)
    assert summary(findings) == EXPECTED[factory]
    assert all(Path(f["file"]).resolve() == RUN_BUGS.resolve() for f in findings)  # relative to the cwd
    assert all(f["model"] == sample("run_bugs", factory) for f in findings)
    assert code == 1


def test_messages_name_the_origin_and_the_fix(cli):
    _, (finding,), _ = runtime_findings(cli, sample("run_bugs", "global_constant"), *SHAPE)
    assert "global SCALE" in finding["message"] and "run_bugs.py" in finding["message"]
    assert finding["severity"] == "warning"
    _, (finding,), _ = runtime_findings(cli, sample("run_bugs", "no_device_factory"), *SHAPE)
    assert "no device argument" in finding["message"] and "device=x.device" in finding["message"]
    assert f"run_bugs.py:{line_of('return self.proj(x + positions)')}" in finding["message"]  # where it met x
    _, findings, _ = runtime_findings(cli, sample("run_bugs", "cached_mask"), *SHAPE)
    assert {f["severity"] for f in findings} == {"error"}
    assert all("register_buffer" in f["message"] for f in findings)


def test_clean_counterpart_is_clean_and_runs_on_meta(cli):
    result = cli("check", sample("run_clean"), "--run", "--example", f"{RUN_CLEAN}:make_input")
    assert result.code == 0, result.err
    assert "PI1" not in result.out
    assert "CPU" not in result.err  # no fallback: it ran on meta


@pytest.mark.parametrize("name", ["vit_base_patch16_224", "resnet50"])
def test_timm_models_run_clean_on_meta(cli, name):
    code, findings, err = runtime_findings(cli, name)
    assert findings == []
    assert code == 0
    assert "CPU" not in err


# --- select / ignore / noqa / formats ---------------------------------------------------------


def test_select_ignore_and_static_rules_together(cli):
    spec = sample("run_bugs", "plain_attribute")
    result = cli("check", spec, "--run", *SHAPE, "--format", "json")
    codes = [f["code"] for f in json.loads(result.out)["findings"]]
    assert codes == ["PI002", "PI105"]  # static first, then runtime
    result = cli("check", spec, "--run", *SHAPE, "--format", "json", "--ignore", "PI105")
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI002"]
    result = cli("check", spec, "--run", *SHAPE, "--format", "json", "--select", "PI1")
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI105"]
    result = cli("check", sample("run_bugs", "unused_parameter"), "--run", *SHAPE, "--fail-on", "error")
    assert result.code == 0  # PI101 is a warning


def test_noqa_on_the_reported_line_suppresses(cli, tmp_path):
    source = """\
        import torch
        from torch import nn

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 4)

            def forward(self, x):
                steps = torch.arange(4){noqa}
                return self.proj(x) + steps

        def build():
            return M()
    """
    cases = (("", {"PI103"}), ("  # noqa: PI103", set()), ("  # noqa", set()), ("  # noqa: PI105", {"PI103"}))
    for i, (noqa, expected) in enumerate(cases):
        path = tmp_path / f"m{i}.py"
        path.write_text(textwrap.dedent(source.format(noqa=noqa)))
        _, findings, _ = runtime_findings(cli, f"{path}:build", "--input-shape", "1,4")
        assert {f["code"] for f in findings} == expected, noqa


def test_github_annotation_at_the_line(cli):
    result = cli("check", sample("run_bugs", "no_device_factory"), "--run", *SHAPE, "--format", "github")
    assert result.code == 1
    line = line_of("positions = torch.arange(DIM)")
    (annotation,) = [row for row in result.out.splitlines() if row.startswith("::warning")]
    assert f"line={line}," in annotation and "title=PI103" in annotation and "run_bugs.py" in annotation


# --- example inputs -----------------------------------------------------------------------------


def test_unguessable_input_exits_2_naming_the_options(cli):
    result = cli("check", sample("mlp"), "--run")
    assert result.code == 2
    for option in ("--input-shape", "--input-ids", "--example"):
        assert option in result.err
    assert "Traceback" not in result.err


def test_run_options_need_run(cli):
    result = cli("check", sample("mlp"), "--input-shape", "1,16")
    assert result.code == 2
    assert "--run" in result.err


def test_bad_shape_and_wrong_shape(cli):
    result = cli("check", sample("mlp"), "--run", "--input-shape", "1,a")
    assert result.code == 2 and "--input-shape" in result.err
    result = cli("check", sample("mlp"), "--run", "--input-shape", "1,15")
    assert result.code == 2
    assert "mat1 and mat2" in result.err and "--input-shape" in result.err


def test_example_forms(cli, tmp_path):
    path = tmp_path / "inputs.py"
    path.write_text(
        textwrap.dedent(
            """\
            import torch
            from torch import nn

            class TwoInputs(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Linear(4, 4)
                    self.b = nn.Linear(4, 4)

                def forward(self, x, y=None, *, scale=1.0):
                    return self.a(x) * scale + (self.b(y) if y is not None else 0)

            def build():
                return TwoInputs()

            def pair():
                return (torch.randn(1, 4),), {"y": torch.randn(1, 4), "scale": 2.0}

            def positional():
                return torch.randn(1, 4), torch.randn(1, 4)

            def single(model):
                return torch.randn(1, 4)
            """
        )
    )
    for func, unused in (("pair", set()), ("positional", set()), ("single", {"b.weight", "b.bias"})):
        _, findings, err = runtime_findings(cli, f"{path}:build", "--example", f"{path}:{func}")
        assert {n for f in findings for n in f["names"]} == unused, (func, err)
    # pkg.module:function form (the working directory is importable)
    _, findings, _ = runtime_findings(
        cli, sample("run_bugs", "no_device_factory"), "--example", "sample_models.run_bugs:make_input"
    )
    assert [f["code"] for f in findings] == ["PI103"]
    result = cli("check", f"{path}:build", "--run", "--example", f"{path}:missing")
    assert result.code == 2 and "missing" in result.err


def test_input_ids_and_dtype():
    model = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 2))
    example = resolve_example(RunOptions(input_ids="2,16"), model)
    (ids,) = example.args
    assert ids.dtype == torch.int64 and tuple(ids.shape) == (2, 16)
    assert int(ids.max()) < 50 and int(ids.min()) >= 0
    (ids,) = resolve_example(RunOptions(input_ids="1,300", vocab=3), model).args
    assert int(ids.max()) < 3
    (x,) = resolve_example(RunOptions(input_shape="1,3", input_dtype="float16"), nn.Linear(3, 3)).args
    assert x.dtype == torch.float16
    (x,) = resolve_example(RunOptions(input_shape="1,3"), nn.Linear(3, 3).to(torch.bfloat16)).args
    assert x.dtype == torch.bfloat16  # the model's own floating dtype
    with pytest.raises(UsageError, match="--vocab"):
        resolve_example(RunOptions(input_ids="1,4"), nn.Linear(3, 3))
    with pytest.raises(UsageError, match="input-dtype"):
        resolve_example(RunOptions(input_shape="1,3", input_dtype="float17"), nn.Linear(3, 3))


def test_input_ids_run(cli, tmp_path):
    path = tmp_path / "lm.py"
    path.write_text(
        textwrap.dedent(
            """\
            from torch import nn

            def build():
                return nn.Sequential(nn.Embedding(100, 8), nn.Linear(8, 100))
            """
        )
    )
    code, findings, err = runtime_findings(cli, f"{path}:build", "--input-ids", "1,16")
    assert (code, findings) == (0, []), err


def test_timm_input_from_pretrained_cfg_and_batch_retry():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.pretrained_cfg = {"input_size": (3, 8, 8)}
            self.conv = nn.Conv2d(3, 4, 3)
            self.norm = nn.BatchNorm1d(4)  # refuses a batch of one in training mode

        def forward(self, x):
            return self.norm(self.conv(x).mean((2, 3)))

    with torch.device("meta"):
        model = Head()
    example = resolve_example(RunOptions(), model)
    assert tuple(example.args[0].shape) == (1, 3, 8, 8)
    report = run_model(model, example)
    assert report.device == "meta" and report.observations == ()
    assert any("batch 1" in n and "(2, 3, 8, 8)" in n for n in report.notes)


# --- meta first, CPU fallback, size limit ------------------------------------------------------


def test_cpu_fallback_with_a_note(cli):
    result = cli("check", sample("run_clean", "needs_data"), "--run", *SHAPE)
    assert result.code == 0, result.err
    assert "cannot run on the meta device" in result.err and "ran it on CPU instead" in result.err
    assert ".item()" in result.err


def test_cpu_fallback_refused_past_the_limit(cli, monkeypatch):
    spec = sample("run_clean", "needs_data")
    result = cli("check", spec, "--run", *SHAPE, "--max-cpu-bytes", "100B")
    assert result.code == 2
    assert "--max-cpu-bytes" in result.err and "PARAMINSPECT_MAX_CPU_BYTES" in result.err
    assert "100B limit" in result.err
    monkeypatch.setenv("PARAMINSPECT_MAX_CPU_BYTES", "1KiB")
    with torch.device("meta"):
        size = model_bytes(nn.Linear(8, 8))
    assert size < 1024  # the limit is above the model: it runs
    assert cli("check", spec, "--run", *SHAPE).code == 0
    monkeypatch.setenv("PARAMINSPECT_MAX_CPU_BYTES", f"{size - 1}")
    assert cli("check", spec, "--run", *SHAPE).code == 2


def test_parse_size():
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size("500MB") == 500 * 1000**2
    assert parse_size("1e3") == 1000
    with pytest.raises(UsageError):
        parse_size("lots")
    with pytest.raises(UsageError, match="--run"):
        run_options(False, vocab=10)


def test_failed_meta_run_is_undone_before_the_cpu_run():
    """Attributes set before the meta error must not hide PI102 in the CPU run."""

    class Caches(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.cache = None

        def forward(self, x):
            self.cache = x.detach()
            if x.sum().item() > 1e9:  # needs data: meta cannot
                return x
            return self.proj(x)

    with torch.device("meta"):
        model = Caches()
    report = run_model(model, resolve_example(RunOptions(input_shape="1,4"), model))
    assert report.device == "cpu"
    assert [(o.code, o.attribute) for o in report.observations] == [("PI102", "cache")]


# --- the observation engine directly ------------------------------------------------------------

GLOBAL_TABLE = torch.arange(4.0)


@dataclass
class Output:
    logits: torch.Tensor
    extra: dict


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)

    def forward(self, x):
        return Output(self.a(x), {"b": [self.b(x)], "ids": x.argmax(-1)})


def _run(model: nn.Module, shape: str = "1,4"):
    return run_model(model, resolve_example(RunOptions(input_shape=shape), model))


def test_outputs_in_dataclasses_dicts_and_lists_reach_backward():
    report = _run(DictOutput())
    assert report.backward
    assert sorted(n for o in report.observations for n in o.names) == ["c.bias", "c.weight"]


def test_detached_or_frozen():
    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            with torch.no_grad():
                return self.a(x)

    report = _run(Detached())
    assert {o.names for o in report.observations} == {("a.weight",), ("a.bias",)}
    frozen = Detached().requires_grad_(False)
    report = _run(frozen)
    assert report.observations == () and not report.backward


def test_global_from_a_helper_function_and_tied_parameters():
    def helper(x):
        return x + GLOBAL_TABLE

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 4)
            self.dec = nn.Linear(4, 4)
            self.dec.weight = self.enc.weight
            self.unused = nn.Linear(4, 4, bias=False)
            self.unused.weight = self.dec.weight  # a third name for the same parameter

        def forward(self, x):
            return helper(self.dec(x))

    report = _run(Tied())
    found = [(o.code, o.names) for o in report.observations]
    # the shared weight is used through dec: only enc's own bias goes without a gradient
    assert found == [("PI105", ("GLOBAL_TABLE",)), ("PI101", ("enc.bias",))]
    assert report.observations[0].line == helper.__code__.co_firstlineno + 1  # the line in helper


def test_wrong_explicit_device_on_meta():
    class CpuZeros(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) + torch.zeros(4, device="cpu")

    with torch.device("meta"):
        model = CpuZeros()
    report = _run(model)
    assert report.device == "meta"  # the mismatch was reported, then repaired so the run goes on
    (obs,) = report.observations
    assert obs.code == "PI103" and "device='cpu'" in obs.message


def test_no_global_state_leaks_on_error():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    hooks_before = (
        len(nn.modules.module._global_forward_pre_hooks),
        len(nn.modules.module._global_forward_hooks),
    )
    with pytest.raises(UsageError, match="boom"):
        _run(Broken())
    assert torch._C._len_torch_function_stack() == 0
    assert (
        len(nn.modules.module._global_forward_pre_hooks),
        len(nn.modules.module._global_forward_hooks),
    ) == hooks_before


def test_rules_and_explain(cli):
    result = cli("rules")
    for code in ("PI101", "PI102", "PI103", "PI104", "PI105"):
        assert code in result.out
    result = cli("explain", "PI103")
    assert result.code == 0 and "device=x.device" in result.out


def test_runs_on_the_build_device_and_skips_when_no_runtime_rule_is_selected(cli):
    _, findings, err = runtime_findings(cli, sample("run_bugs", "no_device_factory"), *SHAPE, "--device", "cpu")
    assert [(f["code"], f["line"]) for f in findings] == [("PI103", line_of("positions = torch.arange(DIM)"))]
    assert "meta" not in err
    # no PI1xx rule selected: no run, so no example input is needed
    assert cli("check", sample("mlp"), "--run", "--select", "PI00").code == 0
    assert cli("check", sample("mlp"), "--run", "--ignore", "PI1").code == 0
