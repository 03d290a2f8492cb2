"""paraminspect diff: real checkpoints written by torch.save / safetensors from real modules,
diffed against the models they came from (or the next version of them)."""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_process
from safetensors.torch import save_file, save_model
from torch import nn

import paraminspect
from paraminspect.diffs import EXPLANATION_KINDS
from paraminspect.diffs.gather import gather
from tests.fixtures import diff_models as models

MODELS = "tests/fixtures/diff_models.py"


def spec(attr: str) -> str:
    return f"{MODELS}:{attr}"


def diff_json(cli, *args: str, code: int | None = None) -> dict:
    result = cli("diff", *args, "--format", "json")
    assert result.code in (0, 1), result.err
    if code is not None:
        assert result.code == code, result.out
    doc = json.loads(result.out)
    assert doc["loadable"] is (result.code == 0)
    return doc


def kinds(doc: dict) -> list[str]:
    return [e["kind"] for e in doc["explanations"]]


def explanation(doc: dict, kind: str) -> dict:
    found = [e for e in doc["explanations"] if e["kind"] == kind]
    assert len(found) == 1, doc["explanations"]
    return found[0]


def loads_after_mapping(model: nn.Module, state: dict, mapping: dict) -> None:
    """What the report tells users to run, run for real."""
    model.load_state_dict({mapping.get(k, k): v for k, v in state.items()})


# --- prefixes ----------------------------------------------------------------------------


def test_dataparallel_prefix_is_explained_and_the_mapping_fixes_it(cli, tmp_path):
    state = nn.DataParallel(models.Classifier()).state_dict()
    assert all(k.startswith("module.") for k in state)
    ckpt = tmp_path / "dp.pt"
    torch.save(state, ckpt)
    out = tmp_path / "mapping.json"
    doc = diff_json(cli, spec("Classifier"), str(ckpt), "--mapping", str(out), code=1)
    assert doc["schema_version"] == 1
    assert doc["verdict"] == "load_state_dict"
    assert len(doc["missing"]) == len(doc["unexpected"]) == len(state)
    assert doc["matched"] == [] and doc["mismatched"] == []
    prefix = explanation(doc, "prefix")
    assert "`module.`" in prefix["message"] and "DataParallel" in prefix["message"] and "strip" in prefix["message"]
    assert doc["unexplained"] == {"missing": [], "unexpected": [], "mismatched": []}
    mapping = json.loads(out.read_text())
    assert mapping == {k: k.removeprefix("module.") for k in state}
    loads_after_mapping(models.Classifier(), state, mapping)


def test_text_report_summary_first_and_the_two_lines_of_python(cli, tmp_path):
    state = {f"module.{k}": v for k, v in models.Classifier().state_dict().items()}
    ckpt = tmp_path / "dp.pt"
    torch.save(state, ckpt)
    result = cli("diff", spec("Classifier"), str(ckpt), "--mapping", str(tmp_path / "m.json"))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == (
        f"loads: no - all {len(state)} unexpected keys are the model's keys with a `module.` prefix "
        "(DataParallel/DistributedDataParallel): strip it: `{k.removeprefix('module.'): v for k, v in sd.items()}`"
    )
    assert f"    mapping = json.load(open({str(tmp_path / 'm.json')!r}))" in lines
    assert "    model.load_state_dict({mapping.get(k, k): v for k, v in state_dict.items()})" in lines
    assert "module.features.0.weight" not in result.out  # grouped, not listed


def test_compiled_prefix(cli, tmp_path):
    # torch.compile's OptimizedModule saves `_orig_mod.` + the names (compiling itself is slow)
    state = {f"_orig_mod.{k}": v for k, v in models.Classifier().state_dict().items()}
    ckpt = tmp_path / "compiled.safetensors"
    save_file(state, str(ckpt))
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=1)
    assert "torch.compile" in explanation(doc, "prefix")["message"]
    assert doc["mapping"] == {k: k.removeprefix("_orig_mod.") for k in state}


