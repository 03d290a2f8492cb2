"""What a MODEL spec is: one table of forms, and `parse_spec`, which finds a spec's form once.

Every other module asks the Spec (`spec.form.cacheable`, `spec.in_cli(...)`, ...) instead of
looking at prefixes and suffixes itself. A form row says how it is recognised (a prefix, a
file suffix or a predicate), whose code loading it runs, whether it needs torch, whether it
is a library's registry that globs sweep, whether a cached run may answer for it, what the
fork server imports for it, and which function loads or lists it.

To add a form: one row in FORMS (in recognition order: the first row that matches wins) and
the module its `loader` (or `lister`) names. Imports only the standard library: the CLI
parses specs before it knows whether it will import torch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TIMM_PREFIX = "timm:"
# How the Hugging Face Hub names a timm model (`hf-hub:timm/resnet50.a1_in1k`, the repository
# `timm/resnet50.a1_in1k`): the timm name after it.
TIMM_HUB_ALIASES = ("hf-hub:timm/", "hf_hub:timm/", "timm/")
HF_PREFIX = "hf:"
TRANSFORMERS_PREFIX = "transformers:"
HF_CONFIG_NAME = "config.json"
GLOB_CHARS = frozenset("*?[")
_REGISTERED_NAME = re.compile(r"[A-Za-z0-9_.\-]+")

# Whose code loading a form runs (Form.runs_code).
NO_CODE = "none"
PICKLE_CODE = "the file's, with --trust-pickle"
LIBRARY_CODE = "an installed library's"
REMOTE_CODE = "transformers', and the checkpoint's own with --trust-remote-code"
USER_CODE = "the user's"


@dataclass(frozen=True)
class Form:
    """One way to name a MODEL.

    Recognised by `prefixes` (the spec starts with one), `suffixes` (a file name ending,
    any case) or `matches` (a predicate on the spec text); rows are tried in FORMS order.
    `loader` ("module:function", called with a loaders.loaded.LoadRequest) builds or lists
    the model; a checkpoint form names instead a `lister` ("module:function", called with
    the file's Path and trust_pickle, returning a loaders.checkpoints.stored.Listing) and its
    `listing` label (the `resolved` prefix, e.g. "safetensors:model.safetensors")."""

    name: str
    runs_code: str
    needs_torch: bool
    library_sweep: bool = False  # a library's registry: globs expand, models share worker processes
    cacheable: bool = True  # a cached run may answer (the result depends on imported sources only)
    preload: tuple[str, ...] = ()  # what the fork server imports for it, beyond torch
    loader: str = "paraminspect.loaders.checkpoints:load_listed"
    lister: str = ""  # checkpoint forms: the function that lists the file's tensors
    listing: str = ""  # checkpoint forms: the label of the listing
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    matches: Callable[[str], bool] | None = None
    folder: bool = False  # the spec names a folder (a checkpoint form: listed from its files)
    sort_names: bool = True  # checkpoint forms: list in natural name order (not the file's)
    expands: str = ""  # library forms: "module:function" turning a glob into specs (None: not a glob)
    help: str = ""  # how `--help` names it
    # Other spellings of a prefix (the Hub's own `hf-hub:timm/NAME`): recognised unless a
    # file or folder has that name, and left out of Spec.name like a prefix.
    aliases: tuple[str, ...] = ()

    @property
    def checkpoint(self) -> bool:
        """Listed from a file's (or folder's) tensors: nothing is built, nothing to lint."""
        return bool(self.lister)

    def recognises(self, text: str) -> bool:
        if self.prefixes and text.startswith(self.prefixes):
            return True
        if self.aliases and text.startswith(self.aliases):
            rest = text[len(next(a for a in self.aliases if text.startswith(a))) :]
            return _REGISTERED_NAME.fullmatch(rest) is not None and not os.path.lexists(text)
        if self.suffixes and text.lower().endswith(self.suffixes):
            # a `:` in a checkpoint's own file name (`run:3.pt`) does not make it a factory spec
            return ":" not in Path(text).name or os.path.lexists(text)
        return self.matches is not None and self.matches(text)


def split_target(spec: str) -> tuple[str, str] | None:
    """`left:attr` for factory specs; None for timm names. A Windows drive (`C:\\x.py:f`)
    is kept in the left part."""
    if spec.startswith(TIMM_PREFIX):
        return None
    left, sep, attr = spec.rpartition(":")
    if not sep or not left or len(left) == 1:
        return None
    return left, attr


def is_file_spec(left: str) -> bool:
    """The left part of `left:attr` names a file (path/to/file.py), not a module."""
    return left.endswith(".py") or "/" in left or os.sep in left


def is_hf_folder(spec: str) -> bool:
    """A folder holding a config.json (a save_pretrained folder, a downloaded snapshot)."""
    path = Path(spec).expanduser()
    try:
        return path.is_dir() and (path / HF_CONFIG_NAME).is_file()
    except OSError:  # a 5,000-character name: not a folder we can read
        return False


def _is_factory_file(spec: str) -> bool:
    target = split_target(spec)
    return target is not None and is_file_spec(target[0])


def _is_factory_module(spec: str) -> bool:
    return split_target(spec) is not None


def _is_dcp_folder(spec: str) -> bool:
    """A torch.distributed.checkpoint folder: it holds `.metadata` (or rank-local
    `__N.metadata` files) and no config.json (that would make it a Hugging Face folder)."""
    try:
        with os.scandir(os.path.expanduser(spec)) as entries:
            names = {entry.name for entry in entries}
    except OSError:  # not a folder, or not one we can read
        return False
    if HF_CONFIG_NAME in names:
        return False
    return ".metadata" in names or any(re.fullmatch(r"__\d+\.metadata", name) for name in names)


def _is_source_path(spec: str) -> bool:
    """A folder or a `.py` file without `:attr` (`check src/`: the module classes in it)."""
    return spec.endswith((".py", "/", os.sep)) or os.path.isdir(spec)


def _is_path_without_factory(spec: str) -> bool:
    """`some/file` with no `:attr` and no timm prefix: a path that names no model."""
    return ("/" in spec or os.sep in spec) and not spec.startswith(TIMM_PREFIX)


FORMS: tuple[Form, ...] = (
    Form(
        "safetensors",
        NO_CODE,
        needs_torch=False,
        cacheable=False,
        suffixes=(".safetensors",),
        lister="paraminspect.loaders.checkpoints.safetensors_header:safetensors_listing",
        listing="safetensors",
    ),
    Form(
        "torch-file",
        PICKLE_CODE,
        needs_torch=True,
        cacheable=False,
        suffixes=(".pt", ".pth", ".bin", ".ckpt"),
        lister="paraminspect.loaders.checkpoints.torchfile:list_torch_file",
        listing="torch",
        sort_names=False,  # a state_dict is in module order
    ),
    Form(
        "sharded-index",  # torch only for shards that are torch files; their code only when trusted
        PICKLE_CODE,
        needs_torch=False,
        cacheable=False,
        suffixes=(".index.json",),
        lister="paraminspect.loaders.checkpoints:list_index",
        listing="sharded",
        help="*.index.json",
    ),
    Form(
        "gguf",  # llama.cpp; the header only, with the gguf package's type table
        NO_CODE,
        needs_torch=False,
        cacheable=False,
        suffixes=(".gguf",),
        lister="paraminspect.loaders.checkpoints.gguf:gguf_listing",
        listing="gguf",
        sort_names=False,  # the file's own order (llama.cpp writes it block by block)
    ),
    Form(
        "dcp-folder",  # torch.distributed.checkpoint: `.metadata` through a restricted unpickler
        NO_CODE,
        needs_torch=False,
        cacheable=False,
        matches=_is_dcp_folder,
        folder=True,
        lister="paraminspect.loaders.checkpoints.dcp:dcp_listing",
        listing="dcp",
        sort_names=False,
        help="a torch.distributed.checkpoint folder",
    ),
    Form(  # a timm model as the Hugging Face Hub spells it: loaded from timm's registry, never fetched
        "timm-hub",
        LIBRARY_CODE,
        needs_torch=True,
        preload=("timm",),
        loader="paraminspect.loaders.timm:load_timm",
        aliases=TIMM_HUB_ALIASES,
    ),
    Form(
        "hf-hub",
        REMOTE_CODE,
        needs_torch=True,
        cacheable=False,
        preload=("transformers.modeling_utils",),
        loader="paraminspect.loaders.hf:load_hf",
        prefixes=(HF_PREFIX,),
        help=f"{HF_PREFIX}ORG/NAME",
    ),
    Form(
        "transformers",
        LIBRARY_CODE,
        needs_torch=True,
        library_sweep=True,
        preload=("transformers.modeling_utils",),
        loader="paraminspect.loaders.hf:load_hf",
        prefixes=(TRANSFORMERS_PREFIX,),
        expands="paraminspect.loaders.hf:expand_glob",
        help=f"{TRANSFORMERS_PREFIX}CLASS",
    ),
    Form(
        "hf-folder",
        REMOTE_CODE,
        needs_torch=True,
        cacheable=False,
        preload=("transformers.modeling_utils",),
        loader="paraminspect.loaders.hf:load_hf",
        matches=is_hf_folder,
        help="a Hugging Face folder",
    ),
    Form(
        "factory-file",
        USER_CODE,
        needs_torch=True,
        loader="paraminspect.loaders.factory:load_factory",
        matches=_is_factory_file,
        help="path/to/file.py:factory",
    ),
    Form(
        "factory-module",
        USER_CODE,
        needs_torch=True,
        loader="paraminspect.loaders.factory:load_factory",
        matches=_is_factory_module,
        help="pkg.module:factory",
    ),
    Form(  # `check src/`; `show src/` says to name a factory
        "source-path",
        USER_CODE,
        needs_torch=True,
        cacheable=False,  # new files or classes would go unseen
        loader="paraminspect.loaders.dispatch:load_path",
        matches=_is_source_path,
    ),
    Form(
        "path-without-factory",
        NO_CODE,
        needs_torch=True,
        cacheable=False,
        loader="paraminspect.loaders.dispatch:load_path",
        matches=_is_path_without_factory,
    ),
    Form(  # the rest: a timm name, whole or partial (the last row matches everything)
        "timm",
        LIBRARY_CODE,
        needs_torch=True,
        library_sweep=True,
        preload=("timm",),
        loader="paraminspect.loaders.timm:load_timm",
        prefixes=(TIMM_PREFIX,),
        matches=lambda text: True,
        expands="paraminspect.loaders.timm:expand_glob",
        help=f"timm name (resnet50, {TIMM_PREFIX}NAME, a partial name such as vit_base)",
    ),
)
BY_NAME = {form.name: form for form in FORMS}


@dataclass(frozen=True)
class Spec:
    """A MODEL as given (stripped) and its form."""

    text: str
    form: Form

    @property
    def is_glob(self) -> bool:
        return any(c in GLOB_CHARS for c in self.text)

    @property
    def name(self) -> str:
        """The text without the form's prefix (`timm:resnet50` -> `resnet50`)."""
        for prefix in (*self.form.prefixes, *self.form.aliases):
            if self.text.startswith(prefix):
                return self.text[len(prefix) :]
        return self.text

    @property
    def shared_worker(self) -> bool:
        """A library's registered model (a timm name, a transformers class): the library's
        code, not the user's, so a sweep checks such models one after another in shared
        worker processes (runner Task.reuse), each retired once a model leaves it changed."""
        if not self.form.library_sweep or not _REGISTERED_NAME.fullmatch(self.name):
            return False
        if self.name.lower().endswith(_CHECKPOINT_SUFFIXES):
            return False
        return self.name != self.text or not os.path.lexists(self.text)

    def in_cli(self, trust_pickle: bool = False) -> bool:
        """Listed in the CLI's own process: runs no code from anywhere and needs no torch."""
        runs = self.form.runs_code != NO_CODE and not (self.form.runs_code == PICKLE_CODE and not trust_pickle)
        return not self.form.needs_torch and not runs

    def input_files(self) -> list[str]:
        """The files this spec reads by path (a checkpoint, a factory's `.py` file): what
        `-o` must never overwrite. `pkg.mod:attr` is not looked up (that would import it)."""
        if self.form.checkpoint or self.text.lower().endswith(_CHECKPOINT_SUFFIXES):
            return [self.text]
        if self.form.name == "factory-file":
            return [self.text.rpartition(":")[0]]
        return []


_CHECKPOINT_SUFFIXES = tuple(s for form in FORMS if form.checkpoint for s in form.suffixes)


def parse_spec(text: str) -> Spec:
    """`text`'s Spec: the first form of FORMS that recognises it."""
    text = text.strip()
    return Spec(text, next(form for form in FORMS if form.recognises(text)))


def preload_for(specs: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What model processes import once, before the first model: torch, and what the specs'
    forms need (timm, transformers' model base: most of a transformers model's import)."""
    extra: dict[str, None] = {}
    for spec in specs:
        extra.update(dict.fromkeys(parse_spec(spec).form.preload))
    return ("torch", *extra)


def model_help(checkpoints: bool = False) -> str:
    """How `--help` names the MODEL forms (and, with `checkpoints`, the checkpoint files)."""
    order = ("timm", "factory-module", "factory-file", "hf-folder", "hf-hub", "transformers")
    names = [BY_NAME[name].help for name in order]
    text = f"{', '.join(names[:-1])} or {names[-1]}"
    if checkpoints:
        files = [form.help or ", ".join(form.suffixes) for form in FORMS if form.checkpoint and not form.folder]
        text += f", or a checkpoint file ({', '.join(files)})"
    return text
