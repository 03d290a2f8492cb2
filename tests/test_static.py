"""The static pass (paraminspect/static/): module classes and PI001-PI004 read from real files
on disk, without importing torch. Each case writes a small project to tmp_path and asserts
codes, lines, attributes and fix kinds; the traps of issue 26 must never be flagged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from paraminspect.static import scan
from paraminspect.static.model import StaticReport

HEAD = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n\n"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        head = HEAD if text.startswith(HEAD) else ""
        path.write_text(head + textwrap.dedent(text[len(head) :]).lstrip("\n"))


def line_of(root: Path, name: str, marker: str) -> int:
    lines = (root / name).read_text().splitlines()
    found = [i for i, line in enumerate(lines, 1) if marker in line]
    assert len(found) == 1, (marker, found)
    return found[0]


def found(report: StaticReport, cls: str | None = None) -> set[tuple[str, str, int, str]]:
    return {(f.code, f.attribute, f.line, f.fix) for f in report.findings if cls is None or f.cls == cls}


def one_class(tmp_path: Path, init: str, *methods: str, bases: str = "nn.Module", preamble: str = "") -> StaticReport:
    body = textwrap.indent(textwrap.dedent(init).strip("\n"), " " * 8)
    extra = "".join("\n" + textwrap.indent(textwrap.dedent(m).strip("\n"), " " * 4) + "\n" for m in methods)
    src = (
        HEAD
        + textwrap.dedent(preamble)
        + (f"class Model({bases}):\n    def __init__(self, cond=True):\n        super().__init__()\n{body}\n{extra}")
    )
    (tmp_path / "model.py").write_text(src)
    return scan([tmp_path / "model.py"], root=tmp_path)


# --- never flagged (issue 26's traps) ----------------------------------------------------------

TRAPS = {
    "size": "self.size = torch.Size([2, 3])",
    "device": 'self.device = torch.device("cpu")',
    "dtype": "self.dtype = torch.float32",
    "function": "self.act = torch.relu\nself.gelu = F.gelu",
    "finfo": "self.eps = torch.finfo(torch.float32).eps\nself.info = torch.finfo(torch.float16)\n"
    "self.ii = torch.iinfo(torch.int32)",
    "generator": "self.gen = torch.Generator()",
    "tolist": "self.values = torch.arange(3).tolist()",
    "item": "self.n = torch.zeros(3).sum().item()",
    "shape": "self.shape = torch.zeros(2, 3).shape",
    "numel": "self.count = torch.ones(4).numel()",
    "helper function": "self.x = make_tensor()",
    "tensor then parameter": "self.w = torch.zeros(3)\nself.w = nn.Parameter(self.w)",
    "unknown branch": "self.x = torch.zeros(3) if cond else make_tensor()",
    "computed setattr": 'for name in ("a", "b"):\n    setattr(self, name, torch.zeros(3))',
    "registered parameters listed": "self.w = nn.Parameter(torch.zeros(2))\nself.ws = [self.w]",
    "modules handed to Sequential": "self.blocks = [nn.Linear(2, 2) for _ in range(2)]\n"
    "self.body = nn.Sequential(*self.blocks)",
    "self handed to a helper": "self.x = torch.zeros(3)\ninit_weights(self)",
    "buffer then assigned": 'self.register_buffer("x", None)\nself.x = torch.zeros(3)',
    "grad unknown": "self.y = torch.zeros(3, requires_grad=cond)",
    "list then ModuleList": "self.layers = [nn.Linear(2, 2)]\nself.layers = nn.ModuleList(self.layers)",
    "dead branch": "if False:\n    self.x = torch.zeros(3)",
    "raising path": "if cond:\n    raise ValueError('no')\nself.y = None",
}


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_traps_are_never_flagged(tmp_path: Path, name: str) -> None:
    report = one_class(
        tmp_path,
        TRAPS[name],
        preamble="def make_tensor():\n    return torch.zeros(3)\n\n\n"
        "def init_weights(m):\n    m.x = nn.Parameter(m.x)\n\n\n",
    )
    assert [c.qualname for c in report.classes] == ["Model"]
    assert report.findings == ()


def test_non_module_class_holding_tensors_is_not_flagged(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "holder.py": HEAD
            + """
        class Holder:
            def __init__(self):
                self.t = torch.zeros(3)
                self.mods = [nn.Linear(2, 2)]


        class Config(object):
            def __init__(self):
                self.mask = torch.ones(2)
    """
        },
    )
    report = scan([tmp_path], root=tmp_path)
    assert report.classes == () and report.findings == ()


def test_assignments_outside_the_construction_path_are_not_flagged(tmp_path: Path) -> None:
    report = one_class(
        tmp_path,
        "self.cache = None",
        "def forward(self, x):\n    self.cache = torch.zeros(3)\n    return x",
        "def unused_helper(self):\n    self.cache = torch.zeros(3)\n    self.other = torch.ones(2)",
    )
    assert report.findings == ()


def test_a_class_that_moves_its_own_tensors_or_owns_torch_names_is_not_flagged(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m.py": HEAD
            + """
        class Moves(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)

            def _apply(self, fn, recurse=True):
                self.mean = fn(self.mean)
                return super()._apply(fn, recurse)


        class Norm(nn.BatchNorm2d):
            def __init__(self):
                super().__init__(4)
                self.running_mean = torch.zeros(4)


        class Prop(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = torch.ones(1)

            @property
            def scale(self):
                return self._scale

            @scale.setter
            def scale(self, value):
                self.register_buffer("_scale", value)
    """
        },
    )
    report = scan([tmp_path], root=tmp_path)
    assert {c.qualname for c in report.classes} == {"Moves", "Norm", "Prop"}
    assert report.findings == ()


def test_a_name_registered_anywhere_in_the_class_is_not_flagged(tmp_path: Path) -> None:
    report = one_class(
        tmp_path,
        "self.x = torch.zeros(3)\nself.y = torch.zeros(3)",
        'def reset(self):\n    self.register_buffer("x", torch.zeros(3))\n    self.y = nn.Parameter(torch.ones(3))',
    )
    assert report.findings == ()


# --- flagged, at the line that runs -----------------------------------------------------------


def test_tensor_expressions_and_their_codes(tmp_path: Path) -> None:
    report = one_class(
        tmp_path,
        """
        self.freqs = 1.0 / (10000 ** (torch.arange(0, 8, 2).float() / 8))  # freqs
        self.gamma = torch.ones(4, requires_grad=True)  # gamma
        self.beta = torch.randn(3).requires_grad_()  # beta
        self.mask = torch.tril(torch.ones(4, 4)).view(1, 1, 4, 4)  # mask
        self.maybe = torch.zeros(2) if cond else None  # maybe
        self.idx = torch.arange(4)[None, :]  # idx
        setattr(self, "named", torch.eye(2))  # named
        """,
    )
    src = "model.py"
    assert found(report) == {
        ("PI002", "freqs", line_of(tmp_path, src, "# freqs"), "buffer"),
        ("PI001", "gamma", line_of(tmp_path, src, "# gamma"), "parameter"),
        ("PI001", "beta", line_of(tmp_path, src, "# beta"), "parameter"),
        ("PI002", "mask", line_of(tmp_path, src, "# mask"), "buffer"),
        ("PI002", "maybe", line_of(tmp_path, src, "# maybe"), "buffer"),
        ("PI002", "idx", line_of(tmp_path, src, "# idx"), "buffer"),
        ("PI002", "named", line_of(tmp_path, src, "# named"), "buffer"),
    }
    by_attr = {f.attribute: f for f in report.findings}
    assert by_attr["gamma"].severity == "error" and by_attr["freqs"].severity == "warning"
    assert all(f.evidence == "static" and f.cls == "Model" and f.module == "" for f in report.findings)
    assert by_attr["freqs"].message.startswith("`freqs` is a plain tensor attribute: .to()/.cuda() do not move it")


def test_the_line_is_the_assignment_that_runs(tmp_path: Path) -> None:
    report = one_class(
        tmp_path,
        """
        self.a = None
        self.a = torch.zeros(3)  # a-last
        self.b = torch.zeros(3)
        self.b = torch.ones(3)  # b-last
        if cond:
            self.c = torch.zeros(3)  # c-if
        else:
            self.c = torch.ones(3)  # c-else
        if not cond:
            return
        self.d = torch.zeros(1)  # d
        """,
    )
    src = "model.py"
    assert found(report) == {
        ("PI002", "a", line_of(tmp_path, src, "# a-last"), "buffer"),
        ("PI002", "b", line_of(tmp_path, src, "# b-last"), "buffer"),
        ("PI002", "c", line_of(tmp_path, src, "# c-if"), "buffer"),
        ("PI002", "d", line_of(tmp_path, src, "# d"), "buffer"),
    }


def test_containers_of_modules_and_parameters(tmp_path: Path) -> None:
    report = one_class(
        tmp_path,
        """
        self.blocks = [nn.Linear(4, 4) for _ in range(2)]  # blocks
        self.heads = {"a": nn.Linear(4, 2), "b": Head()}  # heads
        self.pair = (nn.ReLU(), Head())  # pair
        self.layers = []  # layers
        for _ in range(3):
            self.layers.append(Head())
        self.scales = [nn.Parameter(torch.ones(1)) for _ in range(3)]  # scales
        self.anchors = [torch.zeros(2), torch.ones(2)]  # anchors
        self.nested = [[nn.Linear(2, 2)]]  # nested
        """,
        preamble="class Head(nn.Module):\n    pass\n\n\n",
    )
    src = "model.py"
    assert found(report, "Model") == {
        ("PI004", "blocks", line_of(tmp_path, src, "# blocks"), "module-list"),
        ("PI004", "heads", line_of(tmp_path, src, "# heads"), "module-dict"),
        ("PI004", "pair", line_of(tmp_path, src, "# pair"), "module-list"),
        ("PI004", "layers", line_of(tmp_path, src, "# layers"), "module-list"),
        ("PI003", "scales", line_of(tmp_path, src, "# scales"), "parameter-list"),
        ("PI003", "anchors", line_of(tmp_path, src, "# anchors"), ""),
        ("PI004", "nested", line_of(tmp_path, src, "# nested"), ""),
    }
    by_attr = {f.attribute: f for f in report.findings}
    assert by_attr["heads"].names == ("heads[a]", "heads[b]")
    assert by_attr["anchors"].no_fix.startswith("plain tensors become buffers")
    assert by_attr["nested"].no_fix == "the entries sit in nested containers; restructure them by hand"


def test_helper_methods_on_the_path_and_overrides(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m.py": HEAD
            + """
        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self._build()

            def _build(self):
                self.table = torch.zeros(8)  # base-build

            def unused(self):
                self.other = torch.zeros(8)


        class Child(Base):
            def _build(self):
                self.table = nn.Parameter(torch.zeros(8))
                self.extra = torch.ones(2)  # child-build
    """
        },
    )
    report = scan([tmp_path], root=tmp_path)
    assert found(report, "Base") == {("PI002", "table", line_of(tmp_path, "m.py", "# base-build"), "buffer")}
    assert found(report, "Child") == {("PI002", "extra", line_of(tmp_path, "m.py", "# child-build"), "buffer")}


def test_project_bases_across_files_aliases_and_nested_classes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/pkg/__init__.py": "from .models import Net as Net\n",
            "src/pkg/base.py": """
            import torch
            from torch.nn import Module as TorchModule


            class Base(TorchModule):
                def __init__(self, dim):
                    super().__init__()
                    self.mask = torch.ones(dim)  # base-mask
        """,
            "src/pkg/models.py": """
            import torch
            import torch.nn as tnn

            from .base import Base

            Layer = tnn.Module


            class Net(Base):
                def __init__(self, dim: int, depth: int = 2):
                    super().__init__(dim)
                    self.blocks = [Leaf() for _ in range(depth)]  # net-blocks


            class Leaf(Layer):
                class Inner(tnn.Sequential):
                    def __init__(self):
                        super().__init__()
                        self.t = torch.zeros(1)  # inner-t


            class Stack(tnn.ModuleList):
                pass
        """,
        },
    )
    report = scan([tmp_path / "src"], root=tmp_path)
    classes = {c.qualname: c for c in report.classes}
    assert set(classes) == {"Base", "Net", "Leaf", "Leaf.Inner", "Stack"}
    net = classes["Net"]
    assert net.module == "pkg.models" and net.import_root == str(tmp_path / "src")
    assert net.via == ("pkg.base.Base", "torch.nn.Module")
    assert [(p.name, p.required, p.annotation, p.default) for p in net.params] == [
        ("dim", True, "int", None),
        ("depth", False, "int", "2"),
    ]
    assert net.required == ("dim",)
    assert classes["Stack"].via == ("torch.nn.ModuleList",) and classes["Stack"].params_known
    base_line = line_of(tmp_path, "src/pkg/base.py", "# base-mask")
    assert found(report, "Net") == {
        ("PI002", "mask", base_line, "buffer"),
        ("PI004", "blocks", line_of(tmp_path, "src/pkg/models.py", "# net-blocks"), "module-list"),
    }
    mask = next(f for f in report.findings if f.cls == "Net" and f.attribute == "mask")
    assert mask.file == str(tmp_path / "src/pkg/base.py") and mask.owner == "Base"
    assert found(report, "Base") == {("PI002", "mask", base_line, "buffer")}
    assert found(report, "Leaf.Inner") == {
        ("PI002", "t", line_of(tmp_path, "src/pkg/models.py", "# inner-t"), "buffer")
    }


def test_a_base_that_cannot_be_read_leaves_the_class_unresolved(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m.py": HEAD
            + """
        from not_installed_anywhere import Mystery


        class Maybe(Mystery):
            def __init__(self):
                super().__init__()
                self.x = torch.zeros(3)


        class Mixed(Mystery, nn.Module):
            def __init__(self):
                super().__init__()
                self.x = torch.zeros(3)
    """
        },
    )
    report = scan([tmp_path], root=tmp_path)
    assert [(u.qualname, u.base) for u in report.unresolved] == [("Maybe", "not_installed_anywhere.Mystery")]
    (mixed,) = report.classes
    assert mixed.qualname == "Mixed" and not mixed.analysed and "not_installed_anywhere.Mystery" in mixed.note
    assert report.findings == ()


def test_library_bases_are_read_from_their_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m.py": HEAD
            + """
        from transformers.modeling_utils import PreTrainedModel
        from timm.layers import Mlp


        class Tiny(PreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.mlps = [Mlp(4) for _ in range(2)]  # mlps
                self.post_init()
    """
        },
    )
    report = scan([tmp_path], root=tmp_path)
    (tiny,) = report.classes
    assert tiny.via[-1] == "torch.nn.Module" and tiny.via[0] == "transformers.modeling_utils.PreTrainedModel"
    assert found(report) == {("PI004", "mlps", line_of(tmp_path, "m.py", "# mlps"), "module-list")}


def test_files_that_cannot_be_read_fail_alone(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "good.py": HEAD + "class Good(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.t = torch.zeros(1)\n",
            "bad.py": "class Broken(:\n",
        },
    )
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    os.symlink(tmp_path / "loop_a.py", tmp_path / "loop_b.py")
    os.symlink(tmp_path / "loop_b.py", tmp_path / "loop_a.py")
    os.mkfifo(tmp_path / "fifo.py")
    report = scan([tmp_path], root=tmp_path)
    reasons = {Path(f.file).name: f.reason for f in report.failures}
    assert reasons["bad.py"].startswith("SyntaxError")
    assert reasons["dangling.py"] == "a dangling symlink"
    assert reasons["loop_a.py"] == "a symlink loop" and reasons["loop_b.py"] == "a symlink loop"
    assert reasons["fifo.py"].startswith("not a regular file")
    assert [c.qualname for c in report.classes] == ["Good"] and len(report.findings) == 1


def test_the_cache_answers_unchanged_files_and_survives_corruption(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache"
    write(
        project,
        {
            "a.py": HEAD + "class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.t = torch.zeros(1)\n",
            "b.py": HEAD + "class B(nn.Module):\n    pass\n",
        },
    )
    first = scan([project], root=project, cache_dir=cache)
    assert first.from_cache == 0
    again = scan([project], root=project, cache_dir=cache)
    assert again.from_cache == 2 and again.classes == first.classes and again.findings == first.findings
    entries = sorted((cache / "static").iterdir())
    assert entries and not any(p.name.startswith(".tmp-") for p in entries)
    for entry in entries:
        entry.write_text("{not json")
    rebuilt = scan([project], root=project, cache_dir=cache)
    assert rebuilt.from_cache == 0 and rebuilt.findings == first.findings
    (project / "a.py").write_text(HEAD + "class A(nn.Module):\n    pass\n")
    changed = scan([project], root=project, cache_dir=cache)
    assert changed.from_cache == 1 and changed.findings == ()


def test_a_symlinked_cache_folder_is_not_used(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "p", tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(project, {"a.py": HEAD + "class A(nn.Module):\n    pass\n"})
    os.symlink(elsewhere, tmp_path / "cache")
    scan([project], root=project, cache_dir=tmp_path / "cache")
    assert list(elsewhere.iterdir()) == []


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = one_class(tmp_path, "self.t = torch.zeros(1)")
    again = StaticReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again.classes == report.classes and again.findings == report.findings


def test_the_pass_imports_no_torch(tmp_path: Path) -> None:
    one_class(tmp_path, "self.t = torch.zeros(1)")
    code = (
        "import sys\nfrom paraminspect.static import scan\n"
        f"r = scan([{str(tmp_path / 'model.py')!r}], root={str(tmp_path)!r})\n"
        "assert len(r.findings) == 1, r\n"
        "heavy = [m for m in ('torch', 'timm', 'transformers', 'rich', 'libcst', 'numpy') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "paraminspect.static.pipeline" in imported and "torch" not in imported


def test_torch_module_table_matches_installed_torch() -> None:
    import inspect

    from torch import nn

    from paraminspect.static.torchnames import TORCH_MODULES

    exported = {n for n in dir(nn) if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)}
    assert exported == set(TORCH_MODULES)


def test_static_findings_agree_with_the_built_engine(tmp_path: Path) -> None:
    """Every bad example of PI001-PI004 that the static pass reports: same code, attribute,
    line and fix kind as the built model's finding (PI001/PI002: the same message too); every
    good example: nothing."""
    import importlib.util

    import paraminspect
    from paraminspect.checks import registration_examples as examples
    from paraminspect.sources import find_assignment

    compared = 0
    for code in ("PI001", "PI002", "PI003", "PI004"):
        for i, example in enumerate(getattr(examples, code)):
            good = tmp_path / f"{code.lower()}_{i}_good.py"
            good.write_text(example.good)
            assert [f for f in scan([good], root=tmp_path).findings if f.code == code] == []
            bad = tmp_path / f"{code.lower()}_{i}_bad.py"
            bad.write_text(example.bad)
            static = [f for f in scan([bad], root=tmp_path).findings if f.code == code]
            if not static:
                continue
            spec = importlib.util.spec_from_file_location(f"static_example_{code}_{i}", bad)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # inspect finds the class's source through it
            spec.loader.exec_module(module)
            built = [f for f in paraminspect.check(module.Model()) if f.code == code]
            (one,) = static
            (other,) = built
            assert (one.attribute, one.fix) == (other.attribute, other.fix), (code, i)
            assert one.line == find_assignment(module.Model, one.attribute).line
            if code in ("PI001", "PI002"):
                assert one.message == other.message
            compared += 1
    assert compared >= 9


def test_a_class_whose_module_is_reassigned_is_found_in_its_file(tmp_path: Path) -> None:
    write(tmp_path, {
        "pkg/__init__.py": "from .models import Net\n\nNet.__module__ = 'pkg'\n",
        "pkg/models.py": HEAD + """
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = torch.ones(1)  # scale
        """,
    })  # fmt: skip
    report = scan([tmp_path / "pkg"], root=tmp_path)
    (net,) = report.classes
    assert (net.file, net.module, net.qualname) == (str(tmp_path / "pkg/models.py"), "pkg.models", "Net")
    assert found(report) == {("PI002", "scale", line_of(tmp_path, "pkg/models.py", "# scale"), "buffer")}
