"""Terminal layout, tested on a real pseudo-terminal of a set width: the CLI runs under
pexpect (ptyprocess) with the pty's window size set, and pyte plays the bytes it wrote on a
screen much wider than the pty, so that a line the terminal would wrap shows as a line
wider than the pty."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pexpect
import pyte
import pytest
from conftest import ROOT, run_process, sample

SCREEN_COLUMNS = 400


@dataclass
class Screen:
    lines: list[str]
    raw: bytes
    code: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def widest(self) -> int:
        return max((len(line) for line in self.lines), default=0)


def on_pty(columns: int, *args: str, timeout: float = 240) -> Screen:
    """Run `python -m paraminspect ARGS` on a pty `columns` wide; the screen it leaves."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    for name in ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR"):
        env.pop(name, None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "paraminspect", *args],
        dimensions=(2000, columns),
        env=env,
        cwd=str(ROOT),
        timeout=timeout,
    )
    raw = child.read()
    child.wait()
    child.close()
    # As many rows as the output can fill (each line, plus a row per SCREEN_COLUMNS it may
    # run over), not thousands: pyte builds its display row by row, cell by cell.
    rows = raw.count(b"\n") + len(raw) // SCREEN_COLUMNS + 2
    screen = pyte.Screen(SCREEN_COLUMNS, rows)
    stream = pyte.ByteStream(screen)
    stream.feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    code = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
    return Screen(lines, raw, code)


def table_rows(screen: Screen) -> list[str]:
    return [line for line in screen.lines if line.startswith("│")]


# 1. the tensor table fits the terminal: no row wraps, names shortened in the middle


def test_show_resnet50_fits_80_columns_and_200_keeps_every_column():
    narrow = on_pty(80, "show", "resnet50", "--no-collapse")
    assert narrow.code == 0
    assert narrow.widest() <= 80, max(narrow.lines, key=len)
    rows = table_rows(narrow)
    assert len(rows) == 320  # one screen line per tensor: nothing wrapped onto a second line
    head = next(line for line in narrow.lines if line.startswith("┃"))
    assert "Numel" not in head and "Size" in head and "Name" in head  # Numel gives way before Size
    assert "Left out to fit 80 columns: Numel; Device (all on meta)" in narrow.text.replace("\n", " ")
    assert "\x1b[" in narrow.raw.decode()  # a terminal gets colour
    wide = on_pty(200, "show", "resnet50", "--no-collapse")
    assert wide.widest() <= 200
    head = next(line for line in wide.lines if line.startswith("┃"))
    assert all(h in head for h in ("Name", "Kind", "Grad", "Shape", "Dtype", "Device", "Numel", "Size"))
    assert "Left out" not in wide.text
    assert "layer4.2.downsample" not in wide.text or "…" not in wide.text


def test_long_names_shortened_in_the_middle_at_80_columns():
    screen = on_pty(80, "show", sample("huge"), "--no-collapse")
    assert screen.code == 0 and screen.widest() <= 80
    rows = table_rows(screen)
    assert len(rows) == 724
    names = [row.split("│")[1].strip() for row in rows]
    cut = [n for n in names if "…" in n]
    assert cut, names[:5]
    for name in cut:  # the layer index at the front, the tensor's own name at the end
        assert name.startswith("layers.") and name.endswith(("weight", "inv_freq")), name
    assert "layers.0.…q_proj.weight" in names or any(n.startswith("layers.0.") and "q_proj" in n for n in cut)


def test_piped_output_keeps_whole_names_and_no_colour():
    result = run_process("show", sample("huge"), "--no-collapse")
    assert result.code == 0
    assert "…" not in result.out and "\x1b[" not in result.out
    assert "layers.79.self_attn.q_proj.weight" in result.out
    head = next(line for line in result.out.splitlines() if line.startswith("┃"))
    assert "Numel" in head and "Device" in head


