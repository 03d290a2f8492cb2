"""Hugging Face models as MODEL: save_pretrained folders, hf:ORG/NAME from a local cache laid
out here, transformers:CLASS with -a overrides, --trust-remote-code, --weights, the message
without transformers, and --dtype memory arithmetic. Tiny configs, built on meta."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_process, sample

from paraminspect.commands.check_plan import expand_specs
from paraminspect.errors import UsageError

transformers = pytest.importorskip("transformers")

TINY_LLAMA = {
    "vocab_size": 128,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "bos_token_id": 0,
    "eos_token_id": 1,
}


def show_json(cli, *args: str) -> dict:
    result = cli("show", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def on_meta(cls, config):
    with torch.device("meta"):
        return cls._from_config(config)


def save_config(folder: Path, config, architecture: str) -> Path:
    config.architectures = [architecture]
    config.save_pretrained(folder)
    return folder


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def bert_folder(tmp_path):
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
    )
    return save_config(tmp_path / "bert", config, "BertModel"), config


@pytest.fixture
def gpt2_folder(tmp_path):
    """A GPT-2 with its head tied to the embedding, saved with its weights (safetensors)."""
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=100, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    folder = tmp_path / "gpt2"
    model.save_pretrained(folder)
    return folder, config


@pytest.fixture
def llama_folder(tmp_path):
    config = transformers.LlamaConfig(**TINY_LLAMA)
    return save_config(tmp_path / "llama", config, "LlamaForCausalLM"), config


# --- folders ------------------------------------------------------------------------------------


def test_bert_folder_builds_on_meta_with_the_config_architecture(cli, bert_folder):
    folder, config = bert_folder
    doc = show_json(cli, str(folder))
    assert doc["resolved"] == "transformers:BertModel"
    assert doc["build_device"] == "meta"
    reference = on_meta(transformers.BertModel, config)
    assert doc["totals"]["parameters"] == parameter_count(reference)
    rows = {t["name"]: t for t in doc["tensors"]}
    assert set(rows) == {n for n, _ in reference.named_parameters()} | {n for n, _ in reference.named_buffers()}
    position_ids = rows["embeddings.position_ids"]
    assert (position_ids["kind"], position_ids["persistent"], position_ids["dtype"]) == ("buffer", False, "int64")


def test_gpt2_tied_head_is_one_tensor_counted_once(cli, gpt2_folder):
    folder, config = gpt2_folder
    doc = show_json(cli, str(folder))
    reference = on_meta(transformers.GPT2LMHeadModel, config)
    assert reference.lm_head.weight is reference.transformer.wte.weight
    assert doc["totals"]["parameters"] == parameter_count(reference)
    tied = [t for t in doc["tensors"] if t["aliases"]]
    assert [(t["name"], t["aliases"]) for t in tied] == [("transformer.wte.weight", ["lm_head.weight"])]


def test_llama_folder_rotary_buffers_are_non_persistent_and_checks_clean(cli, llama_folder):
    folder, config = llama_folder
    doc = show_json(cli, str(folder))
    reference = on_meta(transformers.LlamaForCausalLM, config)
    assert doc["totals"]["parameters"] == parameter_count(reference)
    buffers = {t["name"]: t["persistent"] for t in doc["tensors"] if t["kind"] == "buffer"}
    assert buffers and "model.rotary_emb.inv_freq" in buffers and not any(buffers.values())
    assert doc["totals"]["buffers"] == sum(b.numel() for b in reference.buffers())
    result = cli("check", str(folder))
    assert result.code == 0, result.out + result.err


def test_folder_config_fields_are_overridden_with_args(cli, llama_folder):
    folder, _ = llama_folder
    doc = show_json(cli, str(folder), "-a", "num_hidden_layers=1")
    layers = {t["name"].split(".")[2] for t in doc["tensors"] if t["name"].startswith("model.layers.")}
    assert layers == {"0"}
    bad = cli("show", str(folder), "-a", "num_hiden_layers=1")
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "no field 'num_hiden_layers'" in bad.err and "num_hidden_layers" in bad.err


def test_vit_folder(cli, tmp_path):
    config = transformers.ViTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=8
    )
    folder = save_config(tmp_path / "vit", config, "ViTForImageClassification")
    doc = show_json(cli, str(folder))
    assert doc["resolved"] == "transformers:ViTForImageClassification"
    assert doc["totals"]["parameters"] == parameter_count(on_meta(transformers.ViTForImageClassification, config))
    shapes = {t["name"]: t["shape"] for t in doc["tensors"]}
    assert shapes["vit.embeddings.position_embeddings"] == [1, (32 // 8) ** 2 + 1, 32]


def test_folder_without_architectures_builds_the_base_model(cli, tmp_path):
    config = transformers.LlamaConfig(**TINY_LLAMA)
    config.save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw.pop("architectures", None)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert show_json(cli, str(tmp_path))["resolved"] == "transformers:LlamaModel"


def test_quantization_config_is_built_unquantized_with_a_note(cli, llama_folder):
    folder, config = llama_folder
    raw = json.loads((folder / "config.json").read_text())
    raw["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_8bit": True}
    (folder / "config.json").write_text(json.dumps(raw))
    result = cli("show", str(folder), "--format", "json")
    assert result.code == 0, result.err
    assert "quantization_config" in result.err
    doc = json.loads(result.out)
    assert doc["totals"]["parameters"] == parameter_count(on_meta(transformers.LlamaForCausalLM, config))


def test_corrupt_config_is_one_line(cli, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    result = cli("show", str(tmp_path))
    assert result.code == 2 and result.err.count("\n") == 1 and "not a JSON config" in result.err


# --- transformers:CLASS -------------------------------------------------------------------------


def test_class_spec_with_overrides(cli):
    doc = show_json(
        cli,
        "transformers:LlamaForCausalLM",
        *("-a", "num_hidden_layers=2", "-a", "hidden_size=64", "-a", "intermediate_size=128"),
        *("-a", "num_attention_heads=4", "-a", "vocab_size=256"),
    )
    config = transformers.LlamaConfig(
        num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4, vocab_size=256
    )
    assert doc["totals"]["parameters"] == parameter_count(on_meta(transformers.LlamaForCausalLM, config))
    shapes = {t["name"]: t["shape"] for t in doc["tensors"]}
    assert shapes["model.embed_tokens.weight"] == [256, 64]
    assert "model.layers.1.mlp.up_proj.weight" in shapes and "model.layers.2.mlp.up_proj.weight" not in shapes


def test_class_spec_default_config_is_the_full_size_model_on_meta(cli):
    doc = show_json(cli, "transformers:BertModel")
    assert doc["totals"]["parameters"] == parameter_count(on_meta(transformers.BertModel, transformers.BertConfig()))
    assert doc["build_device"] == "meta"


def test_unknown_class_and_not_a_model_class(cli):
    result = cli("show", "transformers:LlamaForCausalM")
    assert result.code == 2 and result.err.count("\n") == 1 and "LlamaForCausalLM" in result.err
    layer = cli("show", "transformers:BertLayer")
    assert layer.code == 2 and "not a transformers model class" in layer.err


def test_transformers_globs_expand_over_model_class_names():
    specs = expand_specs(["transformers:Llama*ForCausalLM"])
    assert "transformers:LlamaForCausalLM" in specs and "transformers:Llama4ForCausalLM" in specs
    assert all(s.startswith("transformers:Llama") and s.endswith("ForCausalLM") for s in specs)
    assert not any("PreTrainedModel" in s for s in expand_specs(["transformers:Bert*"]))
    with pytest.raises(UsageError, match="no transformers model class"):
        expand_specs(["transformers:NoSuch*Thing"])


def test_class_glob_runs_in_workers(cli):
    result = cli("check", "transformers:GPT2LMHead*", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["summary"] == {
        "models": 1,
        "failed": 0,
        "skipped": 0,
        "errors": 0,
        "warnings": 0,
        "infos": 1,
        "suppressed": 0,
    }
    assert [f["code"] for f in doc["findings"]] == ["PI008"]  # the tied head


# --- hf:ORG/NAME from the local cache -----------------------------------------------------------


def cache_repo(cache: Path, repo: str, config, refs: dict[str, str]) -> None:
    """The layout huggingface_hub writes: refs/NAME -> commit, snapshots/COMMIT/config.json."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    for ref, commit in refs.items():
        (repo_dir / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / ref).write_text(commit)
        config.save_pretrained(repo_dir / "snapshots" / commit)


