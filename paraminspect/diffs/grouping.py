"""Long name lists folded by module prefix: "312 keys under `backbone.`", never a wall of names.
Names may be folded runs of repeated blocks (`layers.{0..31}.mlp.w`, tensors.collapse): a run
is one part of a name."""

from __future__ import annotations

from dataclasses import dataclass

from paraminspect.tensors.collapse import name_parts
from paraminspect.wording import plural

MAX_LINES = 8


@dataclass(frozen=True)
class Group:
    """Either one name (count 1, prefix None) or `count` names under `prefix`."""

    label: str  # the name, or the prefix with its trailing dot
    count: int
    names: tuple[str, ...]

    @property
    def single(self) -> bool:
        return self.count == 1


def _common_prefix(names: list[str]) -> str:
    """The longest dotted prefix (ending in a dot) every name shares."""
    first = name_parts(names[0])
    depth = len(first) - 1
    for name in names[1:]:
        parts = name_parts(name)
        depth = min(depth, len(parts) - 1)
        for i in range(depth):
            if parts[i] != first[i]:
                depth = i
                break
        if depth == 0:
            return ""
    return ".".join(first[:depth]) + "." if depth else ""


def group_by_prefix(names: list[str] | tuple[str, ...], max_lines: int = MAX_LINES) -> list[Group]:
    """Up to `max_lines` groups: the names themselves when few, else one group per module under
    their common prefix (descending while a single group would hold them all)."""
    names = list(names)
    if len(names) <= max_lines:
        return [Group(n, 1, (n,)) for n in names]
    common = _common_prefix(names)
    buckets: dict[str, list[str]] = {}
    for name in names:
        rest = name_parts(name[len(common) :])
        buckets.setdefault(common + rest[0] + ("." if len(rest) > 1 else ""), []).append(name)
    groups = [Group(key, len(v), tuple(v)) if len(v) > 1 else Group(v[0], 1, tuple(v)) for key, v in buckets.items()]
    if len(groups) <= max_lines:
        return groups
    # too many modules: the largest ones, then one line for the rest
    keep = sorted(range(len(groups)), key=lambda i: -groups[i].count)[: max_lines - 1]
    shown = [groups[i] for i in sorted(keep)]
    rest = [n for i, g in enumerate(groups) if i not in set(keep) for n in g.names]
    label = f"{common}*" if common else "*"
    shown.append(Group(label, len(rest), tuple(rest)))
    return shown


def describe_names(names: list[str] | tuple[str, ...], what: str = "key") -> str:
    """A short phrase for a list of names: `a`, `b` / 12 modules under `disc.` / 40 keys in 3 groups."""
    names = list(names)
    if not names:
        return f"no {what}s"
    if len(names) <= 3:
        return ", ".join(f"`{n}`" for n in names)
    common = _common_prefix(names)
    if common:
        return f"{plural(len(names), what)} under `{common}`"
    return f"{plural(len(names), what)} (`{names[0]}`, `{names[1]}`, ...)"
