"""`diff` output: the rich report for people and the JSON contract (schema_version 1).

Takes a Diff (plain data, no torch). Names come from files and user code: control
characters are escaped before a terminal sees them. In the text report, repeated blocks fold
into one line (`model.layers.{0..31}.mlp.down_proj.weight  x32`, tensors.collapse.fold: only
names whose keys are alike on both sides); the JSON lists every name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from paraminspect.diffs.grouping import MAX_LINES, group_by_prefix
from paraminspect.diffs.keyset import Key, KeySet
from paraminspect.diffs.result import Diff, Entry, Explanation
from paraminspect.render.fit import wrap_text
from paraminspect.render.formatting import printable
from paraminspect.tensors.collapse import Folded, fold
from paraminspect.wording import plural

DIFF_SCHEMA_VERSION = 1
NAMES_PER_EXPLANATION = 4  # groups shown under one explanation
DEFAULT_MAPPING_FILE = "mapping.json"


def _shape(key: Key | None) -> list[int] | None:
    return list(key.shape) if key is not None and key.shape is not None else None


def entry_dict(e: Entry) -> dict[str, Any]:
    return {
        "name": e.name,
        "left_shape": _shape(e.left),
        "right_shape": _shape(e.right),
        "left_dtype": e.left.dtype if e.left else None,
        "right_dtype": e.right.dtype if e.right else None,
    }


def _side(k: KeySet) -> dict[str, Any]:
    return {
        "spec": k.spec,
        "resolved": k.resolved,
        "source": k.source,
        "type": k.root_type,
        "keys": len(k.keys),
        "notes": list(k.notes),
    }


def _explanation_dict(e: Explanation) -> dict[str, Any]:
    return {"kind": e.kind, "names": list(e.names), "message": e.message, "blocks": e.blocks, "mapping": e.mapping}


def diff_json(diff: Diff) -> str:
    doc = {
        "schema_version": DIFF_SCHEMA_VERSION,
        "left": _side(diff.left),
        "right": _side(diff.right),
        "loadable": diff.loadable,
        "verdict": diff.verdict_by,
        "error": diff.error,
        "summary": diff.summary,
        "counts": {
            "matched": len(diff.matched),
            "missing": len(diff.missing),
            "unexpected": len(diff.unexpected),
            "mismatched": len(diff.mismatched),
        },
        "matched": [entry_dict(e) for e in diff.matched],
        "missing": [entry_dict(e) for e in diff.missing],
        "unexpected": [entry_dict(e) for e in diff.unexpected],
        "mismatched": [entry_dict(e) for e in diff.mismatched],
        "explanations": [_explanation_dict(e) for e in diff.explanations],
        "unexplained": {
            "missing": list(diff.unexplained_missing),
            "unexpected": list(diff.unexplained_unexpected),
            "mismatched": list(diff.unexplained_mismatched),
        },
        "mapping": diff.mapping,
    }
    fp = diff.from_pretrained
    if fp is not None:  # a transformers model as the target
        doc["from_pretrained"] = {
            "model_class": fp.model_class,
            "prefix": fp.prefix,
            "prefix_action": fp.prefix_action,
            "tied_filled": list(fp.tied_filled),
            "newly_initialized": list(fp.newly_initialized),
            "not_used": list(fp.not_used),
            "summary": fp.summary(),
        }
    return json.dumps(doc, indent=2) + "\n"


def _shape_text(key: Key | None) -> str:
    if key is None:
        return "-"
    return "uninitialized" if key.shape is None else str(tuple(key.shape))


def _side_line(label: str, k: KeySet) -> Text:
    line = Text(f"{label:<6} ", style="dim")
    line.append(printable(k.spec), style="bold")
    if k.resolved and k.resolved != k.spec:
        line.append(f" -> {printable(k.resolved)}", style="dim")
    what = printable(k.root_type) if k.is_model else "checkpoint"
    line.append(f"  ({what}, {plural(len(k.keys), 'key')})")
    return line


def _both_keys(diff: Diff) -> Callable[[str], Hashable]:
    """What must be alike for two names to fold: their keys on both sides."""
    return lambda name: (diff.left.keys.get(name), diff.right.keys.get(name))


def _folded(names: Sequence[str], key: Callable[[str], Hashable]) -> list[Folded[str]]:
    return fold(list(names), lambda n: n, key)


def _counted_groups(rows: list[Folded[str]], limit: int) -> list[tuple[str, int, Folded[str] | None]]:
    """(label, keys it stands for, the row when it is one) for up to `limit` lines: the
    folded rows themselves when few, else grouped by module prefix."""
    counts = {row.name: row.count for row in rows}
    by_name = {row.name: row for row in rows}
    out: list[tuple[str, int, Folded[str] | None]] = []
    for g in group_by_prefix([row.name for row in rows], max_lines=limit):
        total = sum(counts[n] for n in g.names)
        out.append((g.label, total, by_name[g.label] if g.single else None))
    return out


def _row_text(row: Folded[str], sep: str = "  ") -> str:
    return printable(row.name) + (f"{sep}x{row.count:,}" if row.folded else "")


def _group_text(names: tuple[str, ...], limit: int, key: Callable[[str], Hashable]) -> str:
    parts = []
    for label, count, row in _counted_groups(_folded(names, key), limit):
        if row is not None:
            parts.append(_row_text(row, " "))
        elif label.endswith("*"):
            parts.append(f"{count:,} more")
        else:
            parts.append(f"{count:,} keys under {printable(label)}")
    return ", ".join(parts)


def _print_plain(console: Console, title: str, names: tuple[str, ...], keys: dict[str, Key], both: Diff | None) -> None:
    if not names:
        return
    console.print(Text(f"  {title} ({len(names):,})", style="bold"))
    key: Callable[[str], Hashable] = _both_keys(both) if both is not None else keys.get
    for label, count, row in _counted_groups(_folded(names, key), MAX_LINES):
        line = Text("    ")
        if row is not None:
            line.append(_row_text(row))
            first = row.item
            if both is not None:
                line.append(
                    f"  {_shape_text(both.right.keys.get(first))} in the other side, "
                    f"{_shape_text(both.left.keys.get(first))} in the target",
                    style="dim",
                )
            else:
                found = keys.get(first)
                line.append(f"  {_shape_text(found)} {found.dtype if found else ''}", style="dim")
        elif label.endswith("*"):
            line.append(f"{count:,} more keys", style="dim")
        else:
            line.append(f"{count:,} keys under ")
            line.append(printable(label), style="bold")
        console.print(line)


def _verdict_text(diff: Diff) -> str:
    if diff.verdict_by == "file":  # the checkpoint's own library refuses it (the summary says why)
        return "the file itself does not load"
    if diff.verdict_by == "load_state_dict":
        return "torch's load_state_dict(strict=True) on meta: " + ("loads" if diff.loadable else "refused")
    return "no model to load into: verdict from the keys"


def _print_from_pretrained(console: Console, fp: Any, key: Callable[[str], Hashable]) -> None:
    """transformers' view (diffs.hf_load.FromPretrained): its warnings, before loading anything."""
    console.print()
    console.print(Text(printable(fp.summary()), style="bold green" if fp.clean else "bold yellow"))
    if fp.prefix_action:
        how = "adds" if fp.prefix_action == "added" else "strips"
        console.print(Text(f"  it {how} the base_model_prefix `{printable(fp.prefix)}.` itself", style="dim"))
    if fp.tied_filled:
        console.print(Text(f"  tied weights filled by the tie: {_group_text(fp.tied_filled, 4, key)}", style="dim"))
    for label, names in (("newly initialized", fp.newly_initialized), ("not used", fp.not_used)):
        if names:
            console.print(Text(f"  {label}: {_group_text(names, NAMES_PER_EXPLANATION, key)}"))


