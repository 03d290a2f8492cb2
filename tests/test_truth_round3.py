"""Truth on real libraries, round three (issue 28), each defect as a small model
(tests/fixtures/truth_round3.py): findings at the line the build ran, `_apply` overrides judged
per tensor, tensors inside torch objects, quantized modules' own state, PI014, help text."""

from __future__ import annotations

import json
import re
import shutil
import sys
import warnings
from pathlib import Path

import torch
from conftest import ROOT, run_process

import paraminspect
from paraminspect.commands.check import check_model
from paraminspect.tensors.walk import build_inventory

FIXTURE = ROOT / "tests" / "fixtures" / "truth_round3.py"
sys.path.insert(0, str(FIXTURE.parent))
import truth_round3 as models  # noqa: E402


def line_of(fragment: str, path: Path = FIXTURE, after: str = "") -> int:
    """The one line containing `fragment` (the first after the line containing `after`)."""
    lines = path.read_text().splitlines()
    start = next(i for i, text in enumerate(lines) if after in text) if after else 0
    hits = [i for i, text in enumerate(lines[start:], start + 1) if fragment in text]
    assert hits, (fragment, after)
    return hits[0]


def findings(spec: str, **kwargs) -> list:
    result = check_model(spec, **kwargs)
    assert result.error is None, result.error
    return [f for f in result.findings if f.severity != "info"]


def where(found: list) -> set[tuple]:
    return {(f.code, f.module, f.attribute, f.line) for f in found}


# --- 1. the line the build ran ----------------------------------------------------------------


def test_the_finding_is_at_the_branch_that_ran():
    found = findings(f"{FIXTURE}:Causal", kwargs={"causal": False})
    assert where(found) == {("PI002", "", "mask", line_of("self.mask = torch.zeros(2)", after="class Causal("))}
    assert all(f.file == str(FIXTURE) for f in found)
    assert findings(f"{FIXTURE}:Causal", kwargs={"causal": True}) == []  # the buffer branch: nothing to report


def test_a_helper_method_assigning_first_is_not_the_line():
    found = findings(f"{FIXTURE}:HelperFirst")
    assert where(found) == {("PI002", "", "table", line_of("self.table = torch.zeros(3)"))}


def test_a_computed_name_is_located_at_its_setattr():
    found = findings(f"{FIXTURE}:ComputedNames")
    line = line_of("setattr(self, name, torch.zeros(1))")
    assert where(found) == {("PI002", "", "low", line), ("PI002", "", "high", line)}


def test_noqa_on_the_line_that_ran_silences_it_and_on_the_other_branch_does_not():
    assert findings(f"{FIXTURE}:CausalNoqaOnTheBranchThatRan") == []
    found = findings(f"{FIXTURE}:CausalNoqaOnTheOtherBranch")
    line = line_of("self.mask = torch.zeros(2)", after="class CausalNoqaOnTheOtherBranch(")
    assert where(found) == {("PI002", "", "mask", line)}


def test_fix_rewrites_the_line_that_ran(cli, tmp_path, monkeypatch):
    path = tmp_path / "net.py"
    shutil.copy(FIXTURE, path)
    monkeypatch.chdir(tmp_path)
    result = cli("check", "net.py:Causal", "--fix")
    # what is left is about the new non-persistent buffer: PI010 (info), PI013 (meta init)
    assert result.code == 1 and {"PI010", "PI013"} >= set(re.findall(r"PI\d{3}(?= )", result.out)), result.err
    lines = path.read_text().splitlines()
    start = next(i for i, text in enumerate(lines) if text.startswith("class Causal("))
    body = lines[start : start + 8]
    assert '            self.register_buffer("mask", torch.ones(2))' in body  # the branch that did not run
    assert '            self.register_buffer("mask", torch.zeros(2), persistent=False)' in body
    assert "            self.mask = torch.zeros(2)" not in body


def test_a_model_built_outside_paraminspect_is_located_from_its_source():
    found = paraminspect.check(models.HelperFirst())  # nothing recorded: read from the class
    assert where([f for f in found if f.severity != "info"]) == {
        ("PI002", "", "table", line_of("self.table = torch.ones(3)"))  # the first plain assignment
    }
    loaded = paraminspect.load(f"{FIXTURE}:HelperFirst")  # built by paraminspect: the line that ran
    assert where(paraminspect.check(loaded.module)) == {("PI002", "", "table", line_of("self.table = torch.zeros(3)"))}


# --- 2. what an _apply override moves, per tensor -----------------------------------------------


def test_an_apply_override_exempts_exactly_what_it_moves():
    found = findings(f"{FIXTURE}:WorldModel")
    # the head's stride is moved by BaseModel._apply; the root's alias of it and txt_feats are not
    assert {(f.code, f.module, f.attribute) for f in found} == {("PI002", "", "stride"), ("PI002", "", "txt_feats")}