def test_wrapped_target_needs_the_prefix_added(cli, tmp_path):
    ckpt = tmp_path / "plain.pt"
    torch.save(models.Classifier().state_dict(), ckpt)
    wrapped = tmp_path / "wrapped.py"
    wrapped.write_text(
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from torch import nn\nfrom tests.fixtures.diff_models import Classifier\n"
        "def build():\n    return nn.DataParallel(Classifier())\n"
    )
    doc = diff_json(cli, f"{wrapped}:build", str(ckpt), code=1)
    message = explanation(doc, "prefix")["message"]
    assert "add it" in message and "`module.`" in message
    assert doc["mapping"]["head.weight"] == "module.head.weight"


def test_lightning_checkpoint(cli, tmp_path):
    class Lit(nn.Module):  # what a LightningModule holding `self.model` saves
        def __init__(self):
            super().__init__()
            self.model = models.Classifier()

    ckpt = tmp_path / "epoch=3.ckpt"
    torch.save({"state_dict": Lit().state_dict(), "epoch": 3, "global_step": 120}, ckpt)
    result = cli("diff", spec("Classifier"), str(ckpt), "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    message = explanation(doc, "prefix")["message"]
    assert "`model.`" in message and "Lightning" in message
    assert "state_dict" in result.err  # where the state_dict was found in the file
    loads_after_mapping(models.Classifier(), Lit().state_dict(), doc["mapping"])


# --- renames and parametrizations ------------------------------------------------------------


def test_renamed_submodule_between_two_model_versions(cli, tmp_path):
    doc = diff_json(cli, spec("WorldClassifier"), spec("MapClassifier"), code=1)
    assert doc["right"]["source"] == "model"
    rename = explanation(doc, "rename")
    assert "`map_classifier.*`" in rename["message"] and "`world_classifier.*`" in rename["message"]
    assert doc["mapping"] == {
        f"map_classifier.{k}": f"world_classifier.{k}"
        for k in ("0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias")
    }
    assert [m["name"] for m in doc["matched"]] == ["trunk.weight", "trunk.bias"]
    loads_after_mapping(models.WorldClassifier(), models.MapClassifier().state_dict(), doc["mapping"])


def test_old_spectral_norm_checkpoint_into_new_parametrization(cli, tmp_path):
    old = models.old_discriminator()
    ckpt = tmp_path / "disc.pt"
    torch.save(old.state_dict(), ckpt)
    doc = diff_json(cli, spec("new_discriminator"), str(ckpt), code=1)
    param = explanation(doc, "parametrization")
    assert "spectral_norm" in param["message"] and param["blocks"] is True
    assert doc["mapping"]["0.weight_orig"] == "0.parametrizations.weight.original"
    assert doc["mapping"]["2.weight_u"] == "2.parametrizations.weight.0._u"
    assert doc["unexplained"] == {"missing": [], "unexpected": [], "mismatched": []}
    loads_after_mapping(models.new_discriminator(), old.state_dict(), doc["mapping"])


def test_old_weight_norm_loads_because_torch_converts_it(cli, tmp_path):
    from torch.nn.utils import weight_norm

    with pytest.warns(FutureWarning):
        old = nn.Sequential(weight_norm(nn.Linear(4, 8)))
    ckpt = tmp_path / "wn.safetensors"
    save_file(old.state_dict(), str(ckpt))
    doc = diff_json(cli, spec("new_weight_norm"), str(ckpt), code=0)  # torch's own verdict
    param = explanation(doc, "parametrization")
    assert param["blocks"] is False and "converts" in param["message"]
    assert len(doc["missing"]) == 2  # the keys differ all the same


# --- registration kinds ------------------------------------------------------------------


def test_inv_freq_saved_persistent_by_older_code(cli, tmp_path):
    ckpt = tmp_path / "rotary.pt"
    torch.save(models.attention_blocks(persistent=True).state_dict(), ckpt)
    doc = diff_json(cli, spec("attention_blocks"), str(ckpt), code=1)
    np = explanation(doc, "non-persistent")
    assert sorted(np["names"]) == [f"{i}.rotary.inv_freq" for i in range(4)]
    assert "`inv_freq` (4 modules)" in np["message"]
    assert doc["missing"] == []


def test_tied_head_saved_once(cli, tmp_path):
    ckpt = tmp_path / "lm.safetensors"
    save_model(models.TiedLM(), str(ckpt))  # keeps one name of the tied pair
    doc = diff_json(cli, spec("TiedLM"), str(ckpt), code=1)
    tied = explanation(doc, "tied")
    assert tied["names"] == ["lm_head.weight"]
    assert "`embed.weight`" in tied["message"] and "strict=False" in tied["message"]
    assert doc["unexplained"]["missing"] == []


def test_plain_attribute_mask_that_the_checkpoint_has(cli, tmp_path):
    ckpt = tmp_path / "masked.pt"
    torch.save(models.MaskedBuffer().state_dict(), ckpt)
    doc = diff_json(cli, spec("Masked"), str(ckpt), code=1)
    plain = explanation(doc, "unregistered")
    assert plain["names"] == ["mask"] and "register_buffer" in plain["message"]


def test_running_stats_into_untracked_batchnorm(cli, tmp_path):
    ckpt = tmp_path / "tracked.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).state_dict(), ckpt)
    doc = diff_json(cli, spec("untracked"), str(ckpt), code=1)
    bn = explanation(doc, "batchnorm")
    assert sorted(bn["names"]) == ["1.num_batches_tracked", "1.running_mean", "1.running_var"]
    assert "track_running_stats=False" in bn["message"]


def test_missing_num_batches_tracked_is_filled_by_torch_without_version_metadata(cli, tmp_path):
    state = {k: v for k, v in models.Classifier().state_dict().items() if not k.endswith("num_batches_tracked")}
    ckpt = tmp_path / "old.safetensors"  # safetensors carries no _metadata
    save_file(state, str(ckpt))
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=0)
    assert [m["name"] for m in doc["missing"]] == ["features.1.num_batches_tracked"]
    bn = explanation(doc, "batchnorm")
    assert bn["blocks"] is False and "fills" in bn["message"]


