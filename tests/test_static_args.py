"""Arguments found, not configured (issue 26, item 2): the args table, config classes with
defaults, and constructor calls in tests/, examples/, docs/, the README and `__main__`
blocks, each extracted as a self-contained snippet. A fixture project on disk; snippets are
executed in a subprocess and must build real nn.Modules."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from paraminspect.config import load_config
from paraminspect.errors import UsageError
from paraminspect.static import scan
from paraminspect.static.args import find_arguments, way_out
from paraminspect.static.args.places import python_blocks

MODELS = """
import torch
from torch import nn

from .config import ModelConfig


class Tabled(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.lin = nn.Linear(dim, dim)


class Inner(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n)


class Snippet(nn.Module):
    def __init__(self, inner, scale):
        super().__init__()
        self.inner = inner
        self.scale = scale


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(config.dim, config.dim) for _ in range(config.depth)])


class WithCfg(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.proj = nn.Linear(cfg.dim, cfg.dim)


class ViTLike(nn.Module):
    def __init__(self, *, image_size, patch_size, dim, depth):
        super().__init__()
        self.patch = nn.Linear(patch_size * patch_size * 3, dim)
        self.blocks = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])


class MPPLike(nn.Module):
    def __init__(self, transformer, patch_size, mask_prob=0.15):
        super().__init__()
        self.transformer = transformer
        self.mean = torch.tensor([0.485, 0.456, 0.406])  # the real bug: a plain tensor
        self.to_bits = nn.Linear(transformer.patch.out_features, patch_size)


class FromTests(nn.Module):
    def __init__(self, width, act=nn.GELU):
        super().__init__()
        self.lin = nn.Linear(width, width)
        self.act = act()


class FromExample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)