def test_depth_table_fits_80_columns():
    screen = on_pty(80, "show", "vit_base_patch16_224", "--depth", "2", "--no-collapse")
    assert screen.code == 0 and screen.widest() <= 80
    assert len(table_rows(screen)) == 24  # root, 11 children, 12 blocks: one line each


# 2. check text: ruff-style location lines, wrapped message, the source line marked


def test_check_text_at_80_columns_is_ruff_style():
    screen = on_pty(80, "check", sample("ci_example"))
    assert screen.code == 1
    assert screen.widest() <= 80
    lines = screen.lines
    first = lines.index("PI002 [*] warning scale")  # code first, as ruff's full output
    assert lines[first + 1].startswith("    `scale` is a plain tensor attribute")
    assert all(line.startswith("    ") for line in lines[first + 1 : first + 3])  # indented continuation
    arrow = lines.index(" --> sample_models/ci_example.py:8:14")  # the path on its own line, with the column
    assert first < arrow
    assert lines[arrow + 1 : arrow + 3] == ["  |", "8 |         self.scale = torch.ones(dim)"]
    marker = lines[arrow + 3]
    assert marker.endswith("^^^^^") and marker.index("^") == lines[arrow + 2].index("scale") == 4 + 13  # column 14
    assert "PI004 [*] error blocks" in lines and " --> sample_models/ci_example.py:9:14" in lines
    # the path is a hyperlink (OSC 8) to the whole file on a terminal
    link = b"\x1b]8;id="
    assert link in screen.raw and (ROOT / "sample_models" / "ci_example.py").as_uri().encode() in screen.raw


def test_check_concise_one_line_per_finding():
    result = run_process("check", sample("ci_example"), "--format", "concise")
    assert result.code == 1
    found = [line for line in result.out.splitlines() if ": PI00" in line]
    assert len(found) == 2
    assert found[0].startswith("sample_models/ci_example.py:8: PI002 [*] warning scale: `scale` is a plain tensor")
    assert "\x1b]8;" not in result.out  # piped: no hyperlink


# 4. explain: prose wrapped to the terminal, code never broken (cut with … when too wide)


def _example_code(rule) -> list[str]:
    """The code lines `explain` prints for the rule's examples, as written (blank lines left
    out): each bad model but for its imports, then the lines its good version changes."""
    import difflib

    from paraminspect.checks.rule import EXAMPLE_IMPORTS

    lines = []
    for example in rule.examples:
        bad = example.bad.removeprefix(EXAMPLE_IMPORTS).strip("\n").splitlines()
        good = example.good.removeprefix(EXAMPLE_IMPORTS).strip("\n").splitlines()
        lines += [f"    {line}" for line in bad if line]
        diff = difflib.unified_diff(bad, good, lineterm="", n=0)
        lines += [f"    {line}" for line in diff if not line.startswith(("---", "+++", "@@"))]
    return lines


def _paragraphs(rule) -> list[str]:
    return [" ".join(block.split()) for block in rule.explanation.strip().split("\n\n")]


@pytest.mark.parametrize("columns", [80, 40])
def test_explain_every_rule_fits_the_terminal_and_never_wraps_code(columns):
    from paraminspect.checks import all_rules

    for code, rule in all_rules().items():
        screen = on_pty(columns, "explain", code)
        assert screen.code == 0 and screen.widest() <= columns, (code, max(screen.lines, key=len))
        assert "\x1b[" in screen.raw.decode()  # a terminal gets colour
        lines = screen.lines
        heading = f"{code} {rule.name} ({rule.severity})"
        assert lines[0] == heading if columns == 80 else lines[0].startswith(f"{code} {rule.name}"), lines[0]
        assert any(line.startswith("Examples (the tests build each") for line in lines), code
        assert sum(line.startswith("Bad: reported as") for line in lines) == len(rule.examples)
        # the prose: one set of it, wrapped at word boundaries, no hand-written code in it
        words = " ".join(" ".join(line.split()) for line in lines if line and not line.startswith(" "))
        for paragraph in _paragraphs(rule):
            assert paragraph in words, (code, paragraph[:60])
        assert "Example (bad)" not in screen.text
        # the code: every line of every example, in order, each on one screen line, whole
        # when it fits and cut at the edge with … when it does not; never wrapped
        shown = [line for line in lines if line.startswith("    ")]
        expected = [line if len(line) <= columns else line[: columns - 1] + "…" for line in _example_code(rule)]
        assert shown == expected, code
        if columns == 80:
            assert not any(line.endswith("…") for line in shown)  # the examples fit 80 columns


