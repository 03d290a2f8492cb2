"""Bad input: exit code 2, exactly one `error:` line on stderr, no traceback (unless --debug).
Ctrl-C: exit 130, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_process, sample
from torch import nn

FIXTURES = ROOT / "tests" / "fixtures"


def fixture(name: str, attr: str) -> str:
    return f"{FIXTURES / name}.py:{attr}"


def assert_one_error_line(result, *expected: str) -> str:
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    (line,) = lines
    assert line.startswith("error: ")
    assert "Traceback" not in result.err and "Traceback" not in result.out
    for text in expected:
        assert text in line, line
    return line


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad_checkpoints")
    good = folder / "good.pt"
    torch.save(nn.Linear(3, 3).state_dict(), good)
    data = good.read_bytes()
    truncated = folder / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = folder / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint at all")
    from safetensors.torch import save_file

    st = folder / "good.safetensors"
    save_file(nn.Linear(8, 8).state_dict(), str(st))
    st_truncated = folder / "truncated.safetensors"
    st_truncated.write_bytes(st.read_bytes()[:-40])
    st_corrupt = folder / "corrupt.safetensors"
    st_corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    return {p.stem + p.suffix: p for p in folder.iterdir()}


BAD_INPUTS = {
    "timm typo": (["vit_bsae_patch16_224"], ["no timm model matches", "vit_base_patch16_224"]),
    "name matching nothing": (["zzqqxx_matches_nothing"], ["no timm model matches 'zzqqxx_matches_nothing'"]),
    "missing file": (["does/not/exist.py:build"], ["no such file: does/not/exist.py"]),
    "syntax error": ([fixture("broken_syntax", "build")], ["SyntaxError", "line 6"]),
    "missing attribute": ([sample("mlp", "no_such_factory")], ["has no attribute 'no_such_factory'"]),
    "module not importable": (["no_such_pkg_xyz.models:build"], ["cannot import", "no_such_pkg_xyz"]),
    "file whose import fails": (
        [fixture("raises_on_import", "build")],
        ["ModuleNotFoundError", "paraminspect_no_such_dependency"],
    ),
    "factory raises": ([fixture("bad_factories", "raises")], ["ValueError: hidden size must be even, got 7"]),
    "factory returns a dict": ([fixture("bad_factories", "returns_dict")], ["returned a dict, not an nn.Module"]),
    "factory returns None": ([fixture("bad_factories", "returns_none")], ["returned None"]),
    "not callable": ([fixture("bad_factories", "not_callable")], ["is an int, not an nn.Module"]),
    "class needs arguments": (
        [fixture("bad_factories", "NeedsArgs")],
        ["class NeedsArgs needs arguments width, depth", "-a width=VALUE -a depth=VALUE"],
    ),
    "factory needs arguments": (
        [fixture("bad_factories", "needs_args"), "-a", "width=4"],
        ["needs argument depth", "-a depth=VALUE"],
    ),
    "sys.exit in factory": ([fixture("bad_factories", "exits")], ["SystemExit", "sys.exit(3)"]),
    "SystemExit(0) in factory": ([fixture("bad_factories", "exits_zero")], ["SystemExit", "sys.exit(0)"]),
    "BaseException in factory": ([fixture("bad_factories", "base_exception")], ["CustomAbort: stop right there"]),
    "sys.exit at import": ([fixture("exits_on_import", "build")], ["cannot import", "SystemExit"]),
    "unknown format": ([sample("mlp"), "--format", "xml"], ["unknown --format 'xml'"]),
    "negative depth": ([sample("mlp"), "--depth", "-1"], ["--depth must be 0 or more"]),
    "unknown kind": ([sample("mlp"), "--kind", "weights"], ["unknown --kind 'weights'"]),
    "missing checkpoint": (["no/such/model.safetensors"], ["no such file: no/such/model.safetensors"]),
}


@pytest.mark.parametrize("args, expected", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line(cli, args, expected):
    assert_one_error_line(cli("show", *args), *expected)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("truncated.pt", ["truncated or corrupt checkpoint"]),
        ("corrupt.pt", ["not a PyTorch checkpoint"]),
        ("truncated.safetensors", ["truncated safetensors file"]),
        ("corrupt.safetensors", ["corrupt safetensors header"]),
    ],
)
def test_bad_checkpoint_is_one_error_line(cli, checkpoints, name, expected):
    line = assert_one_error_line(cli("show", str(checkpoints[name])), *expected)
    assert str(checkpoints[name]) in line


def test_good_checkpoints_next_to_the_bad_ones_load(cli, checkpoints):
    for name in ("good.pt", "good.safetensors"):
        assert cli("show", str(checkpoints[name]), "--format", "json").code == 0


def test_debug_shows_the_traceback(cli):
    result = cli("--debug", "show", fixture("bad_factories", "raises"))
    assert result.code == 2
    assert "Traceback" in result.err and "hidden size must be even" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: ")


def test_errors_in_a_real_process_have_no_traceback():
    result = run_process("show", fixture("exits_on_import", "build"))
    assert_one_error_line(result, "SystemExit")
    result = run_process("show", fixture("bad_factories", "exits"))
    assert_one_error_line(result, "sys.exit(3)")


def _interrupt(attr: str, tmp_path: Path) -> subprocess.CompletedProcess:
    marker = tmp_path / f"{attr}.started"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PARAMINSPECT_TEST_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paraminspect", "show", fixture("sleeper", attr)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the factory never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
@pytest.mark.parametrize("attr", ["build", "build_importing_timm"])
def test_ctrl_c_exits_130_without_traceback(tmp_path, attr):
    result = _interrupt(attr, tmp_path)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "interrupted" in result.stderr
    assert result.stdout == ""