class FromDocs(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(8 * heads, heads)


class FromMain(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.lin = nn.Linear(size, 2)


class NoSource(nn.Module):
    def __init__(self, mystery, config: ModelConfig):
        super().__init__()
        self.mystery = mystery


if __name__ == "__main__":
    import sys

    model = FromMain(16)
    print(model, file=sys.stderr)
"""

PROJECT = {
    "pyproject.toml": """
        [project]
        name = "proj"

        [tool.paraminspect.args]
        "src/proj/models.py:Tabled" = { dim = 4 }
        "src/proj/models.py:Snippet" = "Snippet(Inner(3), scale=2.0)"
    """,
    "src/proj/__init__.py": "from .models import ViTLike\n",
    "src/proj/config.py": """
        from dataclasses import dataclass


        @dataclass
        class ModelConfig:
            dim: int = 8
            depth: int = 2
    """,
    "src/proj/models.py": MODELS,
    "tests/test_models.py": """
        import torch

        from proj.config import ModelConfig
        from proj.models import FromTests, Transformer


        def helper():
            return 7


        def test_width():
            skipped = FromTests(width=helper())  # not a literal: not extracted
            model = FromTests(32, act=torch.nn.ReLU)
            assert model(torch.zeros(1, 32)).shape == (1, 32)
            t = Transformer(ModelConfig(dim=16))
    """,
    "examples/demo.py": """
        import torch

        import proj.models

        net = proj.models.FromExample(channels=3)
        net(torch.randn(1, 3, 4, 4))
    """,
    "docs/usage.md": """
        # Usage

        ```python
        >>> from proj.models import FromDocs
        >>> block = FromDocs(heads=4)
        >>> block
        FromDocs(...)
        ```
    """,
    "README.md": """
        # proj

        ```python
        import proj
        from proj.models import MPPLike
        ```

        Then:

        ```python
        v = proj.ViTLike(image_size=32, patch_size=8, dim=16, depth=1)
        mpp = MPPLike(transformer=v, patch_size=8)
        print(mpp)
        ```
    """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n") if name != "src/proj/models.py" else text.lstrip("\n"))
    return root


def _sources(root: Path) -> tuple[dict[str, object], object]:
    config = load_config(root)
    report = scan([root / "src"], root=root)
    found = find_arguments(report, root=root, table=config.args, pyproject=config.path)
    return {key.rsplit(":", 1)[1]: value for key, value in found.items()}, report


def _line(root: Path, name: str, marker: str) -> int:
    lines = (root / name).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def test_every_argument_source_in_order(project: Path) -> None:
    sources, report = _sources(project)
    kinds = {name: (s.kind, Path(s.file).relative_to(project).as_posix(), s.line) for name, s in sources.items()}
    config_line = _line(project, "src/proj/config.py", "class ModelConfig")
    assert kinds == {
        "Tabled": ("args-table", "pyproject.toml", _line(project, "pyproject.toml", "Tabled")),
        "Snippet": ("args-table", "pyproject.toml", _line(project, "pyproject.toml", "Snippet")),
        "Transformer": ("config-class", "src/proj/config.py", config_line),
        "WithCfg": ("config-class", "src/proj/config.py", config_line),
        "FromTests": ("test", "tests/test_models.py", _line(project, "tests/test_models.py", "FromTests(32")),
        "FromExample": ("example", "examples/demo.py", _line(project, "examples/demo.py", "FromExample(")),
        "FromDocs": ("docs", "docs/usage.md", _line(project, "docs/usage.md", "FromDocs(heads")),
        "MPPLike": ("readme", "README.md", _line(project, "README.md", "mpp = MPPLike")),
        "ViTLike": ("readme", "README.md", _line(project, "README.md", "v = proj.ViTLike")),
        "FromMain": ("main", "src/proj/models.py", _line(project, "src/proj/models.py", "FromMain(16)")),
    }
    assert "NoSource" not in sources and "Inner" not in sources  # Inner is built only inside a snippet
    # the class with the real bug is found statically too
    assert [(f.code, f.cls, f.attribute) for f in report.findings] == [("PI002", "MPPLike", "mean")]


def test_snippets_hold_only_the_extracted_calls(project: Path) -> None:
    sources, _report = _sources(project)
    readme = sources["MPPLike"]
    assert readme.snippet == (
        "from proj.models import ViTLike\n"
        "from proj.models import MPPLike\n"
        "v = ViTLike(image_size=32, patch_size=8, dim=16, depth=1)\n"
    )
    assert readme.expression == "MPPLike(transformer=v, patch_size=8)"
    assert readme.sys_path == (str(project / "src"),)
    tests = sources["FromTests"]
    assert tests.snippet == "import torch\nfrom proj.models import FromTests\n"
    assert tests.expression == "FromTests(32, act=torch.nn.ReLU)"
    example = sources["FromExample"]
    assert "randn" not in example.snippet + example.expression
    assert example.expression == "FromExample(channels=3)"
    assert sources["FromMain"].expression == "FromMain(16)" and "print" not in sources["FromMain"].snippet
    assert sources["Transformer"].expression == "Transformer(config=ModelConfig())"
    assert sources["Snippet"].snippet == "from proj.models import Snippet\nfrom proj.models import Inner\n"
    assert sources["Snippet"].expression == "Snippet(Inner(3), scale=2.0)"
    assert sources["Tabled"].kwargs == {"dim": 4} and sources["Tabled"].expression == "Tabled(dim=4)"


def test_snippets_build_real_modules_in_a_subprocess(project: Path) -> None:
    sources, _report = _sources(project)
    payload = [
        {"snippet": s.snippet, "expression": s.expression, "sys_path": list(s.sys_path), "kind": s.kind,
         "cls": s.cls, "file": s.file, "line": s.line}
        for s in sources.values()
    ]  # fmt: skip
    code = textwrap.dedent(
        """
        import json, sys
        from torch import nn
        from paraminspect.static.args.model import ArgSource
        from paraminspect.static.args.run import build
        out = {}
        for item in json.load(sys.stdin):
            item["sys_path"] = tuple(item["sys_path"])
            model = build(ArgSource(**item))
            assert isinstance(model, nn.Module), item
            out[item["cls"].rsplit(":", 1)[1]] = type(model).__name__
        print(json.dumps(out))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(payload), capture_output=True, text=True, check=True, cwd="/"
    )
    built = json.loads(run.stdout)
    assert built == {name: name for name in sources}


def test_a_class_without_a_source_gets_a_way_out(project: Path) -> None:
    _sources_found, report = _sources(project)
    record = next(c for c in report.classes if c.qualname == "NoSource")
    sentence = way_out(record, project)
    assert sentence == (
        "src/proj/models.py:NoSource needs mystery, config: give them in pyproject.toml under "
        '[tool.paraminspect.args] ("src/proj/models.py:NoSource" = "NoSource(mystery=..., config=ModelConfig(...))"), '
        "or list a factory that builds it in [tool.paraminspect] models"
    )
    assert "-a " not in sentence


def test_markdown_and_rst_blocks() -> None:
    md = "text\n```python\nx = 1\n```\n\n```py\n>>> y = 2\n2\n```\n```sh\nls\n```\n"
    assert python_blocks(Path("README.md"), md) == [(2, "x = 1\n"), (6, "y = 2\n")]
    rst = "Title\n\n.. code-block:: python\n\n    net = Net(3)\n    net.eval()\n\nAfter.\n"
    assert python_blocks(Path("index.rst"), rst) == [(4, "net = Net(3)\nnet.eval()\n")]


def test_args_table_snippets_are_validated(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.paraminspect.args]\n"m.py:Net" = "x = 1"\n')
    with pytest.raises(UsageError, match="must end with the expression that builds the model"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.paraminspect.args]\n"m.py:Net" = "Net(("\n')
    with pytest.raises(UsageError, match="is not valid Python"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.paraminspect.args]\n"m.py:Net" = "Net(Config(dim=2))"\n')
    config = load_config(tmp_path)
    assert config.args == {"m.py:Net": "Net(Config(dim=2))"} and config.args_for("m.py:Net") == {}


def test_a_nanogpt_like_repository_needs_no_configuration() -> None:
    root = Path(__file__).resolve().parent.parent / "bench" / "fixtures" / "nanogpt_like"
    report = scan([root], root=root)
    assert [c.qualname for c in report.classes] == ["LayerNorm", "CausalSelfAttention", "MLP", "Block", "GPT"]
    assert report.findings == ()  # the causal mask is registered (under an if): nothing to report
    sources = {key.rsplit(":", 1)[1]: s for key, s in find_arguments(report, root=root).items()}
    assert {name: (s.kind, s.expression) for name, s in sources.items()} == {
        name: ("config-class", f"{name}(config=GPTConfig())") for name in ("CausalSelfAttention", "MLP", "Block", "GPT")
    }
    layer_norm = next(c for c in report.classes if c.qualname == "LayerNorm")
    assert way_out(layer_norm, root).startswith("model.py:LayerNorm needs ndim, bias: ")


def test_a_readme_rebinds_names_as_it_goes(tmp_path: Path) -> None:
    """A README imports `ViT` from one module, then from another (vit-pytorch's does it
    dozens of times): each call is read with the imports made so far; and a config object's
    fields set after it is made (minGPT's README) are kept, in order."""
    files = {
        "pkg/__init__.py": "",
        "pkg/plain.py": "from torch import nn\n\n\nclass ViT(nn.Module):\n    def __init__(self, dim):\n"
        "        super().__init__()\n",
        "pkg/deep.py": "from torch import nn\n\n\nclass ViT(nn.Module):\n    def __init__(self, depth):\n"
        "        super().__init__()\n\n\nclass Wrap(nn.Module):\n    @staticmethod\n    def defaults():\n"
        "        return {}\n\n    def __init__(self, vit, cfg):\n        super().__init__()\n",
        "README.md": "```python\nfrom pkg.plain import ViT\nv = ViT(dim=4)\n```\n\n"
        "```python\nfrom pkg.deep import ViT, Wrap\nv = ViT(depth=2)\ncfg = Wrap.defaults()\n"
        "cfg['k'] = 1\nunrelated = open('x')\nw = Wrap(v, cfg)\n```\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    report = scan([tmp_path / "pkg"], root=tmp_path)
    found = {key.replace(str(tmp_path) + "/", ""): s for key, s in find_arguments(report, root=tmp_path).items()}
    assert found["pkg/plain.py:ViT"].expression == "ViT(dim=4)"
    assert found["pkg/deep.py:ViT"].expression == "ViT(depth=2)"
    wrap = found["pkg/deep.py:Wrap"]
    assert wrap.snippet == (
        "from pkg.deep import ViT\nfrom pkg.deep import Wrap\nv = ViT(depth=2)\ncfg = Wrap.defaults()\ncfg['k'] = 1\n"
    )
    assert wrap.expression == "Wrap(v, cfg)" and wrap.line == 12
