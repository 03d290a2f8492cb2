"""diff's text report folds repeated layers (`model.layers.{0..31}.mlp.down_proj.weight  x32`,
tensors.collapse.fold) while its JSON keeps every name: a llama-shaped checkpoint (transformers'
LlamaForCausalLM, 32 layers of tiny width) against the model, with whole families of keys
missing, unexpected and mismatched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

LAYERS = 32
FACTORY = f"""
import transformers


def build():
    config = transformers.LlamaConfig(
        num_hidden_layers={LAYERS}, hidden_size=16, intermediate_size=32, num_attention_heads=2,
        num_key_value_heads=1, vocab_size=64, tie_word_embeddings=False,
    )
    return transformers.LlamaForCausalLM(config)
"""


def _llama(tmp_path: Path) -> tuple[str, dict]:
    (tmp_path / "llama.py").write_text(FACTORY)
    import importlib.util

    spec = importlib.util.spec_from_file_location("llama_factory", tmp_path / "llama.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return f"{tmp_path / 'llama.py'}:build", {k: v.clone() for k, v in module.build().state_dict().items()}


def _checkpoint(tmp_path: Path, state: dict) -> str:
    """The model's state_dict with every layer's down_proj dropped, an old per-layer rotary
    buffer added, and layer 5's q_proj another width."""
    state = {k: v for k, v in state.items() if ".mlp.down_proj." not in k}
    for i in range(LAYERS):
        state[f"model.layers.{i}.self_attn.rotary.cache"] = torch.zeros(4)
    state["model.layers.5.self_attn.q_proj.weight"] = torch.zeros(8, 16)
    path = tmp_path / "ckpt.safetensors"
    save_file(state, str(path))
    return str(path)


def test_repeated_layers_fold_in_text_and_stay_whole_in_json(cli, tmp_path):
    model, state = _llama(tmp_path)
    ckpt = _checkpoint(tmp_path, state)
    text = cli("diff", model, ckpt)
    assert text.code == 1, text.err
    lines = text.out.splitlines()
    assert "    model.layers.{0..31}.mlp.down_proj.weight  x32  (16, 32) float32" in lines
    assert "    model.layers.{0..31}.self_attn.rotary.cache  x32  (4,) float32" in lines
    mismatch = [line for line in lines if "model.layers.5.self_attn.q_proj.weight" in line]
    assert mismatch == ["    model.layers.5.self_attn.q_proj.weight  (8, 16) in the other side, (16, 16) in the target"]
    assert not any("model.layers.7." in line for line in lines)  # no layer is listed one by one

    doc = json.loads(cli("diff", model, ckpt, "--format", "json").out)
    assert sorted(e["name"] for e in doc["missing"]) == sorted(
        f"model.layers.{i}.mlp.down_proj.weight" for i in range(LAYERS)
    )
    assert len(doc["unexpected"]) == LAYERS and doc["unexplained"]["unexpected"][0].startswith("model.layers.")
    assert [e["name"] for e in doc["mismatched"]] == ["model.layers.5.self_attn.q_proj.weight"]


def test_a_layer_that_differs_splits_the_run(cli, tmp_path):
    model, state = _llama(tmp_path)
    state = {k: v for k, v in state.items() if ".mlp.down_proj." not in k}
    state["model.layers.5.mlp.down_proj.weight"] = torch.zeros(16, 32)  # only layer 5 keeps it
    ckpt = tmp_path / "partial.safetensors"
    save_file(state, str(ckpt))
    lines = cli("diff", model, str(ckpt)).out.splitlines()
    assert "    model.layers.{0..4}.mlp.down_proj.weight  x5  (16, 32) float32" in lines
    assert "    model.layers.{6..31}.mlp.down_proj.weight  x26  (16, 32) float32" in lines


def test_explanations_fold_their_names(cli):
    """Old code saved each block's rotary inv_freq: the non-persistent explanation's names fold."""
    pair = ("sample_models/diff_pair.py:after", "sample_models/diff_pair.py:before")
    why = cli("diff", *pair).out.split("Why", 1)[1].splitlines()
    assert "blocks.{0..3}.rotary.inv_freq x4" in [line.strip() for line in why]
    doc = json.loads(cli("diff", *pair, "--format", "json").out)
    (explained,) = [e for e in doc["explanations"] if e["kind"] == "non-persistent"]
    assert explained["names"] == [f"blocks.{i}.rotary.inv_freq" for i in range(4)]


def test_a_folded_run_is_one_part_of_a_name():
    from paraminspect.diffs.grouping import group_by_prefix
    from paraminspect.tensors.collapse import name_parts

    assert name_parts("model.layers.{0..31}.mlp.w") == ["model", "layers", "{0..31}", "mlp", "w"]
    names = [f"model.layers.{{0..31}}.{part}.weight" for part in ("q", "k", "v")] + ["model.norm.weight"]
    groups = group_by_prefix(names, max_lines=2)
    assert [(g.label, g.count) for g in groups] == [("model.layers.", 3), ("model.norm.weight", 1)]
