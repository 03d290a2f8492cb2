"""Repeated blocks folded into one row: `blocks.0` ... `blocks.11` become
`blocks.{0..11}.attn.qkv.weight  x12`. Pure functions of names and comparable keys (no torch):
the same folding serves tensor tables, module tables, forward-pass rows and diff reports.

The rule. Names are dotted paths; a part that is a plain decimal number (`3`, not `03`) is an
index. Among the children of one parent (`blocks.0`, `blocks.1`, ...), two indexed children are
alike when everything under them (the item at the child itself included) has the same relative
names, in the same order, with equal keys. Alike children with consecutive indices fold into
one run `{a..b}` (two or more); a child that differs, or a gap in the indices, ends a run:
`{0..4}`, `5`, `{6..11}`. The key decides what "equal" means (a tensor's kind, shape, dtype,
device and requires_grad; a module's type and counts; a forward row's output shapes and
FLOPs): see the `*_key` functions here and forward.stats_data.fold_key.

Nested repeats fold from the inside out: `layers.0.experts.0.w1` ... `layers.31.experts.7.w1`
first becomes `layers.N.experts.{0..7}.w1` within each layer, and then, where every layer
folded alike, `layers.{0..31}.experts.{0..7}.w1  x256`; a layer whose experts differ splits the
outer run and keeps its own inner runs. The count of a folded row is the number of items it
stands for (the product of the nested runs).

Rows keep the input's order (a table sorted by size stays sorted): a folded row takes the
place of its first member."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from paraminspect.tensors.records import ModuleSummaryRow, TensorRecord

T = TypeVar("T")

__all__ = [
    "Folded",
    "fold",
    "index_runs",
    "module_key",
    "run_label",
    "structure_keys",
    "tensor_key",
]


@dataclass(frozen=True)
class Folded(Generic[T]):
    """One output row: `item` (the first member, in input order) standing for `count` items
    named `members`; `name` has `{a..b}` where indices were folded."""

    name: str
    item: T
    count: int
    members: tuple[str, ...]

    @property
    def folded(self) -> bool:
        return self.count > 1


def run_label(first: int, last: int) -> str:
    return f"{{{first}..{last}}}"


def name_parts(name: str) -> list[str]:
    """Dotted parts of a name, a folded run (`layers.{0..31}.mlp`) kept whole as one part."""
    if "{" not in name:
        return name.split(".")
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in name:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        if ch == "." and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _index(part: str) -> int | None:
    """A plain decimal index (`0`, `12`), else None (`03`, `-1`, `layer`)."""
    if part.isdigit() and part.isascii() and (part == "0" or not part.startswith("0")):
        return int(part)
    return None


class _Entry:
    """Plain slotted classes, not dataclasses: a 50,000-tensor table makes ~125,000 of them."""

    __slots__ = ("count", "key", "members", "position")

    def __init__(self, position: int, key: Hashable, count: int, members: list[int]) -> None:
        self.position = position  # of the first member in the input
        self.key = key
        self.count = count
        self.members = members  # input positions, in input order


class _Node:
    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []  # items named exactly this path
        self.children: dict[str, _Node] = {}  # by part label, in first-seen order


def _signature(node: _Node) -> tuple[Hashable, ...]:
    """Relative names, counts and keys of everything under `node`, in order."""
    out: list[Hashable] = []

    def walk(n: _Node, prefix: tuple[str, ...]) -> None:
        for e in n.entries:
            out.append((prefix, e.count, e.key))
        for label, child in n.children.items():
            walk(child, (*prefix, label))

    walk(node, ())
    return tuple(out)


def _entries(node: _Node) -> list[_Entry]:
    out = list(node.entries)
    for child in node.children.values():
        out.extend(_entries(child))
    return out


def _merge(nodes: list[_Node]) -> _Node:
    """Alike subtrees as one: the first one's shape, counts summed, members joined in step."""
    first = nodes[0]
    groups = [_entries(n) for n in nodes]
    for i, entry in enumerate(_entries(first)):
        others = [g[i] for g in groups[1:]]
        entry.count += sum(o.count for o in others)
        entry.members = sorted([*entry.members, *(m for o in others for m in o.members)])
        entry.position = min(entry.position, *(o.position for o in others))
    return first


