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
