"""Hostile and broken input (issue 12): each numbered item has a regression test here, on
real files built in tmp_path and real processes. The model's code runs in a child process."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_process

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
ONE_TENSOR = {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


def safetensors_file(path: Path, header: dict | str, data: bytes = b"") -> Path:
    raw = header if isinstance(header, str) else json.dumps(header)
    encoded = raw.encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


# --- 1-5: user code runs in a child process ----------------------------------------------------


def test_1_what_the_model_prints_never_reaches_machine_output(cli, tmp_path):
    model = write(
        tmp_path / "noisy.py",
        """
        import os, sys, threading
        import torch
        from torch import nn

        class Noisy(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(2, 2)
                self.scale = torch.ones(2)
            def forward(self, x):
                print("printed in forward")
                return self.lin(x) * self.scale

        def build():
            print("Downloading: weights.pth")
            os.write(1, b"raw bytes on fd 1\\n")
            t = threading.Thread(target=lambda: print("from a thread"))
            t.start(); t.join()
            pid = os.fork()
            if pid == 0:
                os.write(1, b"from a forked child\\n")
                os._exit(0)
            os.waitpid(pid, 0)
            return Noisy()
        """,
    )
    for fmt in ("json", "sarif"):
        result = cli("check", f"{model}:build", "-f", fmt)
        assert result.code == 1, result.err
        json.loads(result.out)
    for line in ("Downloading: weights.pth", "raw bytes on fd 1", "from a thread", "from a forked child"):
        assert f"model output: {line}" in result.err
    result = cli("check", f"{model}:build", "--run", "--input-shape", "1,2", "-f", "json")
    assert "PI002" in {f["code"] for f in json.loads(result.out)["findings"]}
    assert "model output: printed in forward" in result.err
    shown = cli("show", f"{model}:build", "-f", "csv")
    assert shown.code == 0 and shown.out.splitlines()[0].startswith("name,kind")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("os._exit(0)", "ended its process with exit status 0"),
        ("os._exit(3)", "ended its process with exit status 3"),
        ("os.kill(os.getpid(), signal.SIGSEGV)", "crashed its process (SIGSEGV)"),
    ],
)
def test_2_a_model_that_ends_its_process_fails_the_gate(cli, tmp_path, body, expected):
    model = write(tmp_path / "ends.py", f"import os, signal\ndef build():\n    {body}\n")
    result = cli("check", f"{model}:build", "-f", "json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["summary"]["failed"] == 1 and expected in doc["failures"][0]["error"]
    assert expected in one_error_line(result.err)


def test_3_a_hang_times_out_and_stdin_is_never_read(cli, tmp_path, monkeypatch):
    model = write(
        tmp_path / "slow.py",
        "import sys, time\nfrom torch import nn\n"
        "def hangs():\n    time.sleep(600)\n"
        "def reads():\n    sys.stdin.read()\n    return nn.Linear(2, 2)\n",
    )
    result = cli("check", f"{model}:hangs", "--timeout", "1")  # the hanging model process is killed
    assert result.code == 2
    assert "timed out after 1 s" in one_error_line(result.err)
    write(tmp_path / "pyproject.toml", "[tool.paraminspect]\ntimeout = 0.5\n")
    monkeypatch.chdir(tmp_path)
    result = cli("show", f"{model}:hangs")
    assert result.code == 2 and "timed out after 0.5 s" in one_error_line(result.err)
    # stdin left open by the caller: a model that reads it gets /dev/null, not a blocked gate
    proc = subprocess.Popen(
        [sys.executable, "-m", "paraminspect", "check", f"{model}:reads"],
        cwd=ROOT,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.communicate()


def test_4_the_network_is_refused_in_the_threads_a_factory_starts(cli, tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        port = server.getsockname()[1]
        model = write(
            tmp_path / "phones_home.py",
            f"""
            import socket, threading
            from torch import nn

            def build():
                def call():
                    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                t = threading.Thread(target=call)
                t.start(); t.join()
                return nn.Linear(2, 2)
            """,
        )
        result = cli("show", f"{model}:build", "-f", "json")
        with pytest.raises(socket.timeout):
            server.accept()
    assert result.code == 0
    assert "NetworkBlockedError" in result.err


def test_5_sigterm_ends_every_model_process_of_a_parallel_check(tmp_path):
    model = write(
        tmp_path / "slow.py",
        f"""
        import os, time
        from torch import nn

        def build(n=0):
            with open(os.path.join({str(tmp_path)!r}, f"started{{n}}"), "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(600)
            return nn.Linear(2, 2)

        def other():
            return build(1)
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "paraminspect", "check", f"{model}:build", f"{model}:other", "-j", "2"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    markers = [tmp_path / "started0", tmp_path / "started1"]
    try:
        deadline = time.monotonic() + 150
        while not all(m.exists() and m.read_text() for m in markers):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the factories never started"
            time.sleep(0.05)
        children = [int(m.read_text()) for m in markers]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "Traceback" not in err and out == ""
    for pid in children:
        deadline = time.monotonic() + 20
        while _alive(pid):
            assert time.monotonic() < deadline, f"model process {pid} still runs"
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- 6-11: files from strangers --------------------------------------------------------------------

HOSTILE_NAMES = ["\x1b[31mred", "title\x1b]0;owned\x07", "two\nlines", "nul\x00byte"]


def test_6_names_from_files_and_user_code_are_made_printable(cli, tmp_path):
    header = {
        name: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, name in enumerate(HOSTILE_NAMES)
    }
    ckpt = safetensors_file(tmp_path / "names.safetensors", header, b"\0" * 16)
    for fmt in ("table", "csv", "markdown"):
        result = cli("show", str(ckpt), "-f", fmt)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out and "\x00" not in result.out
        assert "\\x1b[31mred" in result.out and "two\\nlines" in result.out
    rows = [line for line in cli("show", str(ckpt)).out.splitlines() if line.startswith("│")]
    assert len(rows) == len(HOSTILE_NAMES)  # a newline in a name does not split its row
    doc = json.loads(cli("show", str(ckpt), "-f", "json").out)
    assert sorted(t["name"] for t in doc["tensors"]) == sorted(HOSTILE_NAMES)  # JSON keeps the exact string
    model = write(
        tmp_path / "odd_names.py",
        """
        import torch
        from torch import nn

        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                setattr(self, "evil\\x1b[2J", torch.zeros(2))

        def build():
            return Odd()

        def fails():
            raise ValueError("bad \\x1b]0;title\\x07 value")
        """,
    )
    for fmt in ("text", "github"):
        result = cli("check", f"{model}:build", "-f", fmt)
        assert result.code == 1 and "evil\\x1b[2J" in result.out and "\x1b" not in result.out
    doc = json.loads(cli("check", f"{model}:build", "-f", "json").out)
    assert doc["findings"][0]["attribute"] == "evil\x1b[2J"
    result = cli("show", f"{model}:fails")
    assert "\x1b" not in result.err and "\\x1b]0;title\\x07" in one_error_line(result.err)


def test_7_index_shards_must_stay_inside_the_index_folder(cli, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    safetensors_file(
        tmp_path / "outside.safetensors", {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4
    )
    (folder / "link.safetensors").symlink_to(tmp_path / "outside.safetensors")
    for shard in ("../outside.safetensors", "/etc/passwd", "/proc/self/environ", "link.safetensors", "../nowhere.bin"):
        index = folder / "model.safetensors.index.json"
        index.write_text(json.dumps({"weight_map": {"w": shard}}))
        result = cli("show", str(index), "--trust-pickle")
        assert result.code == 2
        assert f"shard {shard!r} lies outside the index's folder: refused" in one_error_line(result.err)


def test_8_a_self_referencing_checkpoint_lists_in_linear_time(tmp_path):
    box: list = [torch.zeros(2)]
    box.extend([box] * 1000)
    torch.save(box, tmp_path / "loop.pt")
    assert (tmp_path / "loop.pt").stat().st_size < 10_000
    result = run_process("show", str(tmp_path / "loop.pt"), "-f", "json", "--timeout", "60")
    assert result.code == 0, result.err
    assert [t["name"] for t in json.loads(result.out)["tensors"]] == ["0"]


def test_9_a_fifo_named_as_the_factory_file_is_refused(cli, tmp_path):
    fifo = tmp_path / "model.py"
    os.mkfifo(fifo)
    result = cli("show", f"{fifo}:build", "--timeout", "60")
    assert result.code == 2
    assert "is not a regular file" in one_error_line(result.err)


def test_10_the_output_file_may_not_be_the_input_file(cli, tmp_path):
    ckpt = safetensors_file(
        tmp_path / "w.safetensors", {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4
    )
    model = write(tmp_path / "m.py", "from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    before = ckpt.read_bytes(), model.read_text()
    result = cli("show", str(ckpt), "-o", str(ckpt))
    assert result.code == 2 and "is the input file" in one_error_line(result.err)
    result = cli("check", f"{model}:build", "-o", str(tmp_path / "." / "m.py"), "-f", "json")
    assert result.code == 2 and "is the input file" in one_error_line(result.err)
    assert (ckpt.read_bytes(), model.read_text()) == before


@pytest.mark.parametrize(
    ("entry", "data", "expected"),
    [
        ({"dtype": "Q9", "shape": [4], "data_offsets": [0, 16]}, 16, "unknown dtype 'Q9'"),
        ({"dtype": "F4", "shape": [4], "data_offsets": [0, 16]}, 16, "F4[4] needs 2 bytes"),
        ({"dtype": "F32", "shape": [2**40] * 3, "data_offsets": [0, 16]}, 16, "more elements than int64"),
        ({"dtype": "F32", "shape": [2**70], "data_offsets": [0, 16]}, 16, "bad shape"),
        ({"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}, 4, "bad shape"),
    ],
)
def test_11_every_safetensors_entry_is_validated(cli, tmp_path, entry, data, expected):
    ckpt = safetensors_file(tmp_path / "bad.safetensors", {"w": entry}, b"\0" * data)
    result = cli("show", str(ckpt))
    assert result.code == 2
    assert expected in one_error_line(result.err)


# --- 12-16: odd modules and input that used to be "internal error" ----------------------------------


def test_12_odd_modules_are_checked_not_internal_errors(cli, tmp_path):
    model = write(
        tmp_path / "odd.py",
        """
        import torch
        from torch import nn

        class Unhashable(nn.Module):
            __hash__ = None
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(2, 2)

        def nested():
            m = nn.Linear(2, 2)
            for _ in range(1500):
                m = nn.Sequential(m)
            return m

        class Weird(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                raise RuntimeError("no torch functions for me")

        class HoldsWeird(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(2, 2)
                self.w = torch.Tensor._make_subclass(Weird, torch.zeros(2))
        """,
    )
    for attr, code in (("Unhashable", 0), ("nested", 0), ("HoldsWeird", 1)):
        result = cli("check", f"{model}:{attr}")
        assert result.code == code, result.err
        assert "internal error" not in result.err


def test_13_bad_input_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    deep = safetensors_file(tmp_path / "deep.safetensors", "[" * 200_000 + "]" * 200_000)
    assert "nested too deep" in one_error_line(cli("show", str(deep)).err)
    index = tmp_path / "deep.safetensors.index.json"
    index.write_text("[" * 200_000 + "]" * 200_000)
    assert "nested too deep" in one_error_line(cli("show", str(index)).err)
    digits = safetensors_file(tmp_path / "digits.safetensors", '{"w": {"dtype": "F32", "shape": [' + "9" * 5000 + "]}}")
    assert "corrupt safetensors header" in one_error_line(cli("show", str(digits)).err)
    long_name = tmp_path / ("a" * 5000 + ".safetensors")
    assert "name too long" in one_error_line(cli("show", str(long_name)).err).lower()
    model = write(tmp_path / "m.py", "from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    result = cli("show", f"{model}:build", "-o", "/dev/full")
    assert result.code == 2 and "No space left on device" in one_error_line(result.err)
    result = cli("check", f"{model}:build", "--run", "--input-shape", "100000,100000,100000")
    assert result.code == 2 and "at most" in one_error_line(result.err)
    for n, text in enumerate((b"[tool.paraminspect]\nfail-on = '\xff'\n", b"a = " + b"[" * 100_000 + b"]" * 100_000)):
        project = tmp_path / f"project{n}"
        project.mkdir()
        (project / "pyproject.toml").write_bytes(text + b"\n")
        monkeypatch.chdir(project)
        result = cli("check", f"{model}:build")
        assert result.code == 2 and "invalid TOML" in one_error_line(result.err)
    monkeypatch.chdir(ROOT)
    interrupts = write(tmp_path / "interrupts.py", "def build():\n    raise KeyboardInterrupt\n")
    result = run_process("check", f"{interrupts}:build", "-j", "1")
    assert result.code == 130 and "interrupted" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--timeout", "nan"], "positive, finite"),
        (["--timeout", "inf"], "positive, finite"),
        (["--timeout", "1e308"], "at most a week"),
        (["--timeout", "0"], "positive, finite"),
        (["-j", "0"], "1 or more"),
    ],
)
def test_14_timeouts_and_jobs_are_validated(cli, args, expected):
    result = cli("check", "sample_models/mlp.py:build", *args)
    assert result.code == 2
    assert expected in one_error_line(result.err)


def test_14_jobs_are_capped_by_the_cores(cli):
    result = cli("check", "sample_models/mlp.py:build", "sample_models/buffers.py:build", "-j", "1000")
    assert result.code in (0, 1), result.err
    if (os.cpu_count() or 1) < 2:
        assert "running" in result.err and "--oversubscribe" in result.err


def test_15_deep_containers_are_walked_and_a_budget_says_so(cli, tmp_path):
    model = write(
        tmp_path / "deep.py",
        """
        import torch
        from torch import nn

        class Deep(nn.Module):
            def __init__(self):
                super().__init__()
                box = torch.zeros(2, requires_grad=True)
                for _ in range(12):
                    box = [box]
                self.box = box

        class Wide(nn.Module):
            def __init__(self):
                super().__init__()
                self.table = list(range(30_000)) + [torch.zeros(2)]
        """,
    )
    result = cli("check", f"{model}:Deep", "-f", "json")
    assert result.code == 1
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI003"]
    result = cli("check", f"{model}:Wide")
    assert "table holds more than 20,000 values" in result.err


def test_16_small_things(cli, tmp_path):
    shell = f"'{sys.executable}' -m paraminspect --help | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    assert subprocess.run(["bash", "-c", shell], cwd=ROOT, env=ENV, timeout=60).returncode == 0
    assert "empty timm model name" in one_error_line(cli("show", "timm:").err)
    colon = safetensors_file(
        tmp_path / "run:3.safetensors", {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4
    )
    assert cli("show", str(colon)).code == 0
    result = cli("check", "sample_models/*.py:build")
    assert result.code == 2 and "globs match timm names" in one_error_line(result.err)
    model = write(tmp_path / "loud.py", "def build():\n    raise ValueError('x' * 100_000)\n")
    line = one_error_line(cli("show", f"{model}:build").err)
    assert len(line) < 1200 and "characters in all" in line


def test_16_sigint_while_starting_has_no_traceback():
    # past the interpreter's own start (~30 ms): while typer and the CLI are imported
    for delay in (0.2, 0.4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "paraminspect", "show", "sample_models/mlp.py:build"],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 130, -signal.SIGINT), err