def _fold_node(node: _Node) -> None:
    for child in node.children.values():
        if child.children:  # a leaf has nothing to fold
            _fold_node(child)
    indexed = [(i, label) for label in node.children if label[:1].isdigit() and (i := _index(label)) is not None]
    if len(indexed) < 2:
        return
    indexed.sort()
    signatures = {label: _signature(node.children[label]) for _, label in indexed}
    runs: list[list[tuple[int, str]]] = []
    for i, label in indexed:
        last = runs[-1][-1] if runs else None
        if last is not None and last[0] + 1 == i and signatures[last[1]] == signatures[label]:
            runs[-1].append((i, label))
        else:
            runs.append([(i, label)])
    replaced: dict[str, tuple[str, _Node] | None] = {}
    for run in runs:
        if len(run) < 2:
            continue
        merged = _merge([node.children[label] for _, label in run])
        replaced[run[0][1]] = (run_label(run[0][0], run[-1][0]), merged)
        for _, label in run[1:]:
            replaced[label] = None
    if not replaced:
        return
    children: dict[str, _Node] = {}
    for label, child in node.children.items():
        if label not in replaced:
            children[label] = child
        elif replaced[label] is not None:
            new_label, merged = replaced[label]  # type: ignore[misc]
            children[new_label] = merged
    node.children = children


def fold(items: Sequence[T], name: Callable[[T], str], key: Callable[[T], Hashable]) -> list[Folded[T]]:
    """`items` with repeated blocks folded (see the module docstring), in input order."""
    root = _Node()
    for position, item in enumerate(items):
        node = root
        text = name(item)
        for part in text.split(".") if text else ():
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.entries.append(_Entry(position, key(item), 1, [position]))
    _fold_node(root)
    rows: list[tuple[int, Folded[T]]] = []

    def collect(n: _Node, path: tuple[str, ...]) -> None:
        for e in n.entries:
            label = ".".join(path)
            rows.append(
                (e.position, Folded(label, items[e.members[0]], e.count, tuple(name(items[m]) for m in e.members)))
            )
        for label, child in n.children.items():
            collect(child, (*path, label))

    collect(root, ())
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


def index_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted distinct indices: [0,1,2,5,7,8] -> [(0,2),(5,5),(7,8)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(indices)):
        if runs and runs[-1][1] + 1 == i:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


# --- keys: what must be equal for rows to fold ------------------------------------------------


def tensor_key(r: TensorRecord) -> Hashable:
    """Kind, registration, shape, dtype, device, requires_grad, type and layout; tied tensors
    fold only with tensors tied the same number of ways."""
    return (
        r.kind,
        r.persistent,
        r.requires_grad,
        r.shape,
        r.dtype,
        r.device,
        r.tensor_type,
        r.layout,
        r.uninitialized,
        r.module_type,
        len(r.aliases),
    )


def structure_keys(records: Sequence[TensorRecord]) -> dict[str, Hashable]:
    """For every module path holding tensors: the relative names and `tensor_key`s of every
    tensor below it, so that module rows fold only where their whole subtrees are alike (not
    only their counts)."""
    below: dict[str, list[Hashable]] = {}
    for r in records:
        parts = r.module.split(".") if r.module else []
        key = tensor_key(r)
        for level in range(len(parts) + 1):
            prefix = ".".join(parts[:level])
            relative = r.name[len(prefix) + 1 :] if prefix else r.name
            below.setdefault(prefix, []).append((relative, key))
    return {path: tuple(entries) for path, entries in below.items()}


def module_key(row: ModuleSummaryRow, structure: dict[str, Hashable] | None = None) -> Hashable:
    """Type, depth, counts and size; with `structure` (structure_keys), the subtree too."""
    base = (row.type, row.depth, row.parameters, row.trainable, row.buffers, row.bytes)
    return base if structure is None else (*base, structure.get(row.path, ()))
