"""Issue 26: `check PATH` reaches every module class of a project with zero configuration: the
static pass (findings without building), arguments found in the project (built in the child
like a factory), classes checked as parts of built models, and every class in one coverage
category. A scratch project in tmp_path (src/, tests/, examples/, docs/, README) with 15 module
classes and 6 seeded bugs, 4 of them in classes that need arguments; files that crash, exit,
hang or cannot be read; real processes where the process is the point (no torch with --static)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from conftest import run_process

LAYERS = """
import torch
from torch import nn

from .config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = torch.tensor(1e-6)  # bug 1


class Attention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.heads = [nn.Linear(config.dim, config.dim) for _ in range(config.heads)]  # bug 2


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.norm = RMSNorm(config.dim)
        self.attn = Attention(config)
        self.mlp = MLP(config.dim, 4 * config.dim)


class Rotary(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))  # bug 3
"""

MODELS = """
import abc

import torch
from torch import nn

from .config import ModelConfig
from .layers import Block


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(config.vocab, config.dim)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.depth)])


class Classifier(nn.Module):
    def __init__(self, backbone: Transformer, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.embed.embedding_dim, num_classes)
        self.class_weights = torch.ones(num_classes, requires_grad=True)  # bug 4


class Head(nn.Module):
    def __init__(self, dim: int = 16):
        super().__init__()
        self.proj = nn.Linear(dim, 2)


class Ensemble(nn.Module):
    def __init__(self):
        super().__init__()
        self.members = [Head(), Head()]  # bug 5


class Scaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.ones(1)  # bug 6


class Decoder(nn.Module):
    def __init__(self, dim: int, vocab: int):
        super().__init__()
        self.out = nn.Linear(dim, vocab)


class Pooler(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)


class AbstractBase(nn.Module, abc.ABC):
    @abc.abstractmethod
    def forward(self, x): ...


