"""Hugging Face models as MODEL: a `save_pretrained` folder, `hf:ORG/NAME[@revision]` from the
local cache, and `transformers:CLASS` from its config class's defaults.

Models are built from their config on the meta device (no weights are read); `-a key=value`
overrides config fields. transformers is an optional dependency: nothing of it is imported
until one of these forms is loaded, and without it they fail with one line saying what to
install. Code shipped with a checkpoint (`auto_map` in config.json) runs only when the user
passes --trust-remote-code. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
import importlib.util
import inspect
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, UsageError, exception_line
from paraminspect.forms import HF_CONFIG_NAME as CONFIG_NAME
from paraminspect.forms import HF_PREFIX, TRANSFORMERS_PREFIX
from paraminspect.loaders.loaded import LoadedModel, LoadRequest

INSTALL_HINT = 'pip install "paraminspect[hf]"'
TRUST_REMOTE_CODE_FLAG = "--trust-remote-code"
# What `show FOLDER --weights` lists, first match wins (save_pretrained's file names).
WEIGHT_FILES = (
    "model.safetensors.index.json",
    "model.safetensors",
    "pytorch_model.bin.index.json",
    "pytorch_model.bin",
)
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_TRUE = {"1", "on", "yes", "true"}


def require_transformers(spec: str) -> Any:
    """The transformers package, or a LoadError saying how to install it."""
    if importlib.util.find_spec("transformers") is None:
        raise LoadError(f"{spec}: Hugging Face models need the transformers package: {INSTALL_HINT}")
    try:
        import transformers
    except ImportError as exc:
        raise LoadError(f"{spec}: transformers cannot be imported ({exc}): {INSTALL_HINT}") from exc
    return transformers


# --- the local Hugging Face cache --------------------------------------------------------------


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded repositories: HF_HUB_CACHE, else HF_HOME/hub,
    else $XDG_CACHE_HOME/huggingface/hub (huggingface_hub's own order)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def hub_offline() -> bool:
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def parse_hub_spec(spec: str) -> tuple[str, str]:
    """`hf:ORG/NAME[@revision]` -> (repo id, revision; "main" by default)."""
    body = spec[len(HF_PREFIX) :]
    repo, _, revision = body.partition("@")
    if not _REPO_ID.fullmatch(repo) or ".." in repo:
        raise UsageError(f"bad Hugging Face repository {spec!r}: expected hf:ORG/NAME or hf:ORG/NAME@REVISION")
    return repo, revision or "main"


def cached_snapshot(spec: str) -> Path:
    """The cached snapshot folder of `hf:ORG/NAME[@rev]` that holds config.json. Offline, a
    missing config is a LoadError naming the cache path; online, only config.json is fetched."""
    repo, revision = parse_hub_spec(spec)
    cache = hub_cache_dir()
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    commit: str | None = revision if _COMMIT.fullmatch(revision) else None
    looked = repo_dir / "refs" / revision
    if commit is None and looked.is_file():
        commit = looked.read_text(encoding="utf-8", errors="replace").strip()
    if commit is not None:
        looked = repo_dir / "snapshots" / commit / CONFIG_NAME
        if looked.is_file():
            return looked.parent
    where = looked if repo_dir.is_dir() else repo_dir
    fetch = f"`hf download {repo} {CONFIG_NAME}`" + (f" --revision {revision}" if revision != "main" else "")
    if not hub_offline():
        fetched, why = _fetch_config(repo, revision, cache)
        if fetched is not None:
            return fetched.parent
        raise LoadError(
            f"{spec}: {CONFIG_NAME} is not in the local Hugging Face cache (looked for {where}) and could not be "
            f"downloaded: {why}"
        )
    offline = next(n for n in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(n, "").lower() in _TRUE)
    raise LoadError(
        f"{spec}: {CONFIG_NAME} is not in the local Hugging Face cache (looked for {where}); {offline} is set, so "
        f"only the cache is read: fetch the config with {fetch}, unset {offline}, or set HF_HUB_CACHE/HF_HOME"
    )


def _fetch_config(repo: str, revision: str, cache: Path) -> tuple[Path | None, str]:
    """Online: download config.json alone (a few KB, never weights); (None, why) when that fails."""
    import logging

    from paraminspect.loaders.hub_errors import download_failure, unreachable

    try:
        from huggingface_hub import constants, hf_hub_download

        why = unreachable(constants.ENDPOINT)  # at once, not after huggingface_hub's retries
        if why:
            return None, why
        hub_log = logging.getLogger("huggingface_hub")
        level = hub_log.level
        hub_log.setLevel(logging.ERROR)  # its retry warnings: the one line says why it failed
        try:
            return Path(hf_hub_download(repo, CONFIG_NAME, revision=revision, cache_dir=str(cache))), ""
        finally:
            hub_log.setLevel(level)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        return None, download_failure(exc, repo, revision)


def fetch_configs(specs: Iterator[str] | list[str]) -> None:
    """In the CLI's process, before a model process (which has no network) reads them: the
    config.json of each `hf:` spec not yet in the cache, downloaded unless offline; a
    LoadError saying why when that fails. No user or model code runs here."""
    if importlib.util.find_spec("transformers") is None:
        return  # the model process says what to install first
    for spec in specs:
        if isinstance(spec, str) and spec.startswith(HF_PREFIX):
            cached_snapshot(spec)


def model_folder(spec: str) -> Path:
    """The folder a FOLDER or `hf:` spec names."""
    if spec.startswith(HF_PREFIX):
        return cached_snapshot(spec)
    return Path(spec).expanduser()


# --- class names --------------------------------------------------------------------------------


def model_class_names() -> list[str]:
    """Every model class transformers exports, from its lazy import table (nothing of the
    models is imported): the classes of its `models/*/modeling_*.py` files."""
    transformers = require_transformers("transformers:*")
    table = getattr(transformers, "_class_to_module", None)
    names: set[str] = set()
    if isinstance(table, dict):
        for name, where in table.items():
            if (
                isinstance(where, str)
                and where.startswith("models.")
                and not where.startswith("models.auto.")
                and where.rpartition(".")[2].startswith("modeling_")
                and name[:1].isupper()
            ):
                names.add(name)
    else:  # another layout of transformers' lazy module: the Auto classes' tables
        from transformers.models.auto import modeling_auto

        for attr in dir(modeling_auto):
            if attr.endswith("_MAPPING_NAMES"):
                for value in getattr(modeling_auto, attr).values():
                    names.update([value] if isinstance(value, str) else value)
    # Abstract bases, and the layers and tables modeling files export next to the models.
    skip = ("PreTrainedModel", "PretrainedModel", "Layer")
    return sorted(n for n in names if not n.endswith(skip) and not n.isupper())


def expand_glob(spec: str) -> list[str] | None:
    """`transformers:*ForCausalLM` -> one `transformers:NAME` spec per matching model class;
    None for other specs. A pattern that matches nothing is a UsageError."""
    if not spec.startswith(TRANSFORMERS_PREFIX):
        return None
    pattern = spec[len(TRANSFORMERS_PREFIX) :]
    if not any(c in pattern for c in "*?["):
        return None
    matches = [n for n in model_class_names() if fnmatch.fnmatchcase(n, pattern)]
    if not matches:
        raise UsageError(f"no transformers model class matches {spec!r}")
    return [TRANSFORMERS_PREFIX + n for n in matches]


# --- configs ------------------------------------------------------------------------------------


def _unknown_fields(config: Any, kwargs: dict[str, Any]) -> list[str]:
    known: set[str] = set(dir(config))
    if dataclasses.is_dataclass(config):
        known.update(f.name for f in dataclasses.fields(config))
    for cls in type(config).__mro__:
        with contextlib.suppress(TypeError, ValueError):
            known.update(inspect.signature(cls.__init__).parameters)
    return [k for k in kwargs if k not in known]


def _refuse_unknown(spec: str, config: Any, unknown: list[str]) -> None:
    if not unknown:
        return
    fields = [n for n in vars(config) if not n.startswith("_")]
    close = difflib.get_close_matches(unknown[0], fields, n=3, cutoff=0.6)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise UsageError(f"{spec}: {type(config).__name__} has no field {unknown[0]!r} (from -a){hint}")


def _class_config(spec: str, cls: Any, kwargs: dict[str, Any]) -> Any:
    config_class = getattr(cls, "config_class", None)
    if config_class is None:
        raise LoadError(f"{spec}: {cls.__name__} names no config class (config_class)")
    try:
        default = config_class()
    except Exception as exc:
        raise LoadError(
            f"{spec}: {config_class.__name__}() cannot be built from its defaults ({exception_line(exc)}); "
            "pass its fields with -a key=value"
        ) from exc
    if not kwargs:
        return default
    _refuse_unknown(spec, default, _unknown_fields(default, kwargs))
    try:
        return config_class(**kwargs)
    except Exception as exc:
        raise LoadError(f"{spec}: {config_class.__name__}(-a ...) refused the values: {exception_line(exc)}") from exc


def _read_config_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path}: not a JSON config ({exc})") from None
    except RecursionError:
        raise LoadError(f"{path}: not a model config (its JSON is nested too deep to read)") from None
    if not isinstance(data, dict):
        raise LoadError(f"{path}: not a model config (a JSON {type(data).__name__}, expected an object)")
    return data


def _remote_class_ref(auto_map: dict[str, Any], arch: str | None) -> str | None:
    """The auto_map key (`AutoModelForCausalLM`) whose code defines `arch`, else the likeliest."""
    keys = [k for k in auto_map if k.startswith("AutoModel")]
    for key in keys:
        ref = auto_map[key]
        ref = ref[0] if isinstance(ref, (list, tuple)) else ref
        if isinstance(ref, str) and arch and ref.rpartition(".")[2] == arch:
            return key
    for key in ("AutoModelForCausalLM", "AutoModel"):
        if key in auto_map:
            return key
    return keys[0] if keys else None


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers logs advice about configs while building (token ids outside a tiny
    vocabulary...): errors only, for the build, then the caller's level again."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _folder_builder(
    spec: str, folder: Path, kwargs: dict[str, Any], trust_remote_code: bool, notes: list[str]
) -> tuple[str, Callable[[], Any]]:
    """(what is built, a function that builds it) for a folder with config.json."""
    raw = _read_config_json(folder / CONFIG_NAME)
    transformers = require_transformers(spec)
    from transformers import CONFIG_MAPPING, AutoConfig

    from paraminspect.loaders.guard import no_network

    auto_map = raw.get("auto_map") if isinstance(raw.get("auto_map"), dict) else {}
    model_type = raw.get("model_type")
    known = isinstance(model_type, str) and model_type in CONFIG_MAPPING
    if auto_map and not trust_remote_code:
        if not known:
            ref = next(iter(auto_map.values()))
            raise LoadError(
                f"{spec}: config.json names the model's own code ({ref}); paraminspect runs code shipped "
                f"with a checkpoint only with {TRUST_REMOTE_CODE_FLAG}"
            )
        notes.append(
            f"config.json names its own code (auto_map); built transformers' {model_type} classes instead "
            f"(pass {TRUST_REMOTE_CODE_FLAG} to run the folder's code)"
        )
    remote = bool(auto_map) and trust_remote_code
    try:
        with no_network(), _quiet_transformers():
            config, unused = AutoConfig.from_pretrained(
                str(folder), trust_remote_code=remote, local_files_only=True, return_unused_kwargs=True, **kwargs
            )
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        why = "its values are nested too deep" if isinstance(exc, RecursionError) else exception_line(exc)
        raise LoadError(f"{spec}: cannot read {folder / CONFIG_NAME}: {why}") from exc
    _refuse_unknown(spec, config, [k for k in unused if k in kwargs])
    if getattr(config, "quantization_config", None):
        notes.append(
            "config.json has a quantization_config: built unquantized (as from_config builds it); "
            "the stored weights are listed by --weights"
        )
    archs = getattr(config, "architectures", None) or []
    arch = archs[0] if archs and isinstance(archs[0], str) else None
    if remote:
        key = _remote_class_ref(auto_map, arch)
        if key is not None:
            auto_class = getattr(transformers, key)
            return f"{arch or key} (the folder's own code)", lambda: auto_class.from_config(
                config, trust_remote_code=True
            )
    if arch is not None:
        cls = _library_class(transformers, arch)
        if cls is not None:
            return f"transformers class {arch}", lambda: cls._from_config(config)
        notes.append(f"architecture {arch!r} is not a transformers class: built the base model (AutoModel)")
    auto_model = transformers.AutoModel
    return "transformers AutoModel", lambda: auto_model.from_config(config)


def _library_class(transformers: Any, name: str) -> Any:
    table = getattr(transformers, "_class_to_module", None)
    if isinstance(table, dict) and name not in table:
        return None
    try:
        return getattr(transformers, name)
    except (AttributeError, ImportError):
        return None


def _class_builder(spec: str, kwargs: dict[str, Any], notes: list[str]) -> tuple[str, Callable[[], Any]]:
    name = spec[len(TRANSFORMERS_PREFIX) :].strip()
    if not name.isidentifier():
        raise UsageError(f"bad {spec!r}: expected transformers:CLASS, e.g. transformers:BertModel")
    transformers = require_transformers(spec)
    names = model_class_names()
    exported = getattr(transformers, "_class_to_module", None) or {}
    if name not in exported and name not in set(names):
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise LoadError(f"transformers has no model class {name!r}{hint}")
    try:
        cls = getattr(transformers, name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a missing optional backend (timm, torchvision, ...)
        raise LoadError(f"{spec}: importing {name} failed: {exception_line(exc)}") from exc
    from transformers import PreTrainedModel

    if not (isinstance(cls, type) and issubclass(cls, PreTrainedModel)):
        raise LoadError(f"{spec}: {name} is not a transformers model class (a PreTrainedModel subclass)")
    config = _class_config(spec, cls, kwargs)
    return f"transformers class {name}", lambda: cls._from_config(config)


# --- entry points -------------------------------------------------------------------------------


def load_hf(request: LoadRequest) -> LoadedModel:
    """Build a FOLDER, `hf:ORG/NAME[@rev]` or `transformers:CLASS` model from its config."""
    spec, kwargs, device = request.spec, request.kwargs, request.device
    trust_remote_code = request.trust_remote_code
    from paraminspect.loaders.build import build_on

    require_transformers(spec)  # before the cache: without it, nothing here can be built
    notes: list[str] = []
    if spec.startswith(TRANSFORMERS_PREFIX):
        what, build = _class_builder(spec, kwargs, notes)
    else:
        folder = model_folder(spec)
        if not (folder / CONFIG_NAME).is_file():
            raise LoadError(f"{spec}: no {CONFIG_NAME} in {folder}")
        what, build = _folder_builder(spec, folder, kwargs, trust_remote_code, notes)
    # Meta only unless --device says otherwise: no silent CPU fallback, since a default
    # config is often a full-size model (7B parameters: 28 GB of float32 on CPU).
    try:
        with _quiet_transformers():
            module, built_on = build_on(what, build, device or "meta", notes)
    except LoadError as exc:
        if device is not None:
            raise
        raise LoadError(f"{exc} (on the meta device; --device cpu builds it on CPU, allocating its weights)") from exc
    from torch import nn

    if not isinstance(module, nn.Module):
        raise LoadError(f"{what} built {type(module).__name__}, not an nn.Module")
    return LoadedModel(spec, f"transformers:{type(module).__name__}", module, built_on, "transformers", notes)


def load_hf_weights(spec: str, *, trust_pickle: bool = False) -> LoadedModel:
    """`show FOLDER --weights`: the folder's weight files listed from their headers (the
    safetensors index or file, several shards together, else pytorch_model.bin)."""
    if spec.startswith(TRANSFORMERS_PREFIX):
        raise UsageError(f"--weights lists a folder's weight files; {spec} is built from a config and has none")
    if not (spec.startswith(HF_PREFIX) or Path(spec).expanduser().is_dir()):
        raise UsageError(f"--weights needs a model folder or hf:ORG/NAME, not {spec!r}")
    from paraminspect.loaders.checkpoints import load_checkpoint

    folder = model_folder(spec)
    files = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
    shards = sorted(folder.glob("*.safetensors"))
    if files:
        listed = [load_checkpoint(str(files[0]), trust_pickle=trust_pickle)]
    elif shards:
        listed = [load_checkpoint(str(p)) for p in shards]
    else:
        raise LoadError(f"{spec}: no weight files in {folder} ({', '.join(WEIGHT_FILES[1::2])} or *.safetensors)")
    if len(listed) == 1:
        return dataclasses.replace(listed[0], spec=spec)
    from paraminspect.tensors.totals import inventory_from_records

    records = [r for loaded in listed for r in loaded.inventory.tensors]  # each file in name order
    inventory = inventory_from_records(records, root_type="safetensors checkpoint")
    notes = [f"{len(shards)} safetensors files in {folder}, no index: listed together"]
    return LoadedModel(spec, f"safetensors:{folder}", None, "none", "checkpoint", notes, inventory=inventory)
