"""torch.distributed.checkpoint folders: real checkpoints written by `dcp.save` (in this process,
and by FSDP2 over two gloo ranks), listed from `.metadata` alone with a restricted unpickler
(paraminspect/loaders/checkpoints/dcp.py), checked against torch's own metadata reader."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp
from conftest import ROOT
from torch import nn

from paraminspect.errors import LoadError
from paraminspect.loaders.checkpoints.dcp import read_dcp
from paraminspect.loaders.dispatch import load


def _save(state: dict, folder: Path, **kwargs) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "torch.distributed is disabled ... assuming a single process"
        dcp.save(state, checkpoint_id=folder, **kwargs)
    return folder


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))


def _torch_metadata(folder: Path):
    return dcp.FileSystemReader(str(folder)).read_metadata()


def test_lists_names_shapes_dtypes_bytes_and_chunks_like_torchs_reader(tmp_path):
    model = _net()
    state = {
        **model.state_dict(),
        "rope.cache": torch.zeros(4, 2, dtype=torch.bfloat16),
        "step": 7,
        "extra": {"lr": 0.1},
    }
    folder = _save(state, tmp_path / "ckpt")
    info, tensors, notes = read_dcp(folder)
    tensor_state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    assert [t.name for t in tensors] == list(tensor_state)  # in state_dict order
    for t in tensors:
        real = tensor_state[t.name]
        assert (t.shape, t.dtype, t.nbytes) == (tuple(real.shape), str(real.dtype).removeprefix("torch."), real.nbytes)
    md = _torch_metadata(folder)  # torch's own reading of the same file
    for t in tensors:
        entry = md.state_dict_metadata[t.name]
        assert tuple(entry.size) == t.shape
        assert [(tuple(c.offsets), tuple(c.sizes)) for c in entry.chunks] == list(info.chunks[t.name])
    assert info.chunk_summary("3.weight", (10, 288)) == "1 chunk"
    assert set(info.objects) == {"step", "extra.lr"} and all(n and n > 0 for n in info.objects.values())
    distcp = [p.name for p in folder.iterdir() if p.suffix == ".distcp"]
    assert list(info.files) == distcp
    assert info.stored_bytes == sum(info.files.values()) <= sum((folder / f).stat().st_size for f in distcp)
    assert info.version == md.version and info.selected is None
    assert notes[0].startswith(f"torch.distributed.checkpoint {md.version}: {len(tensors)} tensors in 1 file (")
    assert "2 non-tensor entries (not listed): step, extra.lr" in notes


def test_a_dcp_folder_is_a_listed_checkpoint(tmp_path):
    model = _net()
    folder = _save(model.state_dict(), tmp_path / "ckpt")
    for spec in (str(folder), f"{folder}/"):
        loaded = load(spec)
        assert loaded.module is None and loaded.resolved == f"dcp:{spec}"
        records = {r.name: r for r in loaded.inventory.tensors}
        assert list(records) == list(model.state_dict())
        assert {r.kind for r in records.values()} == {"stored"}
        assert records["1.num_batches_tracked"].dtype == "int64" and records["1.num_batches_tracked"].shape == ()
        assert loaded.inventory.totals.stored == sum(t.numel() for t in model.state_dict().values())
        assert loaded.checkpoint_info.facts() == {"format": "dcp", "selected": None}


def test_a_state_dict_nested_under_model_is_the_one_listed(tmp_path):
    model = _net()
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    from torch.distributed.checkpoint.state_dict import get_state_dict

    msd, osd = get_state_dict(model, optimizer)
    folder = _save({"model": msd, "optim": osd, "step": 3}, tmp_path / "nested")
    info, tensors, notes = read_dcp(folder)
    assert [t.name for t in tensors] == list(msd) and info.selected == "model"
    optim_entries = sum(1 for k in _torch_metadata(folder).state_dict_metadata if k.startswith("optim."))
    assert info.others == {"optim": optim_entries}
    assert f"listing the state_dict under 'model' (the checkpoint also holds: optim ({optim_entries} entries))" in notes
    # torchtitan's layout: the model's tensors at the top level, the optimizer's nested
    folder = _save({**msd, "optimizer": osd}, tmp_path / "flat")
    info, tensors, notes = read_dcp(folder)
    assert [t.name for t in tensors] == list(msd) and info.selected is None and "optimizer" in info.others
    assert notes[1].startswith("listing the top-level tensors (the checkpoint also holds: optimizer (")


def test_metadata_from_torch_before_2_4_names_tensorproperties_elsewhere(tmp_path):
    """torch 2.1-2.3 pickled TensorProperties from torch.distributed._shard.sharded_tensor.metadata
    (with its MEM_FORMAT_ENCODING); that class still exists: the same metadata is re-pickled with it."""
    from torch.distributed._shard.sharded_tensor import metadata as old

    folder = _save(_net().state_dict(), tmp_path / "ckpt")
    expected = read_dcp(folder)[1]
    md = _torch_metadata(folder)
    for entry in md.state_dict_metadata.values():
        if hasattr(entry, "properties"):
            p = entry.properties
            entry.properties = old.TensorProperties(p.dtype, p.layout, p.requires_grad, p.memory_format, p.pin_memory)
    md.storage_meta = None
    raw = pickle.dumps(md)
    assert b"torch.distributed._shard.sharded_tensor.metadata" in raw and b"MEM_FORMAT_ENCODING" in raw
    (folder / ".metadata").write_bytes(raw)
    assert read_dcp(folder)[1] == expected


SHARDED_SAVE = """
import os, sys, warnings
warnings.simplefilter("ignore")
import torch, torch.distributed as dist, torch.multiprocessing as mp
import torch.distributed.checkpoint as dcp

