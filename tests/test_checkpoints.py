"""Checkpoint files as MODEL: safetensors headers, sharded indexes, torch state_dicts, and
full unpickling only with --trust-pickle."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from paraminspect.loaders.checkpoints.safetensors_header import list_safetensors
from paraminspect.tensors.records import STORED


class Net(nn.Module):
    """Mixed dtypes, a buffer and an integer buffer: what real state_dicts hold."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(11))
        self.norm = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 3).to(torch.bfloat16)
        self.register_buffer("mask", torch.ones(2, 2, dtype=torch.bool))


def expected_rows(state: dict[str, torch.Tensor]) -> dict[str, tuple[list[int], str, int]]:
    return {
        name: (list(t.shape), str(t.dtype).removeprefix("torch."), t.numel() * t.element_size())
        for name, t in state.items()
    }


def json_rows(doc: dict) -> dict[str, tuple[list[int], str, int]]:
    return {t["name"]: (t["shape"], t["dtype"], t["bytes"]) for t in doc["tensors"]}


def show_json(cli, *args: str) -> dict:
    result = cli("show", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.fixture
def state() -> dict[str, torch.Tensor]:
    return Net().state_dict()


def test_safetensors_lists_names_dtypes_shapes_bytes(cli, tmp_path, state):
    path = tmp_path / "model.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    doc = show_json(cli, str(path))
    assert json_rows(doc) == expected_rows(state)
    assert {t["kind"] for t in doc["tensors"]} == {STORED}
    assert doc["totals"]["stored"] == sum(t.numel() for t in state.values())
    assert doc["totals"]["parameters"] == 0
    # natural order: blocks.2 before blocks.10
    names = [t["name"] for t in doc["tensors"]]
    assert names.index("blocks.2.weight") < names.index("blocks.10.weight")


def _write_safetensors_header(path: Path, header: dict, data_bytes: int) -> None:
    raw = json.dumps(header).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
    with open(path, "r+b") as fh:
        fh.truncate(8 + len(raw) + data_bytes)  # sparse: the data is never written, and never read


def test_safetensors_reads_only_the_header(tmp_path):
    # A 10 GB tensor in a sparse file: listing it needs only the header.
    shape = [50_000, 50_000]
    nbytes = math.prod(shape) * 4
    path = tmp_path / "huge.safetensors"
    _write_safetensors_header(path, {"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, nbytes]}}, nbytes)
    (entry,) = list_safetensors(path)
    assert (entry.name, entry.dtype, entry.shape, entry.nbytes) == ("w", "float32", (50_000, 50_000), nbytes)


def test_safetensors_header_inconsistent_with_dtype_is_corrupt(cli, tmp_path):
    path = tmp_path / "bad.safetensors"
    _write_safetensors_header(path, {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, 8)
    result = cli("show", str(path))
    assert result.code == 2 and "corrupt safetensors header" in result.err and "needs 16 bytes" in result.err


def test_safetensors_truncated_data(cli, tmp_path, state):
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    path.write_bytes(path.read_bytes()[:-1])
    result = cli("show", str(path))
    assert result.code == 2 and "truncated safetensors file" in result.err


def test_sharded_safetensors_index(cli, tmp_path, state):
    names = list(state)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(tmp_path / shard))
    index = tmp_path / "model.safetensors.index.json"
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    doc = show_json(cli, str(index))
    assert json_rows(doc) == expected_rows(state)
    assert any("2 shards" in note for note in doc["notes"])

    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    result = cli("show", str(index))
    assert result.code == 2 and "shard 'model-00002-of-00002.safetensors' is missing" in result.err


def test_sharded_torch_bin_index(cli, tmp_path, state):
    names = list(state)
    torch.save({k: state[k] for k in names[:3]}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({k: state[k] for k in names[3:]}, tmp_path / "pytorch_model-00002-of-00002.bin")
    weight_map = {k: f"pytorch_model-0000{1 if i < 3 else 2}-of-00002.bin" for i, k in enumerate(names)}
    index = tmp_path / "pytorch_model.bin.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    assert json_rows(show_json(cli, str(index))) == expected_rows(state)


def test_index_that_maps_a_tensor_to_the_wrong_shard(cli, tmp_path, state):
    save_file({"a": torch.zeros(2)}, str(tmp_path / "s1.safetensors"))
    index = tmp_path / "x.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}))
    result = cli("show", str(index))
    assert result.code == 2 and "does not hold 'b'" in result.err


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt"])
def test_torch_state_dict(cli, tmp_path, state, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save(state, path)
    doc = show_json(cli, str(path))
    assert json_rows(doc) == expected_rows(state)
    assert [t["name"] for t in doc["tensors"]] == list(state)  # the state_dict's own (module) order
    assert {t["device"] for t in doc["tensors"]} == {"cpu"}  # the device the file recorded
    assert doc["resolved"] == f"torch:{path}"


@pytest.mark.parametrize("key", ["state_dict", "model", "module", "model_state_dict"])
def test_state_dict_inside_a_training_checkpoint(cli, tmp_path, state, key):
    path = tmp_path / "train.pt"
    torch.save({key: state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 7}, path)
    doc = show_json(cli, str(path))
    assert json_rows(doc) == expected_rows(state)
    assert doc["resolved"].endswith(f"[{key!r}]")
    assert any("optimizer" in note and "epoch" in note for note in doc["notes"])


def test_tied_tensors_in_a_state_dict_are_one_record(cli, tmp_path):
    shared = torch.zeros(5, 3)
    path = tmp_path / "tied.pt"
    torch.save({"embed.weight": shared, "lm_head.weight": shared, "bias": torch.zeros(5)}, path)
    doc = show_json(cli, str(path))
    rows = {t["name"]: t for t in doc["tensors"]}
    assert rows["embed.weight"]["aliases"] == ["lm_head.weight"] and "lm_head.weight" not in rows
    assert doc["totals"]["stored"] == 15 + 5


def test_ddp_prefix_is_kept_and_explained(cli, tmp_path, state):
    path = tmp_path / "ddp.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    doc = show_json(cli, str(path))
    assert all(t["name"].startswith("module.") for t in doc["tensors"])
    assert any("'module.'" in note for note in doc["notes"])


def test_legacy_torch_format(cli, tmp_path, state):
    path = tmp_path / "legacy.pt"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert json_rows(show_json(cli, str(path))) == expected_rows(state)


def test_depth_view_of_a_checkpoint(cli, tmp_path, state):
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    doc = show_json(cli, str(path), "--depth", "1")
    rows = {m["path"]: m["parameters"] for m in doc["modules"]}
    assert rows[""] == sum(t.numel() for t in state.values())
    assert rows["blocks"] == sum(t.numel() for k, t in state.items() if k.startswith("blocks."))


class Tripwire:
    """Unpickling it creates a file: proves whether code from a checkpoint ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (str(self.marker),))


def _touch(path: str) -> None:
    Path(path).touch()


def test_pickle_needing_code_is_refused_without_trust_pickle(cli, tmp_path, state):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": state, "extra": Tripwire(marker)}, path)

    result = cli("show", str(path))
    assert result.code == 2 and not marker.exists()
    assert "--trust-pickle" in result.err and "_touch" in result.err
    assert len(result.err.strip().splitlines()) == 1

    doc = show_json(cli, str(path), "--trust-pickle")
    assert marker.exists()  # the user trusted it: the pickle ran
    assert json_rows(doc) == expected_rows(state)


def test_whole_module_pickle_with_trust_pickle(cli, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    assert cli("show", str(path)).code == 2
    doc = show_json(cli, str(path), "--trust-pickle")
    kinds = {t["name"]: t["kind"] for t in doc["tensors"]}
    assert {n for n, k in kinds.items() if k == "parameter"} == {n for n, _ in model.named_parameters()}
    assert {n for n, k in kinds.items() if k == "buffer"} == {n for n, _ in model.named_buffers()}


def test_torchscript_archive_needs_trust(cli, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(nn.Linear(2, 3))
        path = tmp_path / "scripted.pt"
        torch.jit.save(scripted, str(path))
    result = cli("show", str(path))
    assert result.code == 2 and "TorchScript" in result.err and "--trust-pickle" in result.err
    doc = show_json(cli, str(path), "--trust-pickle")
    assert {t["name"] for t in doc["tensors"]} == {"weight", "bias"}


def test_a_checkpoint_takes_no_factory_arguments(cli, tmp_path, state):
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    result = cli("show", str(path), "-a", "x=1")
    assert result.code == 2 and "takes no -a arguments" in result.err


def test_kind_filter_stored(cli, tmp_path, state):
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    doc = show_json(cli, str(path), "--kind", "stored")
    assert len(doc["tensors"]) == len(state)
