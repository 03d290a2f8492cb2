"""The package layout keeps its promises: public API names never collide with submodules,
and the pipeline's stages import one way (checked by ../shared/checks/layout.py in CI too)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap

from conftest import ROOT

import paraminspect


def test_api_functions_survive_importing_every_submodule() -> None:
    # A submodule named like an API function replaces that function on the package once it
    # is imported: calls made after any import would hit a module.
    code = textwrap.dedent(
        """
        import paraminspect
        from torch import nn
        model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        first = paraminspect.inventory(model).totals.parameters
        findings = paraminspect.check(model)
        again = paraminspect.inventory(model).totals.parameters
        print(first, len(findings), again)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["13", "0", "13"]


def test_no_public_name_is_also_a_submodule() -> None:
    submodules = {m.name for m in pkgutil.iter_modules(paraminspect.__path__)}
    for name in submodules:
        importlib.import_module(f"paraminspect.{name}")
    clashes = sorted(set(paraminspect.__all__) & submodules)
    assert clashes == []
    for name in paraminspect.__all__:
        assert not isinstance(getattr(paraminspect, name), type(paraminspect)), name


def test_layout_checker_finds_no_circle_and_no_oversized_module() -> None:
    checker = ROOT.parent / "shared" / "checks" / "layout.py"
    if not checker.exists():  # the shared checks travel beside the repository, not in it
        import pytest

        pytest.skip("../shared/checks/layout.py is not beside this checkout")
    proc = subprocess.run(
        [sys.executable, str(checker), "paraminspect"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stdout


def test_records_and_renderers_import_no_torch() -> None:
    # A parent process renders what a child built: records and renderers must not need torch.
    code = (
        "import sys, paraminspect.tensors.records, paraminspect.tensors.totals, paraminspect.render.table, "
        "paraminspect.render.json, paraminspect.render.text, paraminspect.forms; "
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