def worker(rank, folder, port):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.checkpoint.state_dict import get_model_state_dict
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
    fully_shard(model, mesh=init_device_mesh("cpu", (2,)))
    state = get_model_state_dict(model)
    dcp.save(state, checkpoint_id=os.path.join(folder, "fsdp"))
    dcp.save(state, checkpoint_id=os.path.join(folder, "local"), use_collectives=False)
    dist.destroy_process_group()

if __name__ == "__main__":
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    mp.spawn(worker, args=(sys.argv[1], port), nprocs=2)
"""


def test_fsdp2_checkpoint_sharded_over_two_ranks(tmp_path):
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("this torch has no gloo backend")
    script = tmp_path / "save.py"
    script.write_text(textwrap.dedent(SHARDED_SAVE))
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "fsdp"
    assert sorted(p.name for p in folder.iterdir()) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    info, tensors, notes = read_dcp(folder)
    shapes = {t.name: t.shape for t in tensors}
    assert shapes == {
        "0.weight": (8, 6),
        "0.bias": (8,),
        "1.weight": (8,),
        "1.bias": (8,),
        "2.weight": (3, 8),
        "2.bias": (3,),
    }
    assert info.chunks["0.weight"] == (((0, 0), (4, 6)), ((4, 0), (4, 6)))  # FSDP2 shards dim 0
    assert info.chunk_summary("0.weight", (8, 6)) == "2 chunks along dim 0 (4 each)"
    assert info.chunk_summary("2.weight", (3, 8)) == "2 chunks along dim 0 (uneven)"  # 2 rows + 1
    assert set(info.files) == {"__0_0.distcp", "__1_0.distcp"}
    md = _torch_metadata(folder)
    for t in tensors:
        assert [(tuple(c.offsets), tuple(c.sizes)) for c in md.state_dict_metadata[t.name].chunks] == list(
            info.chunks[t.name]
        )
    assert notes[0].endswith("6 sharded (up to 2 chunks each)")
    # saved without collectives: one metadata file per rank, merged into the same listing
    local = tmp_path / "local"
    assert {p.name for p in local.iterdir()} >= {"__0.metadata", "__1.metadata"}
    local_info, local_tensors, local_notes = read_dcp(local)
    assert local_tensors == tensors and local_info.chunks == info.chunks
    assert "2 rank-local metadata files (saved without collectives), merged" in local_notes


# --- hostile, corrupt and incomplete checkpoints ------------------------------------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _folder_with_metadata(tmp_path: Path, raw: bytes) -> Path:
    folder = tmp_path / "ckpt"
    folder.mkdir(exist_ok=True)
    (folder / ".metadata").write_bytes(raw)
    return folder


def _one_line(folder: Path) -> str:
    with pytest.raises(LoadError) as caught:
        load(str(folder))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def test_a_reduce_payload_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    folder = _folder_with_metadata(tmp_path, pickle.dumps(_Payload(marker)))
    message = _one_line(folder)
    assert message == (
        f"{folder / '.metadata'}: refused to read (it refers to {os.system.__module__}.system, which is not "
        "checkpoint metadata); nothing in it was run"
    )
    assert not marker.exists()
    # hidden inside real metadata: an entry whose chunk list carries the payload
    real = _save({"w": torch.zeros(2)}, tmp_path / "real")
    md = _torch_metadata(real)
    md.state_dict_metadata["w"].chunks.append(_Payload(marker))
    (real / ".metadata").write_bytes(pickle.dumps(md))
    assert "refused to read (it refers to" in _one_line(real) and not marker.exists()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "empty file, not checkpoint metadata"),
        (pickle.dumps({"w": [1, 2]}), "not torch.distributed.checkpoint metadata (it holds dict)"),
        (pickle.dumps(eval), "refused to read (it refers to builtins.eval"),
        (b"\x80\x04\x8d" + (2**60).to_bytes(8, "little") + b"abc", "corrupt checkpoint metadata"),  # 2**60-byte str
        (b"\x80\x04\x8e" + (2**60).to_bytes(8, "little") + b"abc", "corrupt checkpoint metadata"),  # 2**60 bytes
        (b"\x80\x04(" * 100_000, "corrupt checkpoint metadata"),
        (b"PK\x03\x04" + bytes(40), "corrupt checkpoint metadata"),
        (b"\x80\x02ctorch\nSize\n(I-1\ntR.", "refused to read (a torch.Size of something other than sizes)"),
        (b"\x80\x02ctorch\nfloat32\nN}X\x04\x00\x00\x00namecbuiltins\nlist\ns\x86b.", "refused to read ("),
        (b"\x80\x02ctorch\nfloat32\n(X\x04\x00\x00\x00evilX\x01\x00\x00\x00xtb.", "refused to read (it changes"),
    ],
)
def test_corrupt_metadata_is_one_line(tmp_path, raw, expected):
    assert expected in _one_line(_folder_with_metadata(tmp_path, raw))


def test_a_pickle_cannot_change_the_stand_in_classes(tmp_path):
    """BUILD on an allowed class (`get` set to None on Metadata) would patch it for every later
    load in this process: refused, and the next checkpoint still lists."""
    raw = b"\x80\x02ctorch.distributed.checkpoint.metadata\nMetadata\nN}X\x03\x00\x00\x00getNs\x86b."
    assert "corrupt checkpoint metadata (" in _one_line(_folder_with_metadata(tmp_path, raw))
    folder = _save(_net().state_dict(), tmp_path / "real")
    assert [t.name for t in read_dcp(folder)[1]] == list(_net().state_dict())


def test_state_cannot_shadow_the_readers_methods_and_odd_values_are_refused(tmp_path):
    # a Metadata whose pickled state has a key "get": it stays a field, the reader still works
    raw = (
        b"\x80\x02ctorch.distributed.checkpoint.metadata\nMetadata\n)\x81}(X\x03\x00\x00\x00getN"
        b"X\x13\x00\x00\x00state_dict_metadata}ub."
    )
    folder = _folder_with_metadata(tmp_path, raw)
    assert _one_line(folder) == f"{folder}: the checkpoint holds no tensors"
    # real metadata whose chunk offsets are strings, not sizes
    real = _save({"w": torch.zeros(2, 3)}, tmp_path / "real")
    md = _torch_metadata(real)
    md.state_dict_metadata["w"].chunks[0].offsets = ("0", "0")
    (real / ".metadata").write_bytes(pickle.dumps(md))
    assert _one_line(real).endswith("not torch.distributed.checkpoint metadata (tensor 'w' has a malformed chunk)")


def test_a_torch_save_file_is_not_metadata(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)  # starts with a magic number
    folder = _folder_with_metadata(tmp_path, path.read_bytes())
    assert _one_line(folder).endswith(": not torch.distributed.checkpoint metadata (it holds int)")

    class WithStorage(pickle.Pickler):  # what a torch.save pickle does with every storage
        def persistent_id(self, obj):
            return ("storage", "0") if isinstance(obj, bytes) else None

    path = tmp_path / "persistent.pkl"
    with open(path, "wb") as fh:
        WithStorage(fh).dump({"w": b"data"})
    folder = _folder_with_metadata(tmp_path, path.read_bytes())
    assert "refused to read (it holds a persistent reference" in _one_line(folder)


def test_truncated_metadata(tmp_path):
    folder = _save(_net().state_dict(), tmp_path / "ckpt")
    raw = (folder / ".metadata").read_bytes()
    (folder / ".metadata").write_bytes(raw[: len(raw) // 2])
    assert "corrupt checkpoint metadata (" in _one_line(folder)


def test_missing_truncated_and_escaping_data_files(tmp_path):
    folder = _save(_net().state_dict(), tmp_path / "ckpt")
    data = folder / "__0_0.distcp"
    raw = data.read_bytes()
    data.write_bytes(raw[:100])
    assert _one_line(folder) == (
        f"{folder}: truncated checkpoint (__0_0.distcp holds 100 bytes, the metadata needs {len(raw):,})"
    )
    data.unlink()
    assert _one_line(folder) == f"{folder}: data file '__0_0.distcp', which the metadata names, is missing"
    data.write_bytes(raw)
    md = _torch_metadata(folder)
    for where in md.storage_data.values():
        where.relative_path = "../outside.distcp"
    (tmp_path / "outside.distcp").write_bytes(raw)
    (folder / ".metadata").write_bytes(pickle.dumps(md))
    assert _one_line(folder) == f"{folder}: data file '../outside.distcp' lies outside the checkpoint folder: refused"


def test_not_a_checkpoint_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert (
        _read_error(tmp_path / "empty")
        == f"{tmp_path / 'empty'}: no .metadata file: not a torch.distributed.checkpoint folder"
    )
    with pytest.raises(LoadError, match="absent"):  # not a DCP folder: a path that names no model
        load(str(tmp_path / "absent"))
    # as MODEL, a folder without .metadata is no DCP folder: the error says what a MODEL can be
    with pytest.raises(LoadError, match=r"or a torch.distributed.checkpoint folder \(with .metadata\)"):
        load(str(tmp_path / "empty"))


def _read_error(folder: Path) -> str:
    with pytest.raises(LoadError) as caught:
        read_dcp(folder)
    return str(caught.value)


def test_listing_imports_no_torch(tmp_path):
    folder = _save(_net().state_dict(), tmp_path / "ckpt")
    script = (
        "import sys\n"
        "from paraminspect.loaders.dispatch import load\n"
        "loaded = load(sys.argv[1])\n"
        "print(len(loaded.inventory.tensors), 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(len(_net().state_dict())), "False"]


# --- diff against a DCP folder ------------------------------------------------------------------


def _dcp_side(folder: Path):
    from paraminspect.diffs.gather import keyset_from_loaded

    return keyset_from_loaded(load(str(folder)))


def test_diff_a_model_against_its_dcp_checkpoint(tmp_path):
    from paraminspect.diffs import diff_sides

    folder = _save({"model": _net().state_dict(), "step": 1}, tmp_path / "ckpt")
    diff = diff_sides(_net(), _dcp_side(folder))
    assert diff.loadable and diff.verdict_by == "load_state_dict"
    assert diff.summary == f"loads: yes - all {len(_net().state_dict())} keys match"


def test_diff_explains_a_dcp_checkpoint_saved_from_a_wrapped_model(tmp_path):
    from paraminspect.diffs import diff_sides

    wrapped = nn.DataParallel(torch.compile(_net()))  # DDP(compile(model)): `module._orig_mod.`
    folder = _save(wrapped.state_dict(), tmp_path / "ckpt")
    diff = diff_sides(_net(), _dcp_side(folder))
    assert not diff.loadable
    (prefix,) = diff.explanations
    assert prefix.kind == "prefix"
    assert prefix.message.endswith(
        "with a `module._orig_mod.` prefix (DataParallel/DistributedDataParallel around torch.compile): strip it: "
        "`{k.removeprefix('module._orig_mod.'): v for k, v in sd.items()}`"
    )