def test_missing_num_batches_tracked_with_version_metadata_does_not_load(cli, tmp_path):
    state = models.Classifier().state_dict()
    del state["features.1.num_batches_tracked"]  # _metadata (BatchNorm version 2) stays
    ckpt = tmp_path / "stripped.pt"
    torch.save(state, ckpt)
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=1)
    assert explanation(doc, "batchnorm")["blocks"] is True
    with pytest.raises(RuntimeError, match="num_batches_tracked"):  # torch agrees, on real tensors
        models.Classifier().load_state_dict(torch.load(ckpt, weights_only=True))


# --- shapes and dtypes -------------------------------------------------------------------


def test_1000_class_head_into_10_class_model(cli, tmp_path):
    ckpt = tmp_path / "imagenet.pt"
    torch.save(models.Classifier(num_classes=1000).state_dict(), ckpt)
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=1)
    assert {m["name"]: (m["left_shape"], m["right_shape"]) for m in doc["mismatched"]} == {
        "head.weight": ([10, 8], [1000, 8]),
        "head.bias": ([10], [1000]),
    }
    shape = explanation(doc, "shape")
    assert sorted(shape["names"]) == ["head.bias", "head.weight"]
    assert "1,000 vs 10 classes" in shape["message"] and "num_classes=1000" in shape["message"]
    assert doc["unexplained"]["mismatched"] == []
    # the factory's arguments make it load
    assert diff_json(cli, spec("Classifier"), str(ckpt), "-a", "num_classes=1000", code=0)["mismatched"] == []


def test_half_precision_weights_load_with_a_dtype_note(cli, tmp_path):
    state = models.Classifier().half().state_dict()
    ckpt = tmp_path / "fp16.safetensors"
    save_file(state, str(ckpt))
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=0)
    dtype = explanation(doc, "dtype")
    assert dtype["blocks"] is False and "float16" in dtype["message"]
    weight = next(m for m in doc["matched"] if m["name"] == "head.weight")
    assert weight == {
        "name": "head.weight",
        "left_shape": [10, 8],
        "right_shape": [10, 8],
        "left_dtype": "float32",
        "right_dtype": "float16",
    }
    assert len(dtype["names"]) == len(state) - 1  # num_batches_tracked stays int64


# --- clean pairs, both-checkpoint diffs, errors -------------------------------------------------


