"""What a new user hit on a fresh clone in an 80-column terminal (issue 33): lines that
wrap at words with a hanging indent, check's findings laid out as ruff's (code first, then
` --> path:line:col`, short and clickable), the totals where the eye lands, help and hints
that say what to type. Terminal layout is read from a real pseudo-terminal (pexpect) of a
set size, played on a pyte screen much wider than it: a line the terminal would wrap shows
as a line wider than the pty."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import ClassVar

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
    import timm.models.swin_transformer as swin

    source = Path(swin.__file__).resolve()
    line = 1 + next(
        i for i, text in enumerate(source.read_text().splitlines()) if 'register_buffer("attn_mask", attn_mask' in text
    )
    # from the package on (also when the venv lies inside the working directory), with the column
    assert re.fullmatch(rf"   --> timm/models/swin_transformer\.py:{line}:\d+", arrow), arrow
    assert source.as_uri().encode() in screen.raw  # the link keeps the whole path
    piped = run_process("check", "swin_tiny_patch4_window7_224", "--fail-on", "info", "--select", "PI010")
    whole = os.path.relpath(source) if source.is_relative_to(Path.cwd()) else str(source)  # as JSON writes it
    assert any(text.startswith(f"   --> {whole}:{line}:") for text in piped.out.splitlines()), piped.out
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


# 6. check PATH: a path named is checked; every count agrees


def _project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_models.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass Tiny(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.scale = torch.ones(2)\n"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fac.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass Part(nn.Module):\n    def __init__(self, dim):\n"
        "        super().__init__()\n        self.w = torch.ones(dim)\n\n\nclass Whole(nn.Module):\n"
        "    def __init__(self, dim):\n        super().__init__()\n        self.part = Part(dim)\n\n\n"
        "def build():\n    return Whole(3)\n"
    )
    return tmp_path


def _check_json(tmp_path: Path, *args: str) -> tuple[int, dict]:
    import json

    result = run_process("check", *args, "--format", "json", "--no-cache", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    return result.code, json.loads(result.out)


def test_a_file_named_in_tests_is_checked(tmp_path):
    code, doc = _check_json(_project(tmp_path), "tests/test_models.py")
    assert code == 1
    assert [(f["code"], f["model"], f["line"]) for f in doc["findings"]] == [("PI002", "tests/test_models.py:Tiny", 8)]
    assert doc["coverage"]["built"] == 1 and doc["summary"]["models"] == 1


def test_classes_a_named_factory_builds_are_parts_not_skipped(tmp_path):
    code, doc = _check_json(_project(tmp_path), "src/fac.py:build", "src/")
    assert code == 1
    assert doc["skipped"] == [] and doc["summary"]["skipped"] == 0
    assert doc["coverage"] == {"classes": 2, "built": 0, "as_part": 2, "static_only": 0, "not_checked": 0}
    assert {(c["model"], c["category"]) for c in doc["classes"]} == {
        ("src/fac.py:Part", "as_part"),
        ("src/fac.py:Whole", "as_part"),
    }
    # the one bug, once: in the factory's model, where it was built
    assert [(f["model"], f["module"], f["attribute"]) for f in doc["findings"]] == [("src/fac.py:build", "part", "w")]
    alone = _check_json(tmp_path, "src/")[1]  # without the factory the classes need arguments
    assert {s["model"] for s in alone["skipped"]} == {"src/fac.py:Part", "src/fac.py:Whole"}


def test_a_file_with_a_syntax_error_is_a_failure_not_a_model(tmp_path):
    _project(tmp_path)
    (tmp_path / "src" / "bad.py").write_text("from torch import nn\nclass Broken(nn.Module)\n    pass\n")
    code, doc = _check_json(tmp_path, "src/fac.py:build", "src/")
    assert code == 2  # a file that cannot be read is an error
    assert doc["failures"] == [{"model": "src/bad.py", "error": "SyntaxError: expected ':' (line 2)"}]
    assert doc["summary"]["models"] == 1  # the factory's model; not the file
    assert doc["summary"]["failed"] == len(doc["failures"]) == 1


# 7. a failed Hub download says why, from a local fake of the Hub (nothing reaches the real one)


class _FakeHub:
    """A local HTTP server answering as the Hub does for config.json: refusals with the
    X-Error-Code huggingface_hub reads (GatedRepo, RepoNotFound, RevisionNotFound,
    EntryNotFound)."""

    ANSWERS: ClassVar[dict[str, tuple[int, str]]] = {
        "org/gated": (401, "GatedRepo"),
        "org/missing": (401, "RepoNotFound"),
        "org/noconfig": (404, "EntryNotFound"),
    }

    def __enter__(self) -> str:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        answers = self.ANSWERS

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                parts = self.path.strip("/").split("/")  # org/name/resolve/rev/config.json
                repo, revision = "/".join(parts[:2]), parts[3] if len(parts) > 3 else "main"
                status, code = (
                    (404, "RevisionNotFound") if revision != "main" else answers.get(repo, (404, "RepoNotFound"))
                )
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hub_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    return {
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(tmp_path / "hf-home"),  # no saved token
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_TOKEN": "",
        "HUGGING_FACE_HUB_TOKEN": "",
    }


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("hf:org/gated", "org/gated is a gated repository: request access on its Hub page, then log in with"),
        ("hf:org/missing", "no repository org/missing on the Hub (or it is private: log in with `hf auth login`"),
        ("hf:org/noconfig", "org/noconfig has no config.json at 'main'"),
        ("hf:org/gated@v9", "org/gated has no revision 'v9'"),
    ],
)
def test_a_refused_hub_download_says_why(tmp_path, spec, why):
    with _FakeHub() as endpoint:
        result = run_process("show", spec, env=_hub_env(tmp_path, endpoint))
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith(f"error: {spec}: config.json is not in the local Hugging Face cache")
    assert f"and could not be downloaded: {why}" in line
    assert "offline" not in line


def test_no_network_and_offline_are_told_apart(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _hub_env(tmp_path, f"http://127.0.0.1:{port}")
    result = run_process("show", "hf:org/name", env=env)
    assert result.code == 2
    (line,) = result.err.splitlines()  # at once, without huggingface_hub's retry warnings
    assert "could not be downloaded: the Hugging Face Hub could not be reached" in line
    assert f"127.0.0.1:{port}" in line
    offline = run_process("show", "hf:org/name", env={**env, "HF_HUB_OFFLINE": "1"})
    assert offline.code == 2
    (line,) = offline.err.splitlines()
    assert "HF_HUB_OFFLINE is set, so only the cache is read: fetch the config with `hf download org/name" in line


# 8. --dtype int4/int8: no Adam states in an integer dtype


def test_training_estimate_only_for_floating_dtypes(cli):
    result = cli("show", sample("mlp"), "--dtype", "int4,bf16")
    assert result.code == 0
    (int4,) = [line for line in result.out.splitlines() if line.startswith("As int4: ")]
    assert "training with Adam" not in int4
    assert "training: not estimated (integer weights are not trained; ask a float --dtype)" in int4
    (bf16,) = [line for line in result.out.splitlines() if line.startswith("As bfloat16: ")]
    # 676 parameters at 2 bytes: weights + gradient + Adam's two states, all in bfloat16
    assert "training with Adam 5.3 KiB (weights + 3 x 1.3 KiB trainable, states in bfloat16)" in bf16


# 9. markdown: a title, the totals, the unit said once


def test_markdown_has_a_title_totals_and_says_its_units(cli):
    result = cli("show", sample("mlp"), "-f", "markdown")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == f"### `{sample('mlp')}` · `MLP` · built on meta"
    assert lines[1] == "" and lines[2].startswith("| Name | Kind |")
    assert "- Parameters: 676 (2.6 KiB) · trainable: 676 · frozen: 0" in lines
    assert "- Buffers: 0 · unregistered: 0 · tensors: 4 · total size: 2.6 KiB" in lines
    assert lines[-1] == "Sizes in binary units: 1 KiB = 1,024 bytes, 1 MiB = 2^20 bytes, 1 GiB = 2^30 bytes."
    assert sum("KiB = 1,024 bytes" in line for line in lines) == 1  # said once
    depth = cli("show", "resnet18", "--depth", "1", "-f", "markdown").out.splitlines()
    assert depth[0] == "### `resnet18` -> `timm:resnet18` · `ResNet` · built on meta"
    assert "- Parameters: 11,689,512 (44.6 MiB) · trainable: 11,689,512 · frozen: 0" in depth


def test_merged_shards_credit_a_named_factory_as_the_unsplit_run_does(tmp_path):
    project = _project(tmp_path)
    env = {"PYTHONPATH": str(ROOT)}
    args = ("check", "src/fac.py:build", "src/", "--no-cache")
    full = run_process(*args, "-f", "json", cwd=project, env=env)
    paths = []
    for k in (1, 2):
        path = project / f"shard-{k}.json"
        shard = run_process(*args, "--shard", f"{k}/2", "-f", "json", "-o", str(path), cwd=project, env=env)
        assert shard.code in (0, 1), shard.err
        paths.append(str(path))
    merged = run_process("merge", *paths, "-f", "json", cwd=project, env=env)
    assert (merged.code, merged.out) == (full.code, full.out)
    text = run_process(*args, cwd=project, env=env)
    merged_text = run_process("merge", *paths, cwd=project, env=env)
    assert (merged_text.code, merged_text.out) == (text.code, text.out)
    assert "    paraminspect check --fix src/fac.py:build src/" in merged_text.out.splitlines()