class Adapter(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn


class Embedder(nn.Module):
    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.table = nn.Embedding(vocab, dim)


if __name__ == "__main__":
    pooler = Pooler(dim=8)
    print(pooler)
"""

FILES = {
    "pyproject.toml": '[project]\nname = "toynet"\nversion = "0.1"\n',
    # re-exported, with its __module__ reassigned to the package's name
    "src/toynet/__init__.py": 'from .models import Head, Transformer\n\nHead.__module__ = "toynet"\n',
    "src/toynet/config.py": """
        from dataclasses import dataclass


        @dataclass
        class ModelConfig:
            dim: int = 16
            depth: int = 2
            heads: int = 2
            vocab: int = 100
    """,
    "src/toynet/layers.py": LAYERS,
    "src/toynet/models.py": MODELS,
    "tests/test_layers.py": """
        from toynet.layers import Rotary


        def test_rotary():
            rotary = Rotary(dim=8)
            assert rotary.inv_freq.shape == (4,)
    """,
    "examples/train.py": """
        from toynet.config import ModelConfig
        from toynet.models import Classifier, Transformer

        model = Classifier(Transformer(ModelConfig(dim=32)), num_classes=10)
    """,
    "README.md": "# toynet\n\n```python\nfrom toynet.models import Decoder\n\n"
    "decoder = Decoder(dim=16, vocab=100)\n```\n",
    "docs/usage.md": "# Usage\n\n```python\nfrom toynet.models import Embedder\n\n"
    "embedder = Embedder(vocab=100, dim=16)\n```\n",
}

BUGS = {  # (file, line, code, attribute): the six seeded bugs
    ("src/toynet/layers.py", 11, "PI002", "eps"),
    ("src/toynet/layers.py", 17, "PI004", "heads"),
    ("src/toynet/layers.py", 38, "PI002", "inv_freq"),
    ("src/toynet/models.py", 22, "PI001", "class_weights"),
    ("src/toynet/models.py", 34, "PI004", "members"),
    ("src/toynet/models.py", 40, "PI002", "scale"),
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def toynet(tmp_path: Path) -> Path:
    root = tmp_path / "toynet"
    for name, text in FILES.items():
        _write(root / name, text)
    return root


@pytest.fixture
def within(cli, monkeypatch: pytest.MonkeyPatch):
    def run(folder: Path, *args: str):
        monkeypatch.chdir(folder)
        return cli(*args)

    return run


def _bugs(doc: dict) -> set[tuple[str, int, str, str]]:
    return {(f["file"], f["line"], f["code"], f["attribute"].rpartition(".")[2]) for f in doc["findings"]}


def test_fifteen_classes_six_bugs_zero_config(toynet: Path, within):
    """All six bugs found (four in classes that need arguments), each once, exit 1; every
    class in one coverage category; where each class's arguments came from."""
    result = within(toynet, "check", ".", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert _bugs(doc) == BUGS and len(doc["findings"]) == 6
    assert doc["coverage"] == {"classes": 15, "built": 11, "as_part": 2, "static_only": 2, "not_checked": 0}
    classes = {c["model"].rpartition(":")[2]: c for c in doc["classes"]}
    assert len(classes) == 15 and sum(1 for _ in doc["classes"]) == 15  # each class once
    where = {name: (c["arguments"] or {}).get("kind") for name, c in classes.items()}
    assert where == {
        "RMSNorm": None, "Attention": "config-class", "MLP": None, "Block": "config-class", "Rotary": "test",
        "Transformer": "config-class", "Classifier": "example", "Head": None, "Ensemble": None, "Scaler": None,
        "Decoder": "readme", "Pooler": "main", "AbstractBase": None, "Adapter": None, "Embedder": "docs",
    }  # fmt: skip
    assert classes["Rotary"]["arguments"] == {"kind": "test", "file": "tests/test_layers.py", "line": 5}
    assert classes["Classifier"]["arguments"] == {"kind": "example", "file": "examples/train.py", "line": 4}
    assert classes["Decoder"]["arguments"] == {"kind": "readme", "file": "README.md", "line": 6}
    assert classes["Embedder"]["arguments"] == {"kind": "docs", "file": "docs/usage.md", "line": 6}
    assert classes["Pooler"]["arguments"] == {"kind": "main", "file": "src/toynet/models.py", "line": 73}
    assert classes["Attention"]["arguments"] == {"kind": "config-class", "file": "src/toynet/config.py", "line": 5}
    assert classes["Head"]["category"] == "built"  # found in its file although its __module__ was reassigned
    assert {n for n, c in classes.items() if c["category"] == "as_part"} == {"RMSNorm", "MLP"}
    assert classes["RMSNorm"]["part_of"] == "src/toynet/layers.py:Block"
    assert {n for n, c in classes.items() if c["category"] == "static_only"} == {"AbstractBase", "Adapter"}
    assert classes["Adapter"]["reason"].startswith("src/toynet/models.py:Adapter needs fn: give them in pyproject")
    assert [s["model"] for s in doc["skipped"]] == ["src/toynet/models.py:Adapter"]
    # the bug in RMSNorm (a part) is reported once, at its first instance, by the built model
    eps = next(f for f in doc["findings"] if f["attribute"].endswith("eps"))
    assert (eps["model"], eps["module"], eps["evidence"]) == ("src/toynet/layers.py:Block", "norm", "built")


def test_text_report_says_coverage_and_where_arguments_came_from(toynet: Path, within):
    result = within(toynet, "check", ".")
    assert result.code == 1, result.err
    out = result.out
    assert "15 module classes in 2 files: 11 built, 2 as parts, 2 static only, 0 not checked." in out
    assert "src/toynet/models.py:Classifier -> Classifier, arguments from examples/train.py:4" in out
    assert "  src/toynet/layers.py:Rotary <- tests/test_layers.py:5 (test)" in out
    assert "Not built: 1 module class needs arguments that were not found" in out
    assert '("src/toynet/models.py:Adapter" = "Adapter(fn=...)")' in out
    assert "-a " not in out  # never `-a config=VALUE` for an object
    assert "Found 6 findings (3 errors, 3 warnings) in 6 module classes; 6 at or above --fail-on warning." in out


def test_static_only_imports_no_torch(toynet: Path):
    """--static: the static pass alone, in the CLI process, no torch (nor a spare process)."""
    result = run_process("check", ".", "--static", "-f", "json", cwd=toynet, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.code == 1, result.err
    imported = {line.rsplit("|", 1)[1].strip() for line in result.err.splitlines() if line.startswith("import time")}
    assert "paraminspect.static.pipeline" in imported and "torch" not in imported
    doc = json.loads(result.out)
    assert _bugs(doc) == BUGS and {f["evidence"] for f in doc["findings"]} == {"static"}
    assert doc["coverage"] == {"classes": 15, "built": 0, "as_part": 0, "static_only": 15, "not_checked": 0}
    assert doc["summary"]["models"] == 0  # nothing was built
    usage = run_process("check", "--static", "src/toynet/models.py:Head", cwd=toynet)
    assert usage.code == 2 and "--static reads folders and .py files" in usage.err


def test_static_and_built_findings_are_one_finding(tmp_path: Path, within):
    """A class both built and read: one finding (the built one's data); a bug the built model
    does not show (its arguments take the other branch) stays, from the static pass."""
    _write(
        tmp_path / "proj/nets.py",
        """
        import torch
        from torch import nn


        class Both(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)


        class Branchy(nn.Module):
            def __init__(self, mean=None):
                super().__init__()
                self.mean = torch.tensor(mean) if mean else None
        """,
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    found = sorted((f["model"], f["code"], f["attribute"], f["line"], f["evidence"]) for f in doc["findings"])
    assert found == [
        ("nets.py:Both", "PI002", "mean", 8, "built"),
        ("nets.py:Branchy", "PI002", "mean", 14, "static"),
    ]
    assert doc["coverage"]["built"] == 2
    github = within(tmp_path / "proj", "check", ".", "-f", "github")
    assert "::warning file=nets.py,line=14,title=PI002::nets.py:Branchy: `mean` is a plain tensor" in github.out
    sarif = json.loads(within(tmp_path / "proj", "check", ".", "-f", "sarif").out)
    results = sarif["runs"][0]["results"]
    assert sorted(r["properties"]["evidence"] for r in results) == ["built", "static"]
    static = next(r for r in results if r["properties"]["evidence"] == "static")
    assert static["locations"][0]["physicalLocation"]["region"] == {"startLine": 14}


def test_static_findings_honour_noqa_ignore_and_per_model_ignores(tmp_path: Path, within):
    _write(
        tmp_path / "proj/pyproject.toml",
        '[tool.paraminspect]\n\n[tool.paraminspect.per-model-ignores]\n"nets.py:Ignored" = ["PI002"]\n',
    )
    _write(
        tmp_path / "proj/nets.py",
        """
        import torch
        from torch import nn


        class Quiet(nn.Module):
            def __init__(self, dim: int):
                super().__init__()
                self.a = torch.ones(dim)  # noqa: PI002
                self.b = [nn.Linear(dim, dim)]


        class Ignored(nn.Module):
            def __init__(self, dim: int):
                super().__init__()
                self.c = torch.ones(dim)
        """,
    )
    result = within(tmp_path / "proj", "check", ".", "--static", "-f", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert [(f["model"], f["code"], f["attribute"]) for f in doc["findings"]] == [("nets.py:Quiet", "PI004", "b")]
    assert doc["summary"]["suppressed"] == 1
    ignored = within(tmp_path / "proj", "check", ".", "--static", "--ignore", "PI004", "-f", "json")
    assert ignored.code == 0 and json.loads(ignored.out)["findings"] == []


def test_fix_rewrites_a_finding_only_the_static_pass_saw(tmp_path: Path, within):
    """--fix on a static finding of a class that is not built: rewritten, then read again."""
    source = """
        import torch
        from torch import nn


        class Loss(nn.Module):
            def __init__(self, mean, std):
                super().__init__()
                self.mean = torch.tensor(mean)
    """
    _write(tmp_path / "proj/loss.py", source)
    result = within(tmp_path / "proj", "check", ".", "--fix")
    assert result.code == 0, result.out + result.err
    assert "fixed: loss.py:8 PI002 mean -> register_buffer" in result.err
    text = (tmp_path / "proj/loss.py").read_text()
    assert 'self.register_buffer("mean", torch.tensor(mean), persistent=False)' in text


def test_args_table_call_snippet_builds_a_class(tmp_path: Path, within):
    """[tool.paraminspect.args] with a call snippet: the class is built with it, and the report
    names the pyproject.toml line it came from."""
    _write(
        tmp_path / "proj/pyproject.toml",
        '[tool.paraminspect]\n\n[tool.paraminspect.args]\n"pkg/wrap.py:Wrapper" = "Wrapper(inner=Inner(4))"\n',
    )
    _write(tmp_path / "proj/pkg/__init__.py", "")
    _write(
        tmp_path / "proj/pkg/wrap.py",
        """
        import torch
        from torch import nn


        class Inner(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.lin = nn.Linear(dim, dim)


        class Wrapper(nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner
                self.extra = [nn.Linear(2, 2)]
        """,
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    classes = {c["model"]: c for c in doc["classes"]}
    assert classes["pkg/wrap.py:Wrapper"]["arguments"] == {"kind": "args-table", "file": "pyproject.toml", "line": 4}
    assert classes["pkg/wrap.py:Wrapper"]["category"] == "built"
    assert classes["pkg/wrap.py:Inner"] == {
        "model": "pkg/wrap.py:Inner", "file": "pkg/wrap.py", "line": 5, "category": "as_part", "arguments": None,
        "part_of": "pkg/wrap.py:Wrapper", "reason": "pkg/wrap.py:Inner needs dim: give them in pyproject.toml "
        'under [tool.paraminspect.args] ("pkg/wrap.py:Inner" = "Inner(dim=...)"), or list a factory that builds it '
        "in [tool.paraminspect] models",
    }  # fmt: skip
    assert [(f["model"], f["code"]) for f in doc["findings"]] == [("pkg/wrap.py:Wrapper", "PI004")]
    assert doc["skipped"] == []  # Inner is checked as a part: not listed as skipped


def test_a_failing_build_with_found_arguments_fails_that_class_alone_exit_2(tmp_path: Path, within):
    _write(tmp_path / "proj/README.md", "```python\nfrom nets import Net\nNet(dim=-1)\n```\n")
    _write(
        tmp_path / "proj/nets.py",
        """
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self, dim):
                super().__init__()
                if dim < 0:
                    raise ValueError("dim must be positive")
                self.lin = nn.Linear(dim, dim)


        class Other(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = torch.ones(1)
        """,
    )
    result = within(tmp_path / "proj", "check", ".")
    assert result.code == 2, result.err  # the project's own call fails: a real failure, named with where it is
    assert "nets.py:Net: class Net (with the arguments of README.md:3) raised ValueError: dim must be positive" in (
        result.out
    )
    assert "2 module classes in 1 file: 1 built, 0 as parts, 1 static only, 0 not checked; 1 could not be built." in (
        result.out
    )
    assert "PI002" in result.out  # Other's finding is still reported


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_files_that_crash_exit_hang_or_cannot_be_read_fail_alone(tmp_path: Path):
    """Each such file is one failure; the other files' findings are reported; JSON and SARIF
    stay valid; exit 2. A FIFO named *.py is never opened blocking (no hang)."""
    src = tmp_path / "proj/src"
    good = "import torch\nfrom torch import nn\n\n\nclass Good(nn.Module):\n    def __init__(self):\n"
    _write(src / "good.py", good + "        super().__init__()\n        self.scale = torch.ones(2)\n")
    head = "from torch import nn\n"
    _write(src / "crash.py", f"import ctypes\n{head}\nctypes.string_at(0)\n\n\nclass Crash(nn.Module):\n    pass\n")
    _write(src / "exits.py", f"import os\n{head}\nos._exit(3)\n\n\nclass Exits(nn.Module):\n    pass\n")
    _write(src / "hangs.py", f"import time\n{head}\ntime.sleep(600)\n\n\nclass Hangs(nn.Module):\n    pass\n")
    _write(src / "broken.py", f"{head}\n\nclass Broken(nn.Module:\n    pass\n")
    (src / "dangling.py").symlink_to("missing_target.py")
    (src / "loop.py").symlink_to("loop.py")
    os.mkfifo(src / "fifo.py")
    result = run_process("check", "src", "--timeout", "8", "-f", "json", cwd=tmp_path / "proj", timeout=200)
    assert result.code == 2, result.err
    doc = json.loads(result.out)
    assert [(f["model"], f["code"]) for f in doc["findings"]] == [("src/good.py:Good", "PI002")]
    failures = {f["model"]: f["error"] for f in doc["failures"]}
    assert set(failures) == {
        "src/crash.py", "src/exits.py", "src/hangs.py", "src/broken.py", "src/dangling.py", "src/loop.py",
        "src/fifo.py",
    }  # fmt: skip
    assert "SIGSEGV" in failures["src/crash.py"] and "exit status 3" in failures["src/exits.py"]
    assert "timed out after 8 s" in failures["src/hangs.py"]
    assert failures["src/broken.py"].startswith("SyntaxError")
    assert failures["src/dangling.py"] == "a dangling symlink" and failures["src/loop.py"] == "a symlink loop"
    assert failures["src/fifo.py"] == "not a regular file (a FIFO, socket or device?)"
    assert doc["coverage"] == {"classes": 4, "built": 1, "as_part": 0, "static_only": 3, "not_checked": 0}
    sarif = run_process("check", "src", "--timeout", "8", "-f", "sarif", cwd=tmp_path / "proj", timeout=200)
    run = json.loads(sarif.out)["runs"][0]
    assert sarif.code == 2 and len(run["results"]) == 1
    assert len(run["invocations"][0]["toolExecutionNotifications"]) == 7


def test_a_folder_whose_classes_cannot_be_checked_at_all_exits_2(tmp_path: Path, within):
    _write(
        tmp_path / "proj/plugin.py",
        "from missing_library import Base\n\n\nclass Plugin(Base):\n    def __init__(self):\n"
        "        super().__init__()\n",
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["coverage"] == {"classes": 1, "built": 0, "as_part": 0, "static_only": 0, "not_checked": 1}
    assert doc["classes"][0]["reason"].startswith("perhaps an nn.Module: its base missing_library.Base")
    assert "error: none of the 1 module class under . could be checked: perhaps an nn.Module" in result.err


def test_minigpt_style_config_object_from_the_readme(tmp_path: Path, within):
    """A README that builds a config with a static method, sets its fields, then the model
    (minGPT's usage): the calls and the field assignments are extracted, nothing else."""
    _write(
        tmp_path / "proj/gpt/model.py",
        """
        from torch import nn


        class CfgNode:
            pass


        class GPT(nn.Module):
            @staticmethod
            def get_default_config():
                c = CfgNode()
                c.n_embd = None
                return c

            def __init__(self, config):
                super().__init__()
                assert config.n_embd is not None
                self.wte = nn.Embedding(10, config.n_embd)
        """,
    )
    _write(tmp_path / "proj/gpt/__init__.py", "")
    readme = "```python\nfrom gpt.model import GPT\nconfig = GPT.get_default_config()\nconfig.n_embd = 8\n"
    _write(tmp_path / "proj/README.md", readme + "print('not extracted')\nmodel = GPT(config)\n```\n")
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["classes"][0]["arguments"] == {"kind": "readme", "file": "README.md", "line": 6}
    assert doc["coverage"]["built"] == 1
    assert "not extracted" not in result.err


def test_static_pass_answers_a_rerun_from_its_cache(toynet: Path, within, tmp_path: Path):
    """The static pass keeps its summaries in the result cache's folder (`static/`); a rerun,
    here through a symlinked checkout, says the same; --no-cache writes nothing."""
    cache = Path(os.environ["PARAMINSPECT_CACHE_DIR"]) / "static"
    uncached = within(toynet, "check", ".", "--static", "--no-cache", "-f", "json")
    assert not cache.exists()
    link = tmp_path / "link"
    link.symlink_to(toynet)
    first = within(link, "check", ".", "--static", "-f", "json")
    assert len(list(cache.iterdir())) >= 4  # a summary per file, and the report's memo
    second = within(link, "check", ".", "--static", "-f", "json")
    assert uncached.out == first.out == second.out and _bugs(json.loads(second.out)) == BUGS


def test_a_bug_in_a_part_is_reported_once_and_library_parts_in_each_model(tmp_path: Path, within):
    """A project class used in several built models: its bug once (in its own result when
    built); a class outside the checked files (here excluded) is not the run's to collapse:
    each model that holds one gets its finding."""
    _write(tmp_path / "proj/pyproject.toml", '[tool.paraminspect]\nexclude = ["holder.py"]\n')
    _write(
        tmp_path / "proj/holder.py",
        """
        import torch
        from torch import nn


        class Holder(nn.Module):
            def __init__(self):
                super().__init__()
                self.t = torch.ones(1)
        """,
    )
    _write(
        tmp_path / "proj/nets.py",
        """
        import torch
        from torch import nn

        from holder import Holder


        class Part(nn.Module):
            def __init__(self):
                super().__init__()
                self.p = torch.zeros(1)


        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.parts = nn.ModuleList([Part(), Part()])
                self.h = Holder()


        class B(nn.Module):
            def __init__(self):
                super().__init__()
                self.part = Part()
                self.h = Holder()
        """,
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 1, result.err
    found = sorted((f["model"], f["module"], f["attribute"]) for f in json.loads(result.out)["findings"])
    assert found == [("nets.py:A", "h", "t"), ("nets.py:B", "h", "t"), ("nets.py:Part", "", "p")]


GUESSES = """
import torch
from torch import nn


class DropPath(nn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = float(drop_prob)
        self.scale = torch.ones(1)


class Base(nn.Module):
    def __init__(self, *, dim, depth):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])


class Forwards(Base):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dim = kwargs["dim"]


class Fine(nn.Module):
    def __init__(self, dim=4):
        super().__init__()
        self.lin = nn.Linear(dim, dim)
"""


def test_a_class_whose_guessed_arguments_raise_is_static_only_with_a_way_out(tmp_path: Path, within):
    """Defaults that do not build a class, and `*args, **kwargs` with nothing found to pass
    on, are guesses that failed: static only (their static findings count: exit 1 by the
    PI002), listed under `Not built` with the exception and the way out; never exit 2, not
    even with --strict (which is for classes that cannot be built with real arguments)."""
    _write(tmp_path / "proj/nets.py", GUESSES)
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert doc["failures"] == []
    assert doc["coverage"] == {"classes": 4, "built": 1, "as_part": 0, "static_only": 3, "not_checked": 0}
    found = [(f["model"], f["code"], f["evidence"]) for f in doc["findings"]]
    assert found == [("nets.py:DropPath", "PI002", "static")]
    skipped = {s["model"]: s["reason"] for s in doc["skipped"]}
    assert list(skipped) == ["nets.py:DropPath", "nets.py:Base", "nets.py:Forwards"]
    assert skipped["nets.py:DropPath"] == (
        "nets.py:DropPath: its defaults do not build it (TypeError: float() argument must be a string or a real "
        "number, not 'NoneType'); give it arguments in pyproject.toml under [tool.paraminspect.args] "
        '("nets.py:DropPath" = "DropPath(drop_prob=...)"), or list a factory that builds it in [tool.paraminspect] '
        "models"
    )
    assert skipped["nets.py:Forwards"].startswith(
        "nets.py:Forwards: no arguments were found for its *args, **kwargs and it does not build without them "
        "(TypeError: Base.__init__() missing 2 required keyword-only arguments"
    )
    classes = {c["model"]: c for c in doc["classes"]}
    assert classes["nets.py:DropPath"]["category"] == "static_only"
    assert classes["nets.py:DropPath"]["reason"] == skipped["nets.py:DropPath"]
    text = within(tmp_path / "proj", "check", ".")
    assert text.code == 1
    assert "nets.py:DropPath -> read from the source; it does not build without arguments" in text.out
    assert "4 module classes in 1 file: 1 built, 0 as parts, 3 static only, 0 not checked." in text.out
    assert "Failures" not in text.out and "error:" not in text.err
    assert within(tmp_path / "proj", "check", ".", "--strict").code == 1


def test_a_configured_class_that_raises_exits_2(tmp_path: Path, within):
    """The same class given arguments in [tool.paraminspect.args] that still do not build it:
    the user's configured call fails, a failure (exit 2, also without --strict)."""
    _write(tmp_path / "proj/nets.py", GUESSES)
    _write(
        tmp_path / "proj/pyproject.toml",
        '[tool.paraminspect.args]\n"nets.py:DropPath" = { drop_prob = "high" }\n'
        '"nets.py:Forwards" = "Forwards(dim=2, depth=1)"\n',
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 2, result.err
    doc = json.loads(result.out)
    failures = {f["model"]: f["error"] for f in doc["failures"]}
    assert list(failures) == ["nets.py:DropPath"]
    assert failures["nets.py:DropPath"].startswith("class DropPath raised ValueError: could not convert string")
    classes = {c["model"]: c for c in doc["classes"]}
    assert classes["nets.py:Forwards"]["category"] == "built"
    assert classes["nets.py:Forwards"]["arguments"] == {"kind": "args-table", "file": "pyproject.toml", "line": 3}
    assert [s["model"] for s in doc["skipped"]] == ["nets.py:Base"]
    assert "error: nets.py:DropPath: class DropPath raised ValueError" in result.err


def test_a_missing_third_party_package_says_install_it_or_exclude_the_file(tmp_path: Path, within):
    """A file whose import needs a package that is not installed stays a failure (exit 2: a
    gate never skips a file silently), and says both ways out; a missing module named like
    one of the project's own is not a package to install."""
    _write(tmp_path / "proj/pyproject.toml", "[tool.paraminspect]\n")
    _write(tmp_path / "proj/pkg/__init__.py", "")
    module = "from torch import nn\n\n\nclass {}(nn.Module):\n    pass\n"
    _write(tmp_path / "proj/pkg/audio.py", "import torchaudio_absent_here\n" + module.format("Audio"))
    # a name no other test's module has (the in-process CLI forks from the test process)
    _write(tmp_path / "proj/pkg/local.py", "import reach_helpers_of_proj\n" + module.format("Local"))
    _write(tmp_path / "proj/tools/reach_helpers_of_proj.py", module.format("Helper"))
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 2, result.err
    failures = {f["model"]: f["error"] for f in json.loads(result.out)["failures"]}
    assert failures["pkg/audio.py"] == (
        "cannot import pkg/audio.py (as pkg.audio): ModuleNotFoundError: No module named 'torchaudio_absent_here': "
        'install torchaudio_absent_here, or exclude it: exclude = ["pkg/audio.py"] in [tool.paraminspect]'
    )
    assert failures["pkg/local.py"].endswith(
        "No module named 'reach_helpers_of_proj'"
    )  # the project's own module: no install
    _write(tmp_path / "proj/pyproject.toml", '[tool.paraminspect]\nexclude = ["pkg/audio.py", "pkg/local.py"]\n')
    assert within(tmp_path / "proj", "check", ".").code == 0  # the way out works


def test_args_kwargs_class_is_built_with_its_bases_found_call(tmp_path: Path, within):
    """`__init__(self, *args, **kwargs)` with no call of its own found: built with its base's
    found call (the README's `Base(...)`), the class called instead. That is a guess too: a
    subclass it does not build (it reads a keyword the call lacks) is static only, not a
    failure."""
    picky = (
        "\n\nclass Picky(Base):\n    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n"
        '        self.classes = kwargs["num_classes"]\n'
    )
    _write(tmp_path / "proj/nets.py", GUESSES + picky)
    _write(tmp_path / "proj/README.md", "```python\nfrom nets import Base\nBase(dim=4, depth=2)\n```\n")
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    classes = {c["model"]: c for c in doc["classes"]}
    assert classes["nets.py:Forwards"]["category"] == "built"
    assert classes["nets.py:Forwards"]["arguments"] == {"kind": "readme", "file": "README.md", "line": 3}
    assert classes["nets.py:Base"]["category"] == "built"
    assert classes["nets.py:Picky"]["category"] == "static_only"
    assert doc["failures"] == []
    skipped = {s["model"]: s["reason"] for s in doc["skipped"]}
    assert list(skipped) == ["nets.py:DropPath", "nets.py:Picky"]
    assert skipped["nets.py:Picky"].startswith(
        "nets.py:Picky: the call of its base Base (README.md:3), with it called instead, does not build it "
        "(KeyError: 'num_classes'); give it arguments in pyproject.toml under [tool.paraminspect.args]"
    )


def test_a_file_named_like_the_package_it_imports_still_says_install_it(tmp_path: Path, within):
    """einops' layers/flax.py imports flax: the file's own name does not make `flax` the
    project's module, so the way out is still said."""
    _write(tmp_path / "proj/pyproject.toml", "[tool.paraminspect]\n")
    _write(tmp_path / "proj/pkg/__init__.py", "")
    _write(
        tmp_path / "proj/pkg/absent_framework_zz.py",
        "import absent_framework_zz as nn\n\n\nclass Layer(nn.Module):\n    pass\n",
    )
    result = within(tmp_path / "proj", "check", ".", "-f", "json")
    assert result.code == 2, result.err
    failures = {f["model"]: f["error"] for f in json.loads(result.out)["failures"]}
    assert failures["pkg/absent_framework_zz.py"].endswith(
        'install absent_framework_zz, or exclude it: exclude = ["pkg/absent_framework_zz.py"] in [tool.paraminspect]'
    )