def test_hub_spec_reads_the_local_cache(cli, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    small = transformers.LlamaConfig(**TINY_LLAMA, architectures=["LlamaForCausalLM"])
    cache_repo(cache, "org/tiny-llama", small, {"main": "a" * 40})
    one_layer = transformers.LlamaConfig(**{**TINY_LLAMA, "num_hidden_layers": 1}, architectures=["LlamaModel"])
    cache_repo(cache, "org/tiny-llama", one_layer, {"v1": "b" * 40})
    main = show_json(cli, "hf:org/tiny-llama")
    assert main["resolved"] == "transformers:LlamaForCausalLM"
    assert main["totals"]["parameters"] == parameter_count(on_meta(transformers.LlamaForCausalLM, small))
    for spec in ("hf:org/tiny-llama@v1", "hf:org/tiny-llama@" + "b" * 40):
        doc = show_json(cli, spec)
        assert doc["resolved"] == "transformers:LlamaModel"
        assert doc["totals"]["parameters"] == parameter_count(on_meta(transformers.LlamaModel, one_layer))


def test_hub_spec_missing_offline_names_the_cache_path(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = cli("show", "hf:org/absent")
    assert result.code == 2 and result.err.count("\n") == 1
    assert str(tmp_path / "home" / "hub" / "models--org--absent") in result.err
    assert "hf download org/absent config.json" in result.err
    bad = cli("show", "hf:not a repo")
    assert bad.code == 2 and "expected hf:ORG/NAME" in bad.err


# --- remote code --------------------------------------------------------------------------------

CUSTOM_CONFIG = """
from pathlib import Path
from transformers import PretrainedConfig
Path({marker!r}).write_text("ran")

class TinyCustomConfig(PretrainedConfig):
    model_type = "tiny-custom"

    def __init__(self, width=8, **kwargs):
        self.width = width
        super().__init__(**kwargs)
"""

CUSTOM_MODEL = """
from torch import nn
from transformers import PreTrainedModel
from .configuration_custom import TinyCustomConfig

class TinyCustomModel(PreTrainedModel):
    config_class = TinyCustomConfig

    def __init__(self, config):
        super().__init__(config)
        self.proj = nn.Linear(config.width, config.width)
        self.post_init()
"""


@pytest.fixture
def remote_code_folder(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    marker = tmp_path / "marker.txt"
    (folder / "configuration_custom.py").write_text(CUSTOM_CONFIG.format(marker=str(marker)))
    (folder / "modeling_custom.py").write_text(CUSTOM_MODEL)
    config = {
        "model_type": "tiny-custom",
        "width": 8,
        "architectures": ["TinyCustomModel"],
        "auto_map": {
            "AutoConfig": "configuration_custom.TinyCustomConfig",
            "AutoModel": "modeling_custom.TinyCustomModel",
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def test_remote_code_is_refused_without_the_flag(cli, remote_code_folder):
    folder, marker = remote_code_folder
    result = cli("show", str(folder))
    assert result.code == 2 and result.err.count("\n") == 1
    assert "--trust-remote-code" in result.err
    assert not marker.exists()


def test_remote_code_runs_with_the_flag(cli, remote_code_folder):
    folder, marker = remote_code_folder
    result = cli("show", str(folder), "--trust-remote-code", "--format", "json")  # the session's HF_HOME
    assert result.code == 0, result.err
    assert marker.exists()
    doc = json.loads(result.out)
    assert {t["name"]: t["shape"] for t in doc["tensors"]} == {"proj.weight": [8, 8], "proj.bias": [8]}


def test_diff_runs_remote_code_only_with_the_flag(remote_code_folder, tmp_path):
    """`diff` builds a Hugging Face folder like `show` does: its own modeling code needs
    --trust-remote-code there too, refused in one line without it, run with it."""
    import torch
    from safetensors.torch import save_file

    folder, marker = remote_code_folder
    weights = tmp_path / "weights.safetensors"
    save_file({"proj.weight": torch.zeros(8, 8), "proj.bias": torch.zeros(8)}, str(weights))
    env = {"HF_HOME": str(tmp_path / "home")}
    refused = run_process("diff", str(folder), str(weights), env=env)
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert "--trust-remote-code" in refused.err and not marker.exists()
    loaded = run_process("diff", str(folder), str(weights), "--trust-remote-code", "--format", "json", env=env)
    assert loaded.code == 0, loaded.err
    assert marker.exists() and json.loads(loaded.out)["loadable"] is True


# --- --weights ----------------------------------------------------------------------------------


def test_weights_lists_the_folder_safetensors_from_the_header(cli, gpt2_folder):
    folder, config = gpt2_folder
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as fh:
        stored = set(fh.keys())
    doc = show_json(cli, str(folder), "--weights")
    assert doc["build_device"] == "none"
    assert {t["name"] for t in doc["tensors"]} == stored
    assert {t["kind"] for t in doc["tensors"]} == {"stored"}
    assert "transformer.wte.weight" in stored and "lm_head.weight" not in stored  # saved once, tied
    model = on_meta(transformers.GPT2LMHeadModel, config)
    assert doc["totals"]["stored"] == parameter_count(model)


def test_weights_several_shards_without_index_and_errors(cli, tmp_path):
    from safetensors.torch import save_file

    save_file({"a.weight": torch.zeros(2, 3)}, str(tmp_path / "part-1.safetensors"))
    save_file({"b.weight": torch.zeros(4, dtype=torch.float16)}, str(tmp_path / "part-2.safetensors"))
    doc = show_json(cli, str(tmp_path), "--weights")
    assert {t["name"]: t["bytes"] for t in doc["tensors"]} == {"a.weight": 24, "b.weight": 8}
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in ([str(empty), "--weights"], ["transformers:BertModel", "--weights"]):
        result = cli("show", *args)
        assert result.code == 2 and result.err.count("\n") == 1, result.err


# --- without transformers -----------------------------------------------------------------------


def test_without_transformers_one_line_says_what_to_install(tmp_path):
    """A real interpreter whose path holds every installed package but transformers."""
    site_packages = Path(transformers.__file__).resolve().parent.parent
    hidden = tmp_path / "site"
    hidden.mkdir()
    for entry in site_packages.iterdir():
        if not entry.name.startswith("transformers"):
            (hidden / entry.name).symlink_to(entry)
    program = (
        "import site, sys; site.addsitedir(sys.argv.pop(1)); sys.path.insert(0, sys.argv.pop(1)); "
        "from paraminspect.cli import main; main(sys.argv[1:])"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", "-c", program, str(hidden), str(ROOT), *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        )  # fmt: skip

    for spec in ("transformers:BertModel", "hf:org/name"):
        proc = run("show", spec)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and 'pip install "paraminspect[hf]"' in proc.stderr
    assert run("show", sample("mlp")).returncode == 0


def test_other_models_import_nothing_of_transformers():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "paraminspect", "show", sample("mlp")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "torch" in imported and not {"transformers", "huggingface_hub"} & imported


# --- --dtype memory estimates -------------------------------------------------------------------


def test_dtype_recomputes_every_size(cli, bert_folder):
    folder, _ = bert_folder
    plain = show_json(cli, str(folder))
    as_bf16 = show_json(cli, str(folder), "--dtype", "bfloat16")
    for before, after in zip(plain["tensors"], as_bf16["tensors"], strict=True):
        if before["dtype"] == "float32":
            assert (after["dtype"], after["bytes"]) == ("bfloat16", before["numel"] * 2)
        else:  # int64 position and token type ids keep their size
            assert (after["dtype"], after["bytes"]) == (before["dtype"], before["bytes"])
    assert as_bf16["totals"]["bytes"] == sum(t["bytes"] for t in as_bf16["tensors"])
    memory = show_json(cli, str(folder), "--dtype", "int4,int8", "--dtype", "bf16")["totals"]["memory"]
    assert list(memory) == ["int4", "int8", "bfloat16"]
    assert memory["bfloat16"]["weights_bytes"] == as_bf16["totals"]["bytes"]
    int4 = sum(math.ceil(t["numel"] / 2) if t["dtype"] == "float32" else t["bytes"] for t in plain["tensors"])
    assert memory["int4"]["weights_bytes"] == int4
    bad = cli("show", str(folder), "--dtype", "fp8")
    assert bad.code == 2 and "unknown --dtype" in bad.err


def _accelerate_sizes(model) -> tuple[int, int]:
    """accelerate's estimate-memory arithmetic, written out: the float32 size of every
    parameter and buffer (tied ones once), and the largest layer: the biggest module in the
    model's _no_split_modules or without submodules, looked for from the root's children."""
    sizes: dict[str, int] = {}
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, t in tensors:
        parts = name.split(".")
        for level in range(len(parts)):
            key = ".".join(parts[:level])
            sizes[key] = sizes.get(key, 0) + t.numel() * 4
    no_split = set(model._no_split_modules or ())
    largest = 0
    todo = list(model.named_children())
    while todo:
        name, module = todo.pop(0)
        children = list(module.named_children())
        if not children or type(module).__name__ in no_split:
            largest = max(largest, sizes.get(name, 0))
        else:
            todo = [(f"{name}.{n}", m) for n, m in children] + todo
    return sizes[""], largest


def test_dtype_estimates_match_accelerates_published_formula(cli, gpt2_folder):
    """accelerate: total / bytes-modifier, largest layer likewise, training with Adam = 4 x
    total (1x weights, 1x gradients, 2x optimizer). Equal here: GPT-2 has no buffers and
    every parameter trains."""
    folder, config = gpt2_folder
    model = on_meta(transformers.GPT2LMHeadModel, config)
    assert not list(model.buffers())
    total, largest = _accelerate_sizes(model)
    memory = show_json(cli, str(folder), "--dtype", "float32,bfloat16,int8,int4")["totals"]["memory"]
    for dtype, modifier in (("float32", 1), ("bfloat16", 2), ("int8", 4), ("int4", 8)):
        estimate = memory[dtype]
        assert estimate["weights_bytes"] == total // modifier
        assert estimate["largest_layer"]["bytes"] == largest // modifier
        assert estimate["training_adam_bytes"] == 4 * total // modifier
    assert memory["float32"]["largest_layer"]["name"] == "transformer.wpe"  # 1,024 positions x 32


def test_dtype_training_counts_gradients_and_adam_states_for_trainable_parameters_only(cli, bert_folder):
    folder, config = bert_folder
    model = on_meta(transformers.BertModel, config)
    params = parameter_count(model) * 2
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())  # int64: kept as they are
    estimate = show_json(cli, str(folder), "--dtype", "float16")["totals"]["memory"]["float16"]
    assert estimate["weights_bytes"] == params + buffers
    assert estimate["trainable_bytes"] == params
    assert estimate["training_adam_bytes"] == params + buffers + 3 * params
    assert estimate["largest_layer"]["name"] == "embeddings"  # BertEmbeddings is kept whole


def test_dtype_footer_lines(cli, llama_folder):
    folder, _ = llama_folder
    result = cli("show", str(folder), "--dtype", "bfloat16,int4")
    assert result.code == 0, result.err
    lines = [line for line in result.out.splitlines() if line.startswith("As ")]
    assert [line.split(":")[0] for line in lines] == ["As bfloat16", "As int4"]
    assert "training with Adam" in lines[0] and "largest layer" in lines[0]
    assert "sizes as if loaded in bfloat16" in result.err


def test_diff_folder_against_its_own_weights(cli, gpt2_folder):
    folder, _ = gpt2_folder
    by_flag = cli("diff", str(folder), "--weights", "--format", "json")
    by_file = cli("diff", str(folder), str(folder / "model.safetensors"), "--format", "json")
    assert by_flag.code == by_file.code == 1, by_flag.err  # strict load_state_dict: the tied head is not in the file
    flag_doc, file_doc = json.loads(by_flag.out), json.loads(by_file.out)
    assert flag_doc["summary"] == file_doc["summary"] and "tied" in flag_doc["summary"]
    neither = cli("diff", str(folder))
    assert neither.code == 2 and "--weights" in neither.err


@pytest.mark.parametrize(
    ("saved", "loaded"),
    [
        ("LlamaModel", "LlamaForCausalLM"),  # a base model's checkpoint under a head: prefix added, head new
        ("BertForMaskedLM", "BertModel"),  # a head model's checkpoint into the base: prefix stripped, head unused
        ("GPT2LMHeadModel", "GPT2LMHeadModel"),  # its own weights: the tied head is filled by the tie
    ],
)
def test_diff_says_what_from_pretrained_would_report(cli, tmp_path, saved, loaded):
    """The from_pretrained lists of `diff FOLDER --weights`, against transformers' own
    output_loading_info for the same folder (tiny models, loaded for real on CPU)."""
    configs = {
        "Llama": transformers.LlamaConfig(**TINY_LLAMA),
        "Bert": transformers.BertConfig(
            vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
        ),
        "GPT2": transformers.GPT2Config(n_layer=1, n_embd=32, n_head=4, vocab_size=100, bos_token_id=0, eos_token_id=0),
    }
    config = next(c for family, c in configs.items() if saved.startswith(family))
    getattr(transformers, saved)(config).save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["architectures"] = [loaded]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    _, info = getattr(transformers, loaded).from_pretrained(str(tmp_path), output_loading_info=True)
    result = cli("diff", str(tmp_path), "--weights", "--format", "json")
    assert result.code in (0, 1), result.err
    view = json.loads(result.out)["from_pretrained"]
    assert view["model_class"] == loaded
    assert set(view["newly_initialized"]) == set(info["missing_keys"])
    assert set(view["not_used"]) == set(info["unexpected_keys"])
    assert view["newly_initialized"] or view["not_used"] or saved == loaded


SIZE_AS_TENSOR = """
import torch
from torch import nn


class Folded(nn.Module):
    def __init__(self):
        super().__init__()
        dims = torch.tensor([8, 4])
        self.proj = nn.Linear(dims[0], dims[1])


def build():
    return Folded()
"""


def test_a_size_passed_as_a_tensor_is_reported_where_the_torch_module_is_built(cli, tmp_path):
    """Found by the transformers sweep (InklingVisionEncoderLayer): nn.Linear(tensor, tensor)
    leaves 0-dim tensors in in_features/out_features. The fix is at the caller, not a buffer."""
    path = tmp_path / "folded.py"
    path.write_text(SIZE_AS_TENSOR)
    result = cli("check", f"{path}:build", "--format", "json")
    assert result.code == 1, result.err
    findings = [f for f in json.loads(result.out)["findings"] if f["code"] != "PI012"]  # nor on meta
    assert [(f["code"], f["attribute"], f["line"]) for f in findings] == [
        ("PI002", "in_features", 10),
        ("PI002", "out_features", 10),
    ]
    assert all("pass a Python number" in f["message"] and "register_buffer" not in f["message"] for f in findings)
    assert all(f["file"].endswith("folded.py") for f in findings)
