"""Listings that need only file headers import no torch (checked with -X importtime)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _safetensors(path: Path, names: list[str]) -> None:
    header = {n: {"dtype": "F32", "shape": [4, 2], "data_offsets": [i * 32, (i + 1) * 32]} for i, n in enumerate(names)}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(32 * len(names)))


def _imports(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "paraminspect", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    return proc, [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line]


def test_show_of_a_safetensors_file_imports_no_torch(tmp_path: Path) -> None:
    _safetensors(tmp_path / "m.safetensors", ["enc.weight", "head.weight"])
    proc, imported = _imports("show", "m.safetensors", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [t["name"] for t in json.loads(proc.stdout)["tensors"]] == ["enc.weight", "head.weight"]
    assert "torch" not in imported


def test_show_of_a_sharded_safetensors_index_imports_no_torch(tmp_path: Path) -> None:
    _safetensors(tmp_path / "a.safetensors", ["l.0.w"])
    _safetensors(tmp_path / "b.safetensors", ["l.1.w"])
    index = {"weight_map": {"l.0.w": "a.safetensors", "l.1.w": "b.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    proc, imported = _imports("show", "model.safetensors.index.json", "-f", "csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "l.0.w" in proc.stdout and "l.1.w" in proc.stdout
    assert "torch" not in imported
