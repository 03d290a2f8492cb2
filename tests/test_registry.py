"""Checking many models: timm glob expansion, isolated workers (a model that raises, one that
ends its process, one that crashes, one that hangs past --timeout) and the registry report."""

from __future__ import annotations

import fnmatch
import io
import json
import textwrap

import pytest
import timm
from conftest import ROOT, sample

from paraminspect.checks.model_result import ModelResult
from paraminspect.checks.rule import Finding
from paraminspect.commands.check import check_many, check_model
from paraminspect.commands.check_plan import CheckTarget as Task
from paraminspect.commands.check_plan import expand_specs
from paraminspect.errors import UsageError
from paraminspect.forms import parse_spec, preload_for
from paraminspect.render.console import make_console
from paraminspect.render.findings import summary_line
from paraminspect.render.sweep import print_sweep_report


def _timm(pattern: str, names: list[str] | None = None) -> list[str]:
    return [f"timm:{n}" for n in (names or timm.list_models()) if fnmatch.fnmatchcase(n, pattern)]


def test_timm_glob_expands_to_registered_names_in_order():
    expected = _timm("resnet1*")
    assert len(expected) > 1
    assert expand_specs(["timm:resnet1*"]) == expected
    assert expand_specs(["resnet1*"]) == expected  # a bare pattern is a timm pattern too


def test_star_is_the_whole_registry():
    assert expand_specs(["timm:*"]) == [f"timm:{n}" for n in timm.list_models()]


def test_several_patterns_and_plain_specs_keep_order_without_duplicates():
    factory = sample("mlp")
    got = expand_specs([factory, "timm:resnet1*", "timm:resnet18", "timm:resnet18*", "resnet50"])
    expected = [factory, *_timm("resnet1*"), "resnet50"]
    assert got == expected


def test_pattern_with_a_tag_matches_pretrained_names():
    expected = _timm("resnet18.*", timm.list_pretrained())
    assert expected and expand_specs(["timm:resnet18.*"]) == expected


def test_pattern_matching_nothing_is_a_usage_error():
    with pytest.raises(UsageError, match="no timm model matches 'timm:zzz_no_such_\\*'"):
        expand_specs(["timm:zzz_no_such_*"])


def test_factory_specs_are_never_expanded():
    spec = "models/*.py:build"
    assert parse_spec(spec).is_glob and expand_specs([spec]) == [spec]


def test_needs_timm():
    assert "timm" in preload_for(["timm:resnet18"]) and "timm" in preload_for(["resnet18"])
    assert "timm" not in preload_for([sample("mlp"), "pkg.mod:build"])


BAD_MODELS = textwrap.dedent(
    """
    import os, signal, time
    from torch import nn

    def good():
        return nn.Linear(2, 2)

    def raises():
        raise ValueError("nope")

    def exits():
        os._exit(3)

    def crashes():
        os.kill(os.getpid(), signal.SIGSEGV)

    def hangs():
        time.sleep(120)
        return nn.Linear(2, 2)
    """
)


def test_workers_isolate_models_that_raise_exit_crash_or_hang(tmp_path):
    path = tmp_path / "bad_models.py"
    path.write_text(BAD_MODELS)
    names = ["good", "raises", "exits", "crashes", "hangs", "unregistered"]
    specs = [f"{path}:{n}" for n in names[:-1]] + [sample("unregistered_tensor")]
    seen: list[str] = []
    results = check_many([Task(s, {}) for s in specs], jobs=2, timeout=4, on_result=lambda r: seen.append(r.spec))
    assert [r.spec for r in results] == specs  # given order, whatever finished first
    assert sorted(seen) == sorted(specs)
    by_name = dict(zip(names, results, strict=True))
    assert by_name["good"].error is None and by_name["good"].findings == ()
    assert "raised ValueError: nope" in by_name["raises"].error
    assert "exit status 3" in by_name["exits"].error
    assert "SIGSEGV" in by_name["crashes"].error
    assert "timed out after 4 s" in by_name["hangs"].error
    # the model after the failures was checked exactly as in this process
    assert by_name["unregistered"] == check_model(sample("unregistered_tensor"))


def test_check_many_validates_its_limits():
    with pytest.raises(UsageError, match="--jobs"):
        check_many([Task(sample("mlp"), {})], jobs=0)
    with pytest.raises(UsageError, match="--timeout"):
        check_many([Task(sample("mlp"), {})], jobs=1, timeout=0)


def test_cli_registry_run(cli):
    result = cli("check", "timm:resnet1*", "timm:regnetx_00*", "-j", "2")
    assert result.code == 0, result.err
    assert "\x1b[" not in result.err  # no progress bar when not on a terminal
    count = len(_timm("resnet1*") + _timm("regnetx_00*"))
    assert result.out.rstrip().splitlines()[-2].startswith(f"Checked {count} models: ")


def test_cli_explicit_models_with_jobs_report_failures_and_go_on(cli, tmp_path):
    path = tmp_path / "bad_models.py"
    path.write_text(BAD_MODELS)
    result = cli("check", f"{path}:exits", sample("unregistered_tensor"), "-j", "1", "--timeout", "60", "-f", "json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert [f["model"] for f in doc["failures"]] == [f"{path}:exits"]
    assert "exit status 3" in doc["failures"][0]["error"] and "exit status 3" in result.err
    assert [f["code"] for f in doc["findings"]] == ["PI002"]  # the next model was still checked


def _finding(code: str, severity: str, attribute: str) -> Finding:
    return Finding(code, severity, "", attribute, (attribute,), f"{attribute} message", None, None, None)


def test_registry_report_lists_failures_apart_from_findings(monkeypatch):
    monkeypatch.chdir(ROOT)
    results = [
        ModelResult("timm:a", resolved="timm:a"),
        ModelResult("timm:b", resolved="timm:b", findings=(_finding("PI002", "warning", "scale"),)),
        ModelResult("timm:c", resolved="timm:c", findings=(_finding("PI010", "info", "table"),)),
        ModelResult("timm:d", error="timm:d timed out after 120 s (--timeout)"),
        ModelResult("timm:e", error="timm model e raised ValueError: x"),
    ]
    out = io.StringIO()
    print_sweep_report(make_console(out), results, "warning")
    lines = out.getvalue().rstrip().splitlines()
    text = "\n".join(lines)
    assert "timm:b" in text and "PI002" in text and "scale message" in text
    assert "timm:a" not in text  # clean models are only counted
    assert "PI010" not in text and "1 finding below --fail-on warning not listed" in text
    failures = lines.index("Failures: 2 of 5 models could not be checked")
    assert text.index("PI002") < text.index("Failures")
    assert lines[failures + 1 : failures + 3] == [
        "  timm:d timed out after 120 s (--timeout)",
        "  timm:e: timm model e raised ValueError: x",
    ]
    assert lines[-2] == "Checked 5 models: 1 clean, 2 with findings, 2 failed."
    assert lines[-1] == summary_line(results, "warning")


def test_only_models_a_library_registers_may_share_a_worker(tmp_path, monkeypatch):
    """Sweeps reuse worker processes for timm names and transformers classes (the library's
    code); the user's factories, files and checkpoints always get a process of their own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet99").write_text("")  # a file that happens to look like a timm name
    assert all(parse_spec(s).shared_worker for s in ["timm:resnet18", "resnet18", "vit_base_patch16_224.augreg_in21k"])
    assert parse_spec("transformers:BertModel").shared_worker
    for spec in ["models.py:build", "pkg.models:build", "ckpt.pt", "timm:ckpt.safetensors", "resnet99", "a/b"]:
        assert not parse_spec(spec).shared_worker, spec