def test_clean_pair(cli, tmp_path):
    ckpt = tmp_path / "clean.safetensors"
    save_file(models.Classifier().state_dict(), str(ckpt))
    result = cli("diff", spec("Classifier"), str(ckpt))
    assert result.code == 0
    assert result.out.splitlines()[0] == "loads: yes - all 9 keys match"
    doc = diff_json(cli, spec("Classifier"), str(ckpt), code=0)
    assert doc["explanations"] == [] and doc["mapping"] == {} and len(doc["matched"]) == 9


def test_two_checkpoints_and_a_sharded_index(cli, tmp_path):
    state = models.Classifier().state_dict()
    names = list(state)
    save_file({k: state[k] for k in names[:4]}, str(tmp_path / "a-1.safetensors"))
    save_file({k: state[k] for k in names[4:]}, str(tmp_path / "a-2.safetensors"))
    weight_map = {k: "a-1.safetensors" if i < 4 else "a-2.safetensors" for i, k in enumerate(names)}
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    dp = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, dp)
    doc = diff_json(cli, str(index), str(dp), code=1)
    assert doc["verdict"] == "keys" and doc["left"]["source"] == "checkpoint"
    assert "the target's keys" in explanation(doc, "prefix")["message"]
    assert diff_json(cli, str(index), str(index), code=0)["verdict"] == "keys"


def test_bad_input_is_one_line_and_exit_2(cli, tmp_path):
    result = cli("diff", spec("Classifier"), str(tmp_path / "absent.pt"))
    assert result.code == 2 and result.out == ""
    assert result.err.strip().splitlines() == [f"error: no such file: {tmp_path / 'absent.pt'}"]
    assert cli("diff", spec("Classifier"), spec("Classifier"), "--format", "yaml").code == 2


def test_exit_codes_in_a_real_process(tmp_path):
    state = models.Classifier(num_classes=1000).state_dict()
    ckpt = tmp_path / "c.safetensors"
    save_file(state, str(ckpt))
    assert run_process("diff", spec("Classifier"), str(ckpt)).code == 1
    assert run_process("diff", spec("Classifier"), str(ckpt), "-a", "num_classes=1000").code == 0


