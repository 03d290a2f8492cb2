from __future__ import annotations

import torch
from torch import nn

from paraminspect.sources import find_assignment, is_suppressed, noqa_codes


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.ones(2)  # noqa: PI002
        self.linear1 = nn.Linear(2, 3)
        self.linear1.weight = nn.Parameter(torch.zeros(2, 3))
        setattr(self, "offset", torch.zeros(1))  # noqa
        self.register_buffer("table", torch.zeros(1))


class Child(Base):
    def __init__(self):
        super().__init__()
        self.extra: list = [torch.zeros(1)]


def _line_of(text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(Base)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_finds_plain_chained_setattr_and_register_assignments():
    assert find_assignment(Base, "scale").line == _line_of("self.scale =")
    assert find_assignment(Base, ("linear1", "weight")).line == _line_of("self.linear1.weight =")
    assert find_assignment(Base, "offset").line == _line_of('setattr(self, "offset"')
    assert find_assignment(Base, "table").line == _line_of('register_buffer("table"')
    assert find_assignment(Base, "scale").file.endswith("test_sources.py")


def test_walks_the_mro_and_gives_up_cleanly():
    assert find_assignment(Child, "scale") == find_assignment(Base, "scale")
    assert find_assignment(Child, "extra") is not None
    assert find_assignment(Child, "missing") is None
    assert find_assignment(nn.Linear, "nonexistent") is None


def test_noqa_comments():
    assert noqa_codes(find_assignment(Base, "scale")) == frozenset({"PI002"})
    assert is_suppressed("PI002", find_assignment(Base, "scale"))
    assert not is_suppressed("PI001", find_assignment(Base, "scale"))
    assert is_suppressed("PI003", find_assignment(Base, "offset"))  # bare noqa suppresses all
    assert noqa_codes(find_assignment(Base, "table")) is None
    assert noqa_codes(None) is None


def test_never_points_into_torch():
    assert find_assignment(nn.Linear, "weight") is None
    assert find_assignment(nn.LSTM, "_flat_weights") is None


_NESTED_CLASSES = """
import functools


def decorate(cls):
    return cls


@decorate
class Outer:
    class Inner:
        x = 1

    def method(self):
        class InMethod:
            pass

        return InMethod


def factory():
    try:
        class Made:
            pass
    except ImportError:
        class Made:  # the second one of that name: inspect finds the first
            pass
    return Made


if True:
    class Twice:
        first = True
else:
    class Twice:
        first = False
"""


def test_class_lines_agrees_with_inspect_and_sees_an_edited_file(tmp_path, monkeypatch):
    import importlib
    import inspect
    import os

    from paraminspect.sources import class_lines

    (tmp_path / "nested_classes_mod.py").write_text(_NESTED_CLASSES)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("nested_classes_mod")
    classes = [mod.Outer, mod.Outer.Inner, mod.Outer().method(), mod.factory(), mod.Twice]
    for cls in classes:
        lines, start = inspect.getsourcelines(cls)
        file, found, first = class_lines(cls)
        assert (file, first) == (inspect.getsourcefile(cls), start), cls
        assert "".join(found).rstrip() == "".join(lines).rstrip(), cls
    assert class_lines(int) is None  # a built-in: no source

    path = tmp_path / "nested_classes_mod.py"
    before = class_lines(mod.Twice)[2]
    stat = path.stat()
    path.write_text("\n\n" + _NESTED_CLASSES)  # two lines further down, same class names
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert class_lines(mod.Twice)[2] == before + 2 == inspect.getsourcelines(mod.Twice)[1]