def test_explain_piped_has_no_colour_and_whole_lines():
    from paraminspect.checks import all_rules

    for code, rule in all_rules().items():
        result = run_process("explain", code)
        assert result.code == 0 and "\x1b[" not in result.out and "…" not in result.out, code
        lines = result.out.splitlines()
        for paragraph in _paragraphs(rule):  # one line a paragraph: the reader's tool wraps it
            assert paragraph in lines, (code, paragraph[:60])
        assert [line for line in lines if line.startswith("    ")] == _example_code(rule), code


# 5. the progress bar of a multi-model run


def test_progress_bar_ends_with_counts_and_its_time():
    screen = on_pty(
        60, "check", sample("ci_example"), sample("ci_example_fixed"), "-j", "1", "--format", "json", timeout=300
    )
    assert screen.code == 1
    bar = next(line for line in screen.lines if line.startswith("checking"))
    assert len(bar) <= 60
    assert "2/2" in bar and bar.endswith("1 with findings · 0 failed")
    assert "ci_example_fixed" not in bar  # not the name of whichever model finished last
    time = bar.split("2/2", 1)[1].split()[0]
    assert len(time.split(":")) == 3  # the whole elapsed time, h:mm:ss


@pytest.mark.parametrize("columns", [40, 60, 120])
def test_rules_never_wider_than_the_terminal(columns):
    screen = on_pty(columns, "rules")
    assert screen.code == 0 and screen.widest() <= columns
    from paraminspect.checks import all_rules

    assert sum(line.startswith("PI") for line in screen.lines) == len(all_rules())  # every rule, its code first
    if columns == 40:
        assert "PI102  tensor-attribute-set-in-forward" in screen.lines
        assert "       error: Tensor attribute set on a" in screen.lines  # the severity beside the summary


def test_check_concise_never_wraps_at_50_columns():
    screen = on_pty(50, "check", sample("ci_example"), "--format", "concise", "--no-cache")
    assert screen.code == 1 and screen.widest() <= 50, max(screen.lines, key=len)
    found = [line for line in screen.lines if ": PI00" in line]
    assert len(found) == 2  # one screen line per finding
    assert found[0].startswith("…/ci_example.py:8: PI002 [*] warning scale: `")
    assert found[0].endswith("…") and len(found[0]) == 50


def test_notes_wrap_at_word_boundaries_on_a_terminal_and_stay_one_line_piped(tmp_path):
    factory = tmp_path / "cpu_only.py"
    factory.write_text(
        "import torch\n"
        "from torch import nn\n\n\n"
        "def build():\n"
        "    if torch.empty(0).is_meta:\n"
        "        raise RuntimeError('this factory reads real values while it builds')\n"
        "    return nn.Linear(2, 2)\n"
    )
    screen = on_pty(60, "show", f"{factory}:build", "--no-cache")
    assert screen.code == 0
    start = next(i for i, line in enumerate(screen.lines) if line.startswith("note: "))
    note = [screen.lines[start]]
    for line in screen.lines[start + 1 :]:
        if not line.startswith("      "):
            break
        note.append(line)
    assert len(note) > 1 and all(len(line) <= 60 for line in note), note
    words = " ".join(line.strip() for line in note)
    assert "cannot be built on the meta device" in words and words.endswith("built on CPU instead")
    piped = run_process("show", f"{factory}:build", "--no-cache")
    (line,) = [x for x in piped.err.splitlines() if x.startswith("note: ")]
    assert line == f"note: {words.removeprefix('note: ')}"