def test_observing_apply_leaves_the_model_as_it_was():
    model = models.WorldModel()
    head_stride, txt_feats = model.model[-1].stride, model.txt_feats
    parameters = {name: (p, p.dtype) for name, p in model.named_parameters()}
    inv = build_inventory(model)
    assert inv.moved_by_apply == {("model.1", "stride", "")}
    assert model.model[-1].stride is head_stride and model.stride is head_stride and model.txt_feats is txt_feats
    assert {name: (p, p.dtype) for name, p in model.named_parameters()} == parameters
    norm = models.Normalize()
    sampler, flags = norm.sampler, dict(norm.flags)
    inv = build_inventory(norm)
    assert norm.sampler is sampler and norm.flags == flags and norm.device == torch.device("cpu")
    assert inv.moved_by_apply == {("", "sampler", ".low"), ("", "sampler", ".high")}


def test_a_parameter_whose_data_the_override_replaces_gets_it_back():
    with torch.device("meta"):  # as paraminspect builds it: `.data =` may change the dtype there
        model = models.MovesParameterData()
    parameter = model.w
    inv = build_inventory(model)
    assert inv.moved_by_apply == frozenset()  # `table` stays where it is
    assert model.w is parameter and model.w.dtype == torch.float32
    assert [(f.code, f.attribute) for f in paraminspect.check(model) if f.severity != "info"] == [("PI002", "table")]
    on_cpu = models.MovesParameterData()  # there the override itself refuses meta data: trusted as a whole
    assert build_inventory(on_cpu).moved_by_apply is None and on_cpu.w.device.type == "cpu"


def test_kornia_like_flags_are_reported_and_the_rebuilt_samplers_are_not():
    found = findings(f"{FIXTURE}:Normalize")
    assert [(f.code, f.attribute, f.names) for f in found] == [("PI003", "flags", ("flags[mean]", "flags[std]"))]


# --- 3. tensors inside torch objects -----------------------------------------------------------


def test_tensors_of_a_distribution_are_walked():
    inv = build_inventory(models.WithPrior())
    unregistered = {r.name: r.numel for r in inv.tensors if r.kind == "unregistered"}
    assert unregistered == {"prior.loc": 4, "prior.scale": 4}
    assert inv.totals.unregistered == 8
    found = findings(f"{FIXTURE}:WithPrior")
    assert where(found) == {("PI003", "", "prior", line_of("self.prior = torch.distributions.Normal("))}
    assert found[0].names == ("prior.loc", "prior.scale")


# --- 4. quantized modules' scale and zero_point ------------------------------------------------


def _state_dict_tensors(value, name: str):
    """(name, tensor) of every tensor in a state_dict value (packed tuples unpacked)."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _state_dict_tensors(item, f"{name}[{i}]")


def test_a_quantized_model_lists_all_its_state_dict_holds():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = models.quantized()
        state = model.state_dict()
    inv = build_inventory(model)
    records = {n: r for r in inv.tensors for n in (r.name, *r.aliases)}
    saved = dict(pair for key, value in state.items() for pair in _state_dict_tensors(value, key))
    assert set(saved) <= set(records), set(saved) - set(records)
    for name in ("fc.scale", "fc.zero_point", "add_relu.scale", "add_relu.zero_point", "conv.scale"):
        assert records[name].kind == "packed", name
        assert records[name].dtype == str(saved[name].dtype).removeprefix("torch.")
    listed = (
        inv.totals.parameters
        + inv.totals.packed
        + sum(r.numel for r in inv.tensors if r.kind == "buffer" and r.persistent)
    )
    assert listed == sum(t.numel() for t in saved.values())


# --- 5. a module nn.Module.__init__ never ran on -----------------------------------------------


def test_a_module_that_never_calls_module_init_is_pi014_at_its_init():
    found = check_model(f"{FIXTURE}:HoldsNoInit").findings
    pi014 = [f for f in found if f.code == "PI014"]
    assert [(f.module, f.severity, f.line) for f in pi014] == [
        ("sched", "error", line_of("def __init__", after="class NoInit("))
    ]
    (plain,) = [f for f in found if f.code == "PI002"]
    assert plain.attribute == "timesteps" and not plain.fix and "PI014" in plain.no_fix  # register_buffer would raise


def test_pi014_in_the_cli_show_and_run(cli):
    result = cli("check", f"{FIXTURE}:NoInit", "--format", "json")
    assert result.code == 1, result.err
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI002", "PI014"]
    result = cli("check", f"{FIXTURE}:HoldsNoInit", "--run", "--input-shape", "2,4")
    assert result.code == 1, result.err  # findings, not an internal error
    assert "--run skipped" in result.err
    result = cli("show", f"{FIXTURE}:NoInit")
    assert result.code == 0, result.err
    assert "the model (NoInit) never called nn.Module.__init__()" in result.err


# --- 6. help text --------------------------------------------------------------------------------


def test_help_shows_brackets_literally_and_show_has_no_run():
    wide = {"COLUMNS": "400"}
    check_help = run_process("check", "--help", env=wide).out
    assert "(default 120, or timeout in [tool.paraminspect])." in check_help
    assert "fixable findings ([*])" in check_help
    show_help = run_process("show", "--help", env=wide).out
    assert "(default 120, or timeout in [tool.paraminspect])." in show_help
    assert "--run" not in show_help
