"""What a new user hit on a fresh clone in an 80-column terminal (issue 33): lines that
wrap at words with a hanging indent, check's findings laid out as ruff's (code first, then
` --> path:line:col`, short and clickable), the totals where the eye lands, help and hints
that say what to type. Terminal layout is read from a real pseudo-terminal (pexpect) of a
set size, played on a pyte screen much wider than it: a line the terminal would wrap shows
as a line wider than the pty."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pyte
import pytest
from conftest import ROOT, run_process, sample
from test_terminal import SCREEN_COLUMNS, Screen


def on_tty(columns: int, *args: str, rows: int = 2000, cwd: Path = ROOT, timeout: float = 240) -> Screen:
    """`python -m paraminspect ARGS` on a pty `columns` x `rows` (stdout and stderr both
    on it), run in `cwd`; the screen it leaves."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    for name in ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR"):
        env.pop(name, None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "paraminspect", *args],
        dimensions=(rows, columns),
        env=env,
        cwd=str(cwd),
        timeout=timeout,
    )
    raw = child.read()
    child.wait()
    child.close()
    screen = pyte.Screen(SCREEN_COLUMNS, raw.count(b"\n") + len(raw) // SCREEN_COLUMNS + 2)
    pyte.ByteStream(screen).feed(raw.replace(b"\n", b"\r\n"))
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    code = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
    return Screen(lines, raw, code)


def block(lines: list[str], start: str, indent: str) -> list[str]:
    """The line starting with `start` and the lines after it that start with `indent`."""
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    out = [lines[first]]
    for line in lines[first + 1 :]:
        if not line.startswith(indent) or not line.strip():
            break
        out.append(line)
    return out


def words(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines)


# 3. lines split at words with a hanging indent, findings laid out as ruff's


def test_dtype_footer_wraps_at_words_under_its_label_at_80_columns():
    screen = on_tty(80, "show", "resnet18", "--dtype", "bf16")
    assert screen.code == 0 and screen.widest() <= 80, max(screen.lines, key=len)
    footer = block(screen.lines, "As bfloat16: ", "    ")
    assert len(footer) > 1  # it did need wrapping, and the continuation is indented
    piped = run_process("show", "resnet18", "--dtype", "bf16")
    (line,) = [x for x in piped.out.splitlines() if x.startswith("As bfloat16: ")]
    assert words(footer).split() == line.split()  # nothing cut, no word split
    assert "training with Adam" in line and "states in bfloat16" in line


def test_check_diff_summary_and_fix_diff_error_wrap_at_words(tmp_path):
    model = tmp_path / "net.py"
    model.write_text((ROOT / "sample_models" / "ci_example.py").read_text())
    screen = on_tty(80, "check", "net.py:build", "--diff", cwd=tmp_path)
    assert screen.code == 1 and screen.widest() <= 80, max(screen.lines, key=len)
    summary = block(screen.lines, "2 fixes to apply; ", "    ")
    assert len(summary) > 1
    piped = run_process("check", "net.py:build", "--diff", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    (line,) = [x for x in piped.err.splitlines() if x.startswith("2 fixes to apply; ")]
    assert words(summary).split() == line.split()
    error = on_tty(80, "check", "net.py:build", "--diff", "--fix", cwd=tmp_path)
    assert error.code == 2 and error.widest() <= 80
    assert error.lines == [
        "error: --diff shows the fixes and changes nothing, --fix applies them: use one",
        "       of them",
    ]
    assert model.read_text() == (ROOT / "sample_models" / "ci_example.py").read_text()


def test_diff_why_lines_hang_under_the_message_at_80_columns():
    pair = "sample_models/diff_pair.py"
    screen = on_tty(80, "diff", f"{pair}:after", f"{pair}:before")
    assert screen.code == 1 and screen.widest() <= 80, max(screen.lines, key=len)
    why = screen.lines[screen.lines.index("Why") + 1 :]
    why = why[: why.index("")]
    assert why[0].startswith("  non-persistent  `inv_freq` (4 modules)")
    assert all(line.startswith(" " * 18) and line[18] != " " for line in why[1:] if not line.startswith("  rename"))
    assert any(line.startswith("  rename          `map_head.*`") for line in why)
    piped = run_process("diff", f"{pair}:after", f"{pair}:before")
    (line,) = [x for x in piped.out.splitlines() if x.startswith("  non-persistent  `inv_freq` (4 modules): ")]
    assert words(why[:3]).split() == line.split()  # the terminal's lines are the piped line, split at words


def test_check_of_an_installed_model_shows_a_short_linked_path_at_80_columns():
    screen = on_tty(80, "check", "swin_tiny_patch4_window7_224", "--fail-on", "info", "--select", "PI010")
    assert screen.code == 1 and screen.widest() <= 80, max(screen.lines, key=len)
    head = screen.lines.index("PI010 info layers.0.blocks.1.attn_mask")  # code and target first
    arrow = next(line for line in screen.lines[head:] if "-->" in line)
    assert arrow == "   --> timm/models/swin_transformer.py:471:35"  # from the package on, with the column
    import timm.models.swin_transformer as swin

    assert Path(swin.__file__).resolve().as_uri().encode() in screen.raw  # the link keeps the whole path
    piped = run_process("check", "swin_tiny_patch4_window7_224", "--fail-on", "info", "--select", "PI010")
    assert f"   --> {Path(swin.__file__).resolve()}:471:35" in piped.out.splitlines()  # piped: whole, no link
    assert "\x1b]8;" not in piped.out


def test_machine_formats_keep_their_paths():
    import json

    result = run_process("check", sample("ci_example"), "--format", "json")
    doc = json.loads(result.out)
    assert {(f["file"], f["line"]) for f in doc["findings"]} == {
        ("sample_models/ci_example.py", 8),
        ("sample_models/ci_example.py", 9),
    }
    github = run_process("check", sample("ci_example"), "--format", "github")
    assert "::warning file=sample_models/ci_example.py,line=8," in github.out


# 2. the totals where the eye lands


def test_totals_repeated_after_a_table_taller_than_the_terminal():
    screen = on_tty(80, "show", "resnet50", rows=50)
    assert screen.code == 0 and screen.widest() <= 80
    totals = [i for i, line in enumerate(screen.lines) if line.startswith("Parameters: 25,557,032")]
    assert len(totals) == 2  # before the table, and again at its end
    assert screen.lines[-1].startswith("By device: meta")
    tall = on_tty(80, "show", "resnet50", rows=1000)  # the whole output fits: once
    assert sum(line.startswith("Parameters: ") for line in tall.lines) == 1
    piped = run_process("show", "resnet50")
    assert sum(line.startswith("Parameters: ") for line in piped.out.splitlines()) == 1


# 4. check's help says that folders and .py files are checked


def test_check_help_names_folders_and_py_files():
    result = run_process("check", "--help", env={"COLUMNS": "80"})
    assert result.code == 0
    text = " ".join(result.out.replace("│", " ").split())
    assert "Usage: paraminspect check [OPTIONS] [PATH|MODEL]..." in text
    assert "`check src/` (as CI runs it) or `check model.py`: every nn.Module class defined there" in text
    assert "A folder or .py file (src/, model.py: every nn.Module class defined there), or a MODEL:" in text
    overview = " ".join(run_process("--help", env={"COLUMNS": "200"}).out.replace("│", " ").split())
    assert "check Lint models:" in overview and "`check src/`" in overview


# 5. hints that say what to type


@pytest.mark.parametrize("spec", ["timm/resnet18.a1_in1k", "hf-hub:timm/resnet18.a1_in1k"])
def test_the_hubs_spellings_of_a_timm_model_load_it_from_timm(cli, spec):
    import json

    result = cli("show", spec, "-f", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert (doc["model"], doc["resolved"]) == (spec, "timm:resnet18")
    assert doc["totals"]["parameters"] == 11_689_512


def test_a_folder_named_like_the_hub_spelling_is_still_a_path(tmp_path, monkeypatch):
    from paraminspect.forms import parse_spec

    assert parse_spec("timm/resnet18.a1_in1k").form.name == "timm-hub"
    assert parse_spec("timm/resnet18.a1_in1k").name == "resnet18.a1_in1k"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "timm" / "resnet18.a1_in1k").mkdir(parents=True)
    assert parse_spec("timm/resnet18.a1_in1k").form.name != "timm-hub"  # a folder by that name wins


def test_a_misspelt_argument_suggests_the_close_parameter(cli):
    result = cli("show", sample("mlp"), "-a", "hiden=64")
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert line.endswith(
        "got an unexpected keyword argument 'hiden'; did you mean -a hidden=...? (build takes in_dim, hidden, out_dim)"
    )
    timm = cli("show", "resnet18", "-a", "num_clases=3")
    assert timm.code == 2 and timm.err.strip().endswith("; did you mean -a num_classes=...?")
    assert len(timm.err.splitlines()) == 1


def test_a_filter_that_matches_nothing_says_globs_match_whole_names(cli):
    result = cli("show", sample("mlp"), "--filter", "fc1")
    assert result.code == 0
    assert (
        "note: --filter 'fc1' matches no tensor: a pattern matches whole names (such as 'fc1.weight'); "
        "--filter '*fc1*' matches 2 tensors"
    ) in result.err
    assert "0 of 4 tensors shown" in result.out
    assert "matches no tensor" not in cli("show", sample("mlp"), "--filter", "*fc1*").err


def test_diff_without_right_says_it_needs_left_and_right(cli):
    result = cli("diff", "r18.pt")
    assert result.code == 2
    assert result.err == (
        "error: diff needs LEFT and RIGHT (the model, then the state_dict to load into it), e.g. "
        "`paraminspect diff resnet18 r18.pt`; --weights compares a Hugging Face folder with its own weight files\n"
    )
    assert "not both" in cli("diff", "a", "b", "--weights").err


def test_the_fixable_line_prints_the_command_to_run(tmp_path):
    (tmp_path / "net.py").write_text((ROOT / "sample_models" / "ci_example.py").read_text())
    env = {"PYTHONPATH": str(ROOT)}
    result = run_process("check", "net.py:Net", "-a", "dim=3", cwd=tmp_path, env=env)
    assert result.code == 1
    lines = result.out.splitlines()
    command = lines[lines.index(next(x for x in lines if x.startswith("[*] 2 findings fixable"))) + 1]
    assert command == "    paraminspect check --fix net.py:Net -a dim=3"
    fixed = run_process(*command.split()[1:], cwd=tmp_path, env=env)  # the command works as printed
    assert "2 fixes applied" in fixed.err  # (a non-persistent buffer leaves an info and a warning: exit 1)
    assert "nn.ModuleList" in (tmp_path / "net.py").read_text()