def _print_hanging(console: Console, text: str, hanging: int, style: str = "") -> None:
    """`text` wrapped at words to a terminal, lines after the first indented by `hanging`
    (one line when piped)."""
    width = console.width if console.is_terminal else None
    for line in wrap_text(text, width, "", hanging=" " * hanging):
        console.print(Text(line, style=style), soft_wrap=True)


def print_diff(console: Console, diff: Diff, mapping_file: str | None = None) -> None:
    style = "bold green" if diff.loadable else "bold red"
    _print_hanging(console, printable(diff.summary), 2, style)
    console.print(_side_line("left", diff.left))
    console.print(_side_line("right", diff.right))
    counts = (
        f"matched {len(diff.matched):,} · missing {len(diff.missing):,} · unexpected {len(diff.unexpected):,} · "
        f"shape mismatches {len(diff.mismatched):,} · {_verdict_text(diff)}"
    )
    _print_hanging(console, counts, 2, "dim")
    refused = diff.verdict_by == "file"
    if diff.error and not diff.loadable and not refused and not (diff.missing or diff.unexpected or diff.mismatched):
        console.print(Text(f"torch: {printable(diff.error)}", style="red"))
    if diff.explanations:
        console.print()
        console.print(Text("Why", style="bold"))
        width = max(len(e.kind) for e in diff.explanations)
        room = console.width if console.is_terminal else None
        hanging = " " * (width + 4)  # lines after the first start under the message
        for e in diff.explanations:
            message = wrap_text(f"{e.kind:<{width}}  {printable(e.message)}", room, "  ", hanging=hanging)
            line = Text("  ")
            line.append(f"{e.kind:<{width}}", style="bold" if e.blocks else "cyan")
            line.append(message[0][2 + width :])
            console.print(line, soft_wrap=True)
            for rest in message[1:]:
                console.print(Text(rest), soft_wrap=True)
            names = _group_text(tuple(e.mapping) or e.names, NAMES_PER_EXPLANATION, _both_keys(diff))
            for rest in wrap_text(names, room, hanging):
                console.print(Text(rest, style="dim"), soft_wrap=True)
    if diff.unexplained_missing or diff.unexplained_unexpected or diff.unexplained_mismatched:
        console.print()
        console.print(Text("Not explained", style="bold"))
        _print_plain(
            console, "missing: in the target, not in the other side", diff.unexplained_missing, diff.left.keys, None
        )
        _print_plain(
            console,
            "unexpected: in the other side, not in the target",
            diff.unexplained_unexpected,
            diff.right.keys,
            None,
        )
        _print_plain(console, "shape mismatches", diff.unexplained_mismatched, {}, diff)
    if diff.from_pretrained is not None:
        _print_from_pretrained(console, diff.from_pretrained, _both_keys(diff))
    if diff.mapping:
        console.print()
        path = mapping_file or DEFAULT_MAPPING_FILE
        where = f"written to {path}" if mapping_file else f"--mapping {path} writes it"
        console.print(
            Text(
                f"Key mapping: {plural(len(diff.mapping), 'rename')} ({printable(where)}); apply it with:", style="bold"
            )
        )
        console.print(Text(f"    mapping = json.load(open({printable(path)!r}))"))
        console.print(Text("    model.load_state_dict({mapping.get(k, k): v for k, v in state_dict.items()})"))


def write_json(out: Any, report: Any) -> None:
    """`diff --format json` of a commands.diff.DiffReport."""
    out.write(diff_json(report.diff))


def write_text(out: Any, report: Any) -> None:
    """`diff`'s text report of a commands.diff.DiffReport."""
    from paraminspect.render.console import make_console

    print_diff(make_console(out), report.diff, report.mapping)