def test_header_only_diff_of_a_4gib_checkpoint(cli, tmp_path):
    """The tensor data is a hole in a sparse file: a diff that read it would get zeros after a
    4 GiB read; a header-only one never touches it."""
    header = json.dumps({"table.weight": {"dtype": "F32", "shape": [1 << 20, 1024], "data_offsets": [0, 4 << 30]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + (4 << 30))
    if os.stat(path).st_blocks * 512 > 1 << 20:
        pytest.skip("this filesystem does not keep sparse files")
    doc = diff_json(cli, spec("Big"), str(path), code=0)
    assert doc["matched"][0]["right_shape"] == [1 << 20, 1024]


# --- the Python API and the plain-data contract ----------------------------------------------------


def test_python_api_takes_modules_and_state_dicts_and_changes_neither():
    model = models.Classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = models.Classifier(num_classes=1000).state_dict()
    result = paraminspect.diff(model, state)
    assert result.loadable is False and [e.kind for e in result.explanations] == ["shape"]
    after = model.state_dict()
    assert all(after[k].device.type == "cpu" and torch.equal(after[k], v) for k, v in before.items())
    assert paraminspect.diff(model, model.state_dict()).loadable is True


def test_key_sets_are_plain_picklable_data():
    right = gather(spec("MapClassifier"))
    left = gather(spec("WorldClassifier"), against=right)
    copy = pickle.loads(pickle.dumps(left))
    assert copy == left and copy.verdict is not None and copy.verdict.loadable is False
    assert set(copy.verdict.unexpected) == {k for k in right.keys if k.startswith("map_classifier.")}
    assert copy.batchnorm == {} and copy.module_types["world_classifier.1"] == "LayerNorm"


def test_explanation_kinds_are_the_documented_ones():
    page = (ROOT / "docs" / "diff.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", page, flags=re.M))
    assert documented == set(EXPLANATION_KINDS)


def test_sample_pair_in_sample_models(cli):
    sample = Path(ROOT / "sample_models" / "diff_pair.py")
    assert sample.exists()
    result = cli("diff", f"{sample}:after", f"{sample}:before")
    assert result.code == 1
    assert "rename" in result.out and "non-persistent" in result.out


def test_position_embedding_for_another_image_size(cli):
    doc = diff_json(cli, "vit_tiny_patch16_224", "vit_tiny_patch16_384", code=1)
    assert [(m["name"], m["left_shape"], m["right_shape"]) for m in doc["mismatched"]] == [
        ("pos_embed", [1, 197, 192], [1, 577, 192])
    ]
    message = explanation(doc, "shape")["message"]
    assert "position embedding for 577 vs 197 positions" in message and "resample_abs_pos_embed" in message


def test_embedding_for_another_vocabulary_and_right_side_arguments(cli):
    doc = diff_json(cli, spec("TiedLM"), spec("TiedLM"), "--right-arg", "vocab=32", code=1)
    assert {m["name"] for m in doc["mismatched"]} == {"embed.weight", "lm_head.weight"}
    shape = explanation(doc, "shape")
    assert "vocabulary of 32 vs 16 tokens" in shape["message"]
    assert sorted(shape["names"]) == ["embed.weight", "lm_head.weight"]


def test_flat_module_trees_too_costly_for_torch_get_the_key_verdict(tmp_path, monkeypatch):
    from paraminspect.diffs import gather as gather_module

    monkeypatch.setattr(gather_module, "MAX_LOAD_COST", 10)
    ckpt = tmp_path / "clean.safetensors"
    save_file(models.Classifier().state_dict(), str(ckpt))
    # in this process (the CLI runs the diff in a child, where the patched limit does not reach)
    result = paraminspect.diff(spec("Classifier"), str(ckpt))
    assert result.loadable and result.verdict_by == "keys"
    assert any("key comparisons" in note for note in result.left.notes)


def test_names_from_a_file_are_made_printable(cli, tmp_path):
    ckpt = tmp_path / "odd.safetensors"
    save_file({"head.weight\x1b[2J": torch.zeros(2)}, str(ckpt))
    result = cli("diff", spec("Classifier"), str(ckpt))
    assert result.code == 1
    assert "\x1b" not in result.out and "head.weight\\x1b[2J" in result.out


def test_output_file(cli, tmp_path):
    ckpt = tmp_path / "clean.pt"
    torch.save(models.Classifier().state_dict(), ckpt)
    out = tmp_path / "report.json"
    result = cli("diff", spec("Classifier"), str(ckpt), "--format", "json", "-o", str(out))
    assert result.code == 0 and result.out == ""
    assert json.loads(out.read_text())["loadable"] is True


def test_two_safetensors_files_are_diffed_without_importing_torch(tmp_path):
    save_file({"a.weight": torch.zeros(2, 3), "b": torch.zeros(1)}, str(tmp_path / "x.safetensors"))
    save_file({"module.a.weight": torch.zeros(2, 3)}, str(tmp_path / "y.safetensors"))
    script = (
        "import sys\nfrom paraminspect.cli import main\n"
        "try:\n    main(['diff', 'x.safetensors', 'y.safetensors', '--format', 'json'])\n"
        "except SystemExit as exc:\n    sys.stderr.write(f'exit={exc.code} torch={\"torch\" in sys.modules}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.stderr.endswith("exit=1 torch=False"), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "keys" and doc["mapping"] == {"module.a.weight": "a.weight"}
    assert doc["unexplained"]["missing"] == ["b"]


def test_diff_runs_the_models_code_in_a_child_process(tmp_path):
    # What the factory prints never reaches stdout (the JSON stays valid), and a factory that
    # ends its process is a load error (exit 2), not a silent pass.
    (tmp_path / "loud.py").write_text(
        "import os, sys\nfrom torch import nn\n"
        "def build():\n    print('hello from the factory')\n    return nn.Linear(2, 2)\n"
        "def leave():\n    os._exit(0)\n"
    )
    loud = run_process("diff", "loud.py:build", "loud.py:build", "-f", "json", cwd=tmp_path)
    assert loud.code == 0 and json.loads(loud.out)["loadable"] is True
    assert "model output: hello from the factory" in loud.err
    gone = run_process("diff", "loud.py:leave", "loud.py:build", cwd=tmp_path)
    assert gone.code == 2 and "before returning a result" in gone.err
