"""runner.spare: the model process forked when the CLI starts (real processes)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import run_process

from paraminspect.commands.startup import wants_spare

FACTORY = """
import os, sys
import torch

print("building", flush=True)


def build():
    with open(os.environ["PARAMINSPECT_TEST_REPORT"], "w") as fh:
        fh.write(f"{os.getppid()} {os.getcwd()} {os.environ.get('PARAMINSPECT_TEST_MARK')}")
    return torch.nn.Linear(3, 2)
"""


def _marked_processes(mark: str) -> list[int]:
    """Processes whose environment holds `mark` (this user's, read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"PARAMINSPECT_TEST_MARK={mark}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def _gone(mark: str, wait: float = 20.0) -> bool:
    deadline = time.monotonic() + wait
    while _marked_processes(mark):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not wants_spare(["show", "m.py:build"]), reason="spares are forked on Linux only")
def test_a_model_run_by_the_spare_is_the_same_run(tmp_path):
    """With or without the spare, the same output; the model still sees the CLI as its
    parent, the CLI's working directory and environment, and its output is still marked."""
    factory = tmp_path / "model.py"
    factory.write_text(FACTORY)
    outputs = []
    for no_spare in ("", "1"):
        report = tmp_path / f"report{no_spare}"
        env = {"PARAMINSPECT_TEST_REPORT": str(report), "PARAMINSPECT_TEST_MARK": f"run{no_spare}"}
        result = run_process(
            "show",
            f"{factory}:build",
            "-f",
            "json",
            "--no-cache",
            cwd=tmp_path,
            env={**env, "PARAMINSPECT_NO_SPARE": no_spare},
        )
        assert result.code == 0, result.err
        assert "model output: building" in result.err
        parent, cwd, mark = report.read_text().split()
        assert cwd == str(tmp_path) and mark == f"run{no_spare}"
        assert int(parent) > 0
        data = json.loads(result.out)
        outputs.append([(t["name"], t["shape"]) for t in data["tensors"]])
    assert outputs[0] == outputs[1] == [("weight", [2, 3]), ("bias", [2])]


@pytest.mark.parametrize(
    "args",
    [
        ("show", "model.py:build", "--depth", "-1"),  # a usage error before any model runs
        ("check", "missing.py:build"),  # the factory file is missing: the model process says so
        ("show", "model.py:build", "--format", "nope"),
    ],
)
def test_the_spare_never_outlives_the_command(tmp_path, args):
    (tmp_path / "model.py").write_text("import torch\ndef build():\n    return torch.nn.Linear(2, 2)\n")
    mark = f"spare-{os.getpid()}-{tmp_path.name}"
    result = run_process(*args, cwd=tmp_path, env={"PARAMINSPECT_TEST_MARK": mark})
    assert result.code == 2, result.err
    assert _gone(mark), f"left running: {_marked_processes(mark)}"


def test_spares_only_for_commands_that_run_one_model_here():
    if not wants_spare(["show", "m.py:build"]):
        pytest.skip("spares are forked on Linux only")
    assert wants_spare(["check", "resnet50", "--format", "json"])
    for argv in (
        ["rules"],
        ["show", "m.py:build", "--help"],
        ["check", "timm:resnet*"],
        ["show", "model.safetensors"],
        ["show", "shards/model.safetensors.index.json"],
        ["show", "folder", "--weights"],
        [],
    ):
        assert not wants_spare(argv), argv
