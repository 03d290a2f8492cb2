"""check --fix / --diff: the LibCST rewrites of PI001-PI004, on real files in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from paraminspect.checks import all_rules
from paraminspect.commands.check import check_model
from paraminspect.fixes import FixRequest, rewrite_source
from paraminspect.fixes.plan import plan_fixes

FIXABLE = [rule for rule in all_rules().values() if rule.fix is not None]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _findings(path: Path, code: str, attr: str = "Model") -> list:
    result = check_model(f"{path}:{attr}", select=[code])
    assert result.error is None, result.error
    return [f for f in result.findings if f.code == code]


def _requests(findings) -> list[FixRequest]:
    return [FixRequest(f.code, f.line, f.attribute, f.fix) for f in findings]


def _fixed(path: Path, code: str, attr: str = "Model", **kwargs) -> str:
    findings = _findings(path, code, attr)
    assert findings and all(f.fix for f in findings), findings
    rewrite = rewrite_source(path.read_text(), _requests(findings), **kwargs)
    assert all(o.applied for o in rewrite.outcomes), rewrite.outcomes
    return rewrite.source


def test_the_fixable_rules_are_pi001_to_pi004_and_say_which_change_state():
    assert {r.code: r.fix.changes_state for r in FIXABLE} == {
        "PI001": True,
        "PI002": False,
        "PI003": True,
        "PI004": True,
    }
    # each fix's examples (bad -> exactly what it writes) are tested in test_rule_examples.py
    assert all(any(e.fixed for e in r.examples) for r in FIXABLE)


def test_requires_grad_goes_and_multi_line_calls_keep_their_layout(tmp_path):
    path = _write(
        tmp_path,
        "scale.py",
        '''\
        """A learned scale."""

        import torch
        from torch import nn


        class Model(nn.Module):
            def __init__(self, dim: int = 3) -> None:
                super().__init__()
                # the gate, trained
                self.gate = torch.zeros(dim).requires_grad_()
                self.bias = torch.zeros(
                    dim,
                    requires_grad=True,
                )

                self.scale = torch.ones(dim, requires_grad=True, dtype=torch.float32)  # per channel
        ''',
    )
    assert _fixed(path, "PI001") == textwrap.dedent(
        '''\
        """A learned scale."""

        import torch
        from torch import nn


        class Model(nn.Module):
            def __init__(self, dim: int = 3) -> None:
                super().__init__()
                # the gate, trained
                self.gate = nn.Parameter(torch.zeros(dim))
                self.bias = nn.Parameter(torch.zeros(
                    dim,
                ))

                self.scale = nn.Parameter(torch.ones(dim, dtype=torch.float32))  # per channel
        '''
    )


def test_aliased_torch_nn_is_spelled_as_the_file_spells_it(tmp_path):
    path = _write(
        tmp_path,
        "aliased.py",
        """\
        import torch
        import torch.nn as tnn


        class Model(tnn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.blocks = [tnn.Linear(2, 2), tnn.Linear(2, 2)]
                self.w = torch.ones(2, requires_grad=True)
        """,
    )
    text = _fixed(path, "PI004")
    assert "        self.blocks = tnn.ModuleList([tnn.Linear(2, 2), tnn.Linear(2, 2)])\n" in text
    text = _fixed(_write(tmp_path, "aliased_fixed.py", text), "PI001")
    assert "        self.w = tnn.Parameter(torch.ones(2))\n" in text
    assert "from torch import nn" not in text


def test_torch_nn_through_import_torch_and_imported_class_names(tmp_path):
    dotted = _write(
        tmp_path,
        "dotted.py",
        """\
        import torch


        class Model(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.heads = {"a": torch.nn.Linear(2, 2)}
        """,
    )
    assert '        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2)})\n' in _fixed(dotted, "PI004")
    direct = _write(
        tmp_path,
        "direct.py",
        """\
        import torch
        from torch.nn import Linear, Module, ModuleList


        class Model(Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = [Linear(2, 2)]
        """,
    )
    assert "        self.layers = ModuleList([Linear(2, 2)])\n" in _fixed(direct, "PI004")


def test_a_file_with_no_name_for_nn_gets_from_torch_import_nn(tmp_path):
    path = _write(
        tmp_path,
        "bare.py",
        '''\
        """No torch.nn module in sight."""
        from torch import ones
        from torch.nn import Linear, Module


        class Model(Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = [Linear(2, 2)]
                self.w = ones(2, requires_grad=True)
        ''',
    )
    findings = _findings(path, "PI001") + _findings(path, "PI004")
    text = rewrite_source(path.read_text(), _requests(findings)).source
    assert text == textwrap.dedent(
        '''\
        """No torch.nn module in sight."""
        from torch import ones
        from torch.nn import Linear, Module
        from torch import nn


        class Model(Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = nn.ModuleList([Linear(2, 2)])
                self.w = nn.Parameter(ones(2))
        '''
    )
    fixed = _write(tmp_path, "bare_fixed.py", text)  # a new file: this process imported the old one
    assert _findings(fixed, "PI001") == [] and _findings(fixed, "PI004") == []


def test_pi002_non_persistent_by_default_persistent_on_request(tmp_path):
    path = _write(
        tmp_path,
        "norm.py",
        """\
        import torch
        from torch import nn


        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.mean = torch.tensor([0.5, 0.5])  # ImageNet-ish
        """,
    )
    line = '        self.register_buffer("mean", torch.tensor([0.5, 0.5]), persistent=False)  # ImageNet-ish\n'
    assert line in _fixed(path, "PI002")
    assert line.replace(", persistent=False", "") in _fixed(path, "PI002", persistent=True)


def test_noqa_lines_and_forward_assignments_are_never_rewritten():
    source = textwrap.dedent(
        """\
        import torch
        from torch import nn


        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.cache = torch.zeros(2)  # noqa: PI003 (a different code still counts as a noqa line)
                self.keep = torch.zeros(
                    2,  # noqa
                )

            def forward(self, x):
                self.last = torch.zeros(2)
                return x
        """
    )
    requests = [
        FixRequest("PI002", 8, "cache", "buffer"),
        FixRequest("PI002", 9, "keep", "buffer"),
        FixRequest("PI002", 14, "last", "buffer"),
        FixRequest("PI002", 3, "nothing", "buffer"),
    ]
    rewrite = rewrite_source(source, requests)
    assert rewrite.source == source and not rewrite.changed
    reasons = [o.reason for o in rewrite.outcomes]
    assert "noqa" in reasons[0] and "noqa" in reasons[1]
    assert "forward()" in reasons[2]
    assert reasons[3] == "no assignment to `nothing` starts on line 3"


def test_containers_that_cannot_be_wrapped_say_why():
    source = textwrap.dedent(
        """\
        from torch import nn


        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.by_id = {0: nn.Linear(2, 2)}
                self.a = self.b = [nn.Linear(2, 2)]
        """
    )
    outcomes = rewrite_source(
        source, [FixRequest("PI004", 7, "by_id", "module-dict"), FixRequest("PI004", 8, "a", "module-list")]
    ).outcomes
    assert "keys that are not strings" in outcomes[0].reason
    assert "several targets" in outcomes[1].reason


def test_a_list_of_plain_tensors_is_not_auto_fixable_and_says_why(tmp_path):
    path = _write(
        tmp_path,
        "anchors.py",
        """\
        import torch
        from torch import nn


        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.anchors = [torch.zeros(4), torch.ones(4)]
        """,
    )
    (finding,) = _findings(path, "PI003")
    assert finding.fix == "" and "buffers" in finding.no_fix
    plan = plan_fixes([check_model(f"{path}:Model")], root=tmp_path)
    assert plan.files == [] and [s.reason for s in plan.skipped] == [finding.no_fix]


def test_crlf_comments_and_the_rest_of_the_file_stay_byte_for_byte():
    source = (
        "import torch\r\nfrom torch import nn\r\n\r\n\r\nclass Model(nn.Module):\r\n"
        "    def __init__(self):\r\n        super().__init__()\r\n\r\n        # layers\r\n"
        "        self.layers = [nn.Linear(1, 1)]   # odd   spacing\r\n        x = {'a' :1}\r\n"
    )
    rewrite = rewrite_source(source, [FixRequest("PI004", 10, "layers", "module-list")])
    assert rewrite.source == source.replace("[nn.Linear(1, 1)]", "nn.ModuleList([nn.Linear(1, 1)])")


# --- the CLI: check --diff / --fix ------------------------------------------------------------

BUGGY = """\
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # two layers, kept in a list (the bug)
        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

        self.mean = torch.zeros(2)  # subtracted in forward
"""


@pytest.fixture
def project(cli, tmp_path, monkeypatch):
    """The CLI, run with tmp_path as the working directory."""
    monkeypatch.chdir(tmp_path)
    return cli


def test_diff_prints_a_unified_diff_changes_nothing_and_exits_1(project, tmp_path):
    path = _write(tmp_path, "net.py", BUGGY)
    result = project("check", "net.py:Model", "--diff")
    assert result.code == 1, result.err
    assert result.out.startswith("--- a/net.py\n+++ b/net.py\n@@ ")
    assert "-        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]\n" in result.out
    assert "+        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\n" in result.out
    assert '+        self.register_buffer("mean", torch.zeros(2), persistent=False)  # subtracted in forward\n' in (
        result.out
    )
    assert path.read_text() == BUGGY
    assert "would fix: net.py:9 PI004 layers -> nn.ModuleList" in result.err
    assert "the PI004 fixes change what state_dict() and parameters() hold" in result.err
    assert "PI002 buffers are non-persistent: state_dict() and existing checkpoints are unchanged" in result.err
    clean = _write(tmp_path, "clean.py", "from torch import nn\n\n\nclass Model(nn.Module):\n    pass\n")
    result = project("check", "clean.py:Model", "--diff")
    assert (result.code, result.out) == (0, "")
    assert clean.read_text().endswith("pass\n")


def test_text_report_marks_fixable_findings_and_names_state_changing_fixes(project, tmp_path):
    _write(tmp_path, "net.py", BUGGY)
    result = project("check", "net.py:Model")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[lines.index("PI004 [*] error layers") + 2] == " --> net.py:9:14"
    assert lines[lines.index("PI002 [*] warning mean") + 2] == "  --> net.py:11:14"
    fixable = lines.index(
        "[*] 2 findings fixable; the PI004 fixes change what state_dict() and parameters() hold. "
        "Fix them (--diff instead of --fix previews the changes):"
    )
    assert lines[fixable + 1] == "    paraminspect check --fix net.py:Model"  # the command, for this MODEL
    doc = __import__("json").loads(project("check", "net.py:Model", "--format", "json").out)
    assert sorted(f["fix"] for f in doc["findings"]) == ["buffer", "module-list"]


def test_fix_rewrites_rechecks_and_exits_as_check_on_the_fixed_code(project, tmp_path):
    path = _write(tmp_path, "net.py", BUGGY)
    result = project("check", "net.py:Model", "--fix")
    assert path.read_text() == BUGGY.replace(
        "[nn.Linear(2, 2), nn.Linear(2, 2)]", "nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])"
    ).replace("self.mean = torch.zeros(2)", 'self.register_buffer("mean", torch.zeros(2), persistent=False)')
    assert "fixed: net.py:9 PI004 layers -> nn.ModuleList" in result.err
    assert "fixed: net.py:11 PI002 mean -> register_buffer" in result.err
    assert "2 fixes applied" in result.err
    # the re-check built the rewritten file: what is left is about the new non-persistent buffer,
    # PI010 (info) and PI013 (warning: computed only in __init__, garbage after meta init), so 1
    assert result.code == 1, result.out + result.err
    assert "PI010" in result.out and "PI013" in result.out and "PI004" not in result.out


def test_fix_only_limits_the_rules_and_fix_persistent_saves_buffers(project, tmp_path):
    path = _write(tmp_path, "net.py", BUGGY)
    result = project("check", "net.py:Model", "--fix", "--fix-only", "PI002", "--fix-persistent")
    assert '        self.register_buffer("mean", torch.zeros(2))  # subtracted in forward\n' in path.read_text()
    assert "self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]" in path.read_text()
    assert result.code == 1 and "PI004" in result.out
    assert "PI002 buffers are registered persistent" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fix", "--diff"], "use one of them"),
        (["--fix-only", "PI004"], "--fix-only needs --fix or --diff"),
        (["--diff", "--fix-only", "PI005"], "--fix-only PI005: no rule it names has a fix"),
        (["--fix", "--fix-only", "PI999"], "unknown rule code"),
    ],
)
def test_fix_option_mistakes_are_usage_errors(project, tmp_path, args, message):
    path = _write(tmp_path, "net.py", BUGGY)
    result = project("check", "net.py:Model", *args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err
    assert path.read_text() == BUGGY


def test_a_fix_that_breaks_the_build_is_reverted_and_the_others_kept(project, tmp_path):
    source = textwrap.dedent(
        """\
        import torch
        from torch import nn


        class Model(nn.Module):
            mean = None  # a class attribute: register_buffer("mean", ...) refuses the name

            def __init__(self) -> None:
                super().__init__()
                self.mean = torch.zeros(2)
                self.std = torch.ones(2)
                self.layers = [nn.Linear(2, 2)]
        """
    )
    path = _write(tmp_path, "net.py", source)
    result = project("check", "net.py:Model", "--fix", "--fail-on", "error")
    text = path.read_text()
    assert "        self.mean = torch.zeros(2)\n" in text
    assert '        self.register_buffer("std", torch.ones(2), persistent=False)\n' in text
    assert "        self.layers = nn.ModuleList([nn.Linear(2, 2)])\n" in text
    (line,) = [x for x in result.err.splitlines() if x.startswith("reverted:")]
    assert line.startswith("reverted: net.py:10 PI002 mean: net.py:Model no longer builds with it: ")
    assert "already exists" in line
    assert "2 fixes applied, 1 reverted" in result.err
    assert result.code == 0 and "PI002" in result.out  # the reverted finding is reported again (a warning)
    assert "[*]" not in result.out  # and not offered as fixable again: --fix just failed on it


def test_models_outside_the_working_directory_and_in_site_packages_are_untouched(project, tmp_path, monkeypatch):
    outside = tmp_path / "lib" / "python3" / "site-packages"
    outside.mkdir(parents=True)
    library = _write(outside, "extlib.py", BUGGY)
    work = tmp_path / "work"
    venv = work / ".venv" / "lib" / "python3" / "site-packages"
    venv.mkdir(parents=True)
    vendored = _write(venv, "vendored.py", BUGGY)
    monkeypatch.chdir(work)
    result = project("check", f"{library}:Model", ".venv/lib/python3/site-packages/vendored.py:Model", "--fix")
    assert library.read_text() == BUGGY and vendored.read_text() == BUGGY
    assert result.err.count("its file is outside the working directory") == 2
    assert result.err.count("its file is an installed package (site-packages)") == 2
    assert "0 fixes applied" in result.err and result.code == 1


def test_config_models_worker_runs_and_one_writer_per_file(project, tmp_path):
    # two models built from one class: the one assignment is fixed once, not wrapped twice
    path = _write(
        tmp_path, "net.py", BUGGY + "\n\ndef small():\n    return Model()\n\n\ndef large():\n    return Model()\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.paraminspect]\nmodels = ["net.py:small", "net.py:large"]\nfix-persistent = true\n'
    )
    result = project("check", "--fix", "-j", "2")
    text = path.read_text()
    assert text.count("nn.ModuleList(") == 1 and "nn.ModuleList(nn.ModuleList" not in text
    assert '        self.register_buffer("mean", torch.zeros(2))  # subtracted in forward\n' in text
    assert "2 fixes applied" in result.err
    assert result.code == 0, result.out + result.err


def test_explain_prints_the_fix_and_its_examples(project):
    result = project("explain", "PI004")
    assert result.code == 0
    assert "Automatic fix (check --fix, preview with --diff): wrap a list or tuple of modules" in result.out
    assert "It changes what state_dict() and parameters() hold." in result.out
    assert "    +        self.heads = nn.ModuleDict(" in result.out
    assert "It does not change what state_dict()" in project("explain", "PI002").out
    assert "Automatic fix" not in project("explain", "PI005").out
