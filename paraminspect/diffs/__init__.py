"""diff: will one side's state_dict load into the other, and if not, why.

gather.py turns each side into plain data (keyset.py), compare.py and the explainers
(explain.py, shape_changes.py, hf_load.py, grouping.py) are pure functions on that data,
result.py is the Diff; render/diff_report.py prints it, commands/diff.py runs the command.
"""

from __future__ import annotations

from typing import Any

from paraminspect.diffs.compare import compare
from paraminspect.diffs.keyset import KeySet
from paraminspect.diffs.result import EXPLANATION_KINDS, Diff, Entry, Explanation

__all__ = ["EXPLANATION_KINDS", "Diff", "Entry", "Explanation", "KeySet", "compare", "diff_sides"]


def _side(
    obj: Any, kwargs: dict[str, Any] | None, device: str | None, trusts: dict[str, bool], against: KeySet | None
) -> KeySet:
    from paraminspect.diffs import gather as g

    if isinstance(obj, KeySet):
        return obj
    if isinstance(obj, str):
        return g.gather(obj, g.side_kwargs(obj, kwargs), device, against=against, **trusts)
    return g.keyset_from_object(obj, type(obj).__name__, against)


def diff_sides(
    left: Any,
    right: Any,
    *,
    left_kwargs: dict[str, Any] | None = None,
    right_kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> Diff:
    """Diff two sides, `left` being the target (`left.load_state_dict(right)`). Each side is a
    MODEL spec, an nn.Module (the verdict runs on a meta copy: the module is not changed), a
    state_dict mapping, or a KeySet gathered earlier. Factory kwargs go to model specs only.
    Raises LoadError/UsageError."""
    trusts = {"trust_pickle": trust_pickle, "trust_remote_code": trust_remote_code}
    right_keys = _side(right, right_kwargs, device, trusts, None)
    left_keys = _side(left, left_kwargs, device, trusts, right_keys)
    return compare(left_keys, right_keys)
