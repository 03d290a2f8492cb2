"""A gate that cannot be fooled, round two (issue 27): each numbered defect has its
reproduction here, on real files and real processes (the CLI in-process where a model process
of its own is enough, `python -m paraminspect` where the process's own end, pipes or
environment are the point). The numbers are the issue's."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, run_process

BUGGY = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.mask = torch.ones(2)  # PI002


def build():
    return Net()
"""


def write(path: Path, source: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(textwrap.dedent(source).encode(encoding))
    return path


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


@pytest.fixture
def here(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The in-process CLI, run from tmp_path."""
    monkeypatch.chdir(tmp_path)
    return cli


def cache_entries() -> list[Path]:
    """The result cache's entries (whatever its format's folder: v1, v2...)."""
    return sorted(Path(os.environ["PARAMINSPECT_CACHE_DIR"]).glob("v*/*.json"))


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 64 KiB tmpfs (root only), to be filled by the test; skipped where none can be mounted."""
    folder = tmp_path / "disk"
    if not _mount_tmpfs(folder, "64k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the filesystem of `folder` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)


# --- 1: writes are atomic ----------------------------------------------------------------------


def _padded_model(size: int = 4076) -> str:
    """BUGGY padded to `size` bytes: one 4 KiB page that the fix's ~40 more bytes overflow, so
    that a truncate-then-write on a full disk fails half way."""
    text = textwrap.dedent(BUGGY) + "\n# \n"
    return text[:-1] + "x" * (size - len(text)) + "\n"


def test_1_fix_on_a_full_disk_leaves_the_source_whole(full_disk: Path) -> None:
    model = write(full_disk / "model.py", _padded_model())
    report = full_disk / "report.txt"
    report.write_text("the previous report\n")
    before = model.read_bytes()
    fill(full_disk)
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    result = run_process("check", "model.py:build", "--fix", cwd=full_disk, env=env)
    assert model.read_bytes() == before  # not truncated mid-statement
    assert result.code == 2
    assert "No space left on device" in one_error_line(result.err)
    assert not [p.name for p in full_disk.iterdir() if p.name.endswith(".tmp")]
    # -o on the full disk: the old report stays as it was
    result = run_process("check", "model.py:build", "--no-cache", "-o", "report.txt", cwd=full_disk, env=env)
    assert result.code == 2 and "cannot write report.txt" in one_error_line(result.err)
    assert report.read_text() == "the previous report\n"


def _limit_file_size(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_1_fix_past_the_file_size_limit_leaves_the_source_whole(tmp_path: Path) -> None:
    """The same without a tmpfs: a write that fails half way (EFBIG at RLIMIT_FSIZE)."""
    model = write(tmp_path / "model.py", _padded_model())
    before = model.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "paraminspect", "check", "model.py:build", "--fix"],
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(len(before) + 16),
    )
    assert model.read_bytes() == before
    assert proc.returncode == 2, proc.stderr
    assert "cannot write model.py" in one_error_line(proc.stderr)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_1_the_writer_keeps_permissions_owner_and_links(tmp_path: Path) -> None:
    from paraminspect.atomic import WriteRefused, write_text

    target = tmp_path / "report.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    if os.geteuid() == 0:
        os.chown(target, 1234, 4321)
    inode = target.stat().st_ino
    write_text(target, "new\n")
    st = target.stat()
    assert target.read_text() == "new\n" and st.st_mode & 0o777 == 0o640 and st.st_ino != inode
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1234, 4321)
    link = tmp_path / "latest.txt"
    link.symlink_to(target.name)
    write_text(link, "through the link\n")  # the link's target is replaced, the link stays
    assert link.is_symlink() and target.read_text() == "through the link\n"
    with pytest.raises(WriteRefused):
        write_text(link, "x", follow_symlinks=False)
    os.chmod(target, 0o444)
    with pytest.raises(WriteRefused):
        write_text(target, "x")
    assert target.read_text() == "through the link\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.txt", "report.txt"]


# --- 2: the cache answers only for inputs it watched, and only trusted entries ------------------------------


def _both(here, *args: str) -> tuple[int, int]:
    """The exit code of a run that may answer from the cache, and of one that may not."""
    return here(*args).code, here(*args, "--no-cache").code


def test_2_a_file_the_factory_reads_is_watched(here, tmp_path: Path) -> None:
    write(tmp_path / "settings.json", '{"mask": false}')
    write(
        tmp_path / "model.py",
        """
        import json, torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                if json.load(open("settings.json"))["mask"]:
                    self.mask = torch.ones(2)

        def build():
            return Net()
        """,
    )
    assert here("check", "model.py:build").code == 0
    write(tmp_path / "settings.json", '{"mask": true}')
    assert _both(here, "check", "model.py:build") == (1, 1)


def test_2_an_environment_variable_the_factory_reads_is_watched(here, tmp_path: Path, monkeypatch) -> None:
    write(
        tmp_path / "model.py",
        """
        import os, torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                if os.environ.get("NET_WITH_MASK") or os.getenv("NET_MASK2"):
                    self.mask = torch.ones(2)

        def build():
            return Net()
        """,
    )
    monkeypatch.delenv("NET_WITH_MASK", raising=False)
    assert here("check", "model.py:build").code == 0
    monkeypatch.setenv("NET_WITH_MASK", "1")
    assert _both(here, "check", "model.py:build") == (1, 1)
    monkeypatch.delenv("NET_WITH_MASK")
    assert here("check", "model.py:build").code == 0
    monkeypatch.setenv("NET_MASK2", "yes")
    assert _both(here, "check", "model.py:build") == (1, 1)


def test_2_a_module_that_failed_to_import_is_watched(here, tmp_path: Path) -> None:
    write(
        tmp_path / "model.py",
        """
        import importlib.util, torch
        from torch import nn
        try:
            from optional_masks import MASKED
        except ImportError:
            MASKED = False
        PROBED = importlib.util.find_spec("probed_plugin") is not None

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                if MASKED or PROBED:
                    self.mask = torch.ones(2)

        def build():
            return Net()
        """,
    )
    assert here("check", "model.py:build").code == 0
    write(tmp_path / "optional_masks.py", "MASKED = True\n")
    assert _both(here, "check", "model.py:build") == (1, 1)
    (tmp_path / "optional_masks.py").unlink()
    assert here("check", "model.py:build").code == 0
    (tmp_path / "probed_plugin").mkdir()  # a package folder, looked for with find_spec
    assert _both(here, "check", "model.py:build") == (1, 1)


def test_2_a_model_from_a_zip_on_pythonpath_is_watched(tmp_path: Path) -> None:
    archive = tmp_path / "models.zip"

    def zip_model(source: str) -> None:
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("zipped_net.py", textwrap.dedent(source))

    zip_model(BUGGY.replace("        self.mask = torch.ones(2)  # PI002\n", ""))
    env = {"PYTHONPATH": f"{archive}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    assert run_process("check", "zipped_net:build", cwd=tmp_path, env=env).code == 0
    zip_model(BUGGY)
    cached = run_process("check", "zipped_net:build", cwd=tmp_path, env=env)
    fresh = run_process("check", "zipped_net:build", "--no-cache", cwd=tmp_path, env=env)
    assert (cached.code, fresh.code) == (1, 1), cached.err


def test_2_an_edit_made_while_the_model_was_imported_is_seen(here, tmp_path: Path) -> None:
    """The file is edited after it was imported and before the run ended: the entry must
    describe the file the build imported, not the file as it was when the run was stored."""
    model = write(
        tmp_path / "model.py",
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                # MASK-HERE

        def build():
            marker = "# MASK" + "-HERE"
            with open(__file__) as fh:
                source = fh.read()
            if marker in source:  # an edit lands while the run goes on
                with open(__file__, "w") as fh:
                    fh.write(source.replace(marker, "self.mask = torch.ones(2)"))
            return Net()
        """,
    )
    assert here("check", "model.py:build").code == 0  # the build imported the clean version
    assert "self.mask = torch.ones(2)" in model.read_text()
    assert _both(here, "check", "model.py:build") == (1, 1)


def test_2_declared_inputs_cover_what_the_cache_cannot_see(here, tmp_path: Path, monkeypatch) -> None:
    """A file and a variable read by a subprocess are out of the recorder's sight: declared in
    [tool.paraminspect], they are part of the key."""
    write(
        tmp_path / "model.py",
        """
        import subprocess, torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                said = subprocess.run(["sh", "-c", "cat width.txt; echo $NET_FLAVOUR"], capture_output=True, text=True)
                if "mask" in said.stdout:
                    self.mask = torch.ones(2)

        def build():
            return Net()
        """,
    )
    write(tmp_path / "width.txt", "plain\n")
    write(tmp_path / "pyproject.toml", '[tool.paraminspect]\ncache-files = ["*.txt"]\ncache-env = ["NET_FLAVOUR"]\n')
    monkeypatch.delenv("NET_FLAVOUR", raising=False)
    assert here("check", "model.py:build").code == 0
    write(tmp_path / "width.txt", "mask\n")
    assert _both(here, "check", "model.py:build") == (1, 1)
    write(tmp_path / "width.txt", "plain\n")
    assert here("check", "model.py:build").code == 0
    monkeypatch.setenv("NET_FLAVOUR", "mask")
    assert _both(here, "check", "model.py:build") == (1, 1)


def test_2_an_edited_entry_is_not_trusted(here, tmp_path: Path) -> None:
    write(tmp_path / "model.py", BUGGY)
    first = here("check", "model.py:build")
    assert first.code == 1
    (entry,) = cache_entries()
    doc = json.loads(entry.read_text())
    doc["run"]["stdout"], doc["run"]["exit_code"] = "forged: no findings\n", 0  # the keyed hash no longer matches
    entry.write_text(json.dumps(doc))
    again = here("check", "model.py:build")
    assert again.code == 1 and "forged" not in again.out


def test_2_an_entry_without_watched_files_is_not_trusted(here, tmp_path: Path) -> None:
    from paraminspect import cache

    write(tmp_path / "model.py", BUGGY)
    assert here("check", "model.py:build").code == 1
    (entry,) = cache_entries()
    doc = json.loads(entry.read_text())
    doc["run"]["exit_code"] = 0
    if "watched" in doc:  # the unsigned format 1 of paraminspect before issue 27
        doc["watched"] = []
    else:
        doc.pop("mac")
        doc["reads"] = {"files": [], "folders": [], "absent": [], "env": []}
        secret = cache.secret()
        assert secret is not None
        doc["mac"] = cache._mac(secret, doc)  # signed, yet watching nothing
    entry.write_text(json.dumps(doc))
    assert here("check", "model.py:build").code == 1


def _lookup_in_a_process(folder: Path, key: str) -> subprocess.CompletedProcess[str]:
    """ResultCache.lookup in a process of its own with 1 GiB of address space and a timeout:
    a read without end fails there, not in the test process."""
    script = (
        "from pathlib import Path; from paraminspect.cache import ResultCache; "
        f"print(ResultCache(Path({str(folder)!r})).lookup({key!r}))"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))

    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, preexec_fn=limit, cwd=ROOT
    )


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_2_reading_an_entry_never_blocks_nor_reads_without_end(tmp_path: Path, kind: str) -> None:
    from paraminspect import cache

    folder = tmp_path / "cache"
    entries = folder / getattr(cache, "ENTRY_FOLDER", "v1")
    entries.mkdir(parents=True)
    entry = entries / "k.json"
    if kind == "fifo":
        os.mkfifo(entry)
    else:
        entry.symlink_to("/dev/zero")
    done = _lookup_in_a_process(folder, "k")
    assert (done.returncode, done.stdout.strip()) == (0, "None"), done.stderr


def test_2_a_fifo_in_place_of_an_entry_does_not_hang_the_command(tmp_path: Path) -> None:
    write(tmp_path / "model.py", BUGGY)
    assert run_process("check", "model.py:build", cwd=tmp_path).code == 1
    (entry,) = cache_entries()
    entry.unlink()
    os.mkfifo(entry)
    again = run_process("check", "model.py:build", cwd=tmp_path, timeout=120)
    assert again.code == 1 and "PI002" in again.out


# --- 3 and 12: -o never overwrites an input, a cached answer included ----------------------------------


@pytest.mark.parametrize("input_file", ["model.py", "layers.py"])  # the MODEL's file, a module it imports
def test_3_a_cache_hit_still_refuses_an_output_file_that_is_an_input(here, tmp_path: Path, input_file: str) -> None:
    write(tmp_path / "layers.py", "WIDTH = 2\n")
    write(tmp_path / "model.py", BUGGY.replace("import torch\n", "import torch\nfrom layers import WIDTH\n"))
    assert here("check", "model.py:build", "-o", "out.txt").code == 1
    assert len(cache_entries()) == 1  # stored: the next run is answered from it
    (tmp_path / "out.txt").unlink()
    (tmp_path / "out.txt").symlink_to(input_file)
    before = (tmp_path / input_file).read_bytes()
    result = here("check", "model.py:build", "-o", "out.txt")
    assert result.code == 2 and "refused" in one_error_line(result.err)
    assert (tmp_path / input_file).read_bytes() == before


@pytest.mark.parametrize("flags", [[], ["--no-cache"]])
def test_12_o_onto_a_module_the_model_imports_is_refused(here, tmp_path: Path, flags: list[str]) -> None:
    layers = write(tmp_path / "layers.py", "WIDTH = 2\n")
    write(tmp_path / "model.py", BUGGY.replace("import torch\n", "import torch\nfrom layers import WIDTH\n"))
    for _ in range(2):  # the second run may answer from the cache: refused all the same
        result = here("check", "model.py:build", "-o", "layers.py", *flags)
        assert result.code == 2 and "refused" in one_error_line(result.err)
        assert layers.read_text() == "WIDTH = 2\n"
    ok = here("check", "model.py:build", "-o", "report.txt", *flags)  # not an input: written
    again = here("check", "model.py:build", "-o", "layers.py", *flags)  # after a stored run too
    assert ok.code == 1 and again.code == 2 and layers.read_text() == "WIDTH = 2\n"


# --- 4 and 12: a checkpoint's verdict is its library's ------------------------------------------------


def _safetensors(path: Path, header: dict | bytes, data: int) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data)
    return path


def _t(first: int, end: int, shape: list[int] | None = None, dtype: str = "F32") -> dict:
    return {"dtype": dtype, "shape": [(end - first) // 4] if shape is None else shape, "data_offsets": [first, end]}


HEADERS = {
    "valid": ({"a": _t(0, 8), "b": _t(8, 16)}, 16),
    "out of order but contiguous": ({"b": _t(8, 16), "a": _t(0, 8)}, 16),
    "overlap": ({"a": _t(0, 8), "b": _t(4, 12)}, 12),
    "same bytes twice": ({"a": _t(0, 8), "b": _t(0, 8)}, 8),
    "gap": ({"a": _t(0, 8), "b": _t(12, 20)}, 20),
    "gap at the start": ({"a": _t(4, 12)}, 12),
    "trailing bytes": ({"a": _t(0, 8)}, 12),
    "past the end": ({"a": _t(0, 16)}, 8),
    "metadata of numbers": ({"__metadata__": {"epoch": 3}, "a": _t(0, 8)}, 8),
    "metadata a list": ({"__metadata__": ["x"], "a": _t(0, 8)}, 8),
    "metadata strings": ({"__metadata__": {"format": "pt"}, "a": _t(0, 8)}, 8),
    "metadata null": ({"__metadata__": None, "a": _t(0, 8)}, 8),
    "bytes do not match the shape": ({"a": _t(0, 8, [3])}, 8),
    "empty tensor": ({"a": _t(0, 0, [0]), "b": _t(0, 8)}, 8),
    "duplicate name": (
        b'{"a": ' + json.dumps(_t(0, 8)).encode() + b', "a": ' + json.dumps(_t(8, 16)).encode() + b"}",
        16,
    ),
}


@pytest.mark.parametrize("case", sorted(HEADERS))
def test_4_safetensors_files_are_refused_exactly_when_the_library_refuses_them(tmp_path: Path, case: str) -> None:
    pytest.importorskip("safetensors")
    from safetensors import safe_open

    from paraminspect.errors import LoadError
    from paraminspect.loaders.checkpoints.safetensors_header import safetensors_listing

    header, data = HEADERS[case]
    path = _safetensors(tmp_path / "w.safetensors", header, data)
    try:
        with safe_open(str(path), framework="pt") as fh:
            for name in fh.keys():  # noqa: SIM118 - safe_open is no dict
                fh.get_tensor(name)
        library_loads = True
    except Exception:
        library_loads = False
    try:
        ours_loads = safetensors_listing(path).refused is None
    except LoadError:
        ours_loads = False
    assert ours_loads == library_loads


def test_4_diff_says_loads_no_for_a_file_the_library_refuses(here, tmp_path: Path) -> None:
    write(tmp_path / "m.py", "from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    _safetensors(tmp_path / "ok.safetensors", {"weight": _t(0, 16, [2, 2]), "bias": _t(16, 24, [2])}, 24)
    _safetensors(tmp_path / "overlap.safetensors", {"weight": _t(0, 16, [2, 2]), "bias": _t(8, 16, [2])}, 16)
    assert here("diff", "m.py:build", "ok.safetensors").code == 0
    result = here("diff", "m.py:build", "overlap.safetensors", "-f", "json")
    doc = json.loads(result.out)
    assert result.code == 1 and doc["loadable"] is False and doc["verdict"] == "file"
    assert "the safetensors library refuses" in doc["summary"] and "overlaps" in doc["summary"]
    text = here("diff", "m.py:build", "overlap.safetensors")
    assert text.code == 1 and text.out.startswith("loads: no - the safetensors library refuses")


@pytest.mark.parametrize("dtype", ["BOOL", "U8", "I64", "F8_E4M3", "F16"])
def test_12_dtype_differences_load(here, tmp_path: Path, dtype: str) -> None:
    size = {"BOOL": 1, "U8": 1, "I64": 8, "F8_E4M3": 1, "F16": 2}[dtype]
    write(tmp_path / "m.py", "from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    weight = {"dtype": dtype, "shape": [2, 2], "data_offsets": [0, 4 * size]}
    _safetensors(tmp_path / "w.safetensors", {"weight": weight, "bias": _t(4 * size, 4 * size + 8, [2])}, 4 * size + 8)
    result = here("diff", "m.py:build", "w.safetensors")
    assert result.code == 0 and result.out.startswith("loads: yes"), result.out


# --- 5: the cache's own paths are never followed ----------------------------------------------------


@pytest.mark.parametrize("linked", [".paraminspect_cache", ".gitignore", "entries"])
def test_5_symlinked_cache_paths_are_refused(here, tmp_path: Path, monkeypatch, linked: str) -> None:
    monkeypatch.delenv("PARAMINSPECT_CACHE_DIR")
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    outside.mkdir()
    write(project / "pyproject.toml", "[project]\nname = 'p'\n")
    write(project / "model.py", BUGGY)
    cache = project / ".paraminspect_cache"
    if linked == ".paraminspect_cache":
        cache.symlink_to(outside)
    else:
        cache.mkdir()
        if linked == ".gitignore":
            (cache / ".gitignore").symlink_to(outside / "gitignore")
        else:
            for version in ("v1", "v2"):
                (cache / version).symlink_to(outside)
    monkeypatch.chdir(project)
    for _ in range(2):
        result = here("check", "model.py:build")
        assert result.code == 1 and "PI002" in result.out
        assert "is a symbolic link: the result cache is not used" in result.err
    assert list(outside.iterdir()) == []  # nothing written outside


# --- 6: --fix never discards someone else's edit ---------------------------------------------------------


def test_6_fix_keeps_an_edit_made_while_the_recheck_ran(here, tmp_path: Path) -> None:
    """The re-check of the fixed file edits it (as a person would meanwhile) and fails, so the
    fix is reverted: the edit is kept, and a note says so."""
    model = write(
        tmp_path / "model.py",
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                self.mask = torch.ones(2)

        def build():
            with open(__file__) as fh:
                source = fh.read()
            if "register_" + "buffer(" in source:  # the re-check of the fixed file
                with open(__file__, "a") as fh:
                    fh.write("# an edit made during the re-check\\n")
                raise RuntimeError("the fixed model does not build")
            return Net()
        """,
    )
    result = here("check", "model.py:build", "--fix")
    assert "# an edit made during the re-check" in model.read_text()
    assert "model.py was edited while --fix re-checked it: that edit is kept" in result.err


# --- 7: what a model starts ends with it; so do our own helpers -------------------------------------------


DAEMONS = """
import os, subprocess, sys
from torch import nn

def build():
    token = os.environ["GATE_TOKEN"]
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", token], start_new_session=True)
    if os.fork() == 0:  # a double fork into a session of its own
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", token])
        os._exit(0)
    return nn.Linear(2, 2)
"""


def _processes_with(token: str) -> list[tuple[int, str]]:
    """Live processes (not zombies) whose command line or environment holds `token`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{name}/environ", "rb") as fh:
                environ = fh.read()
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline or f"GATE_TOKEN={token}".encode() in environ.split(b"\0"):
            found.append((int(name), cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_7_a_models_daemons_neither_hold_the_pipe_nor_outlive_the_command(tmp_path: Path) -> None:
    write(tmp_path / "a.py", DAEMONS)
    write(tmp_path / "b.py", DAEMONS)
    token = f"gate-{os.getpid()}-{time.time_ns()}"
    try:
        # stdout and stderr are pipes: communicate() returns only when every holder closed them
        proc = subprocess.run(
            [sys.executable, "-m", "paraminspect", "check", "a.py:build", "b.py:build", "--no-cache"],
            cwd=tmp_path,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "GATE_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=100,  # the daemons sleep 120 s: a pipe they held would end the test here
        )
        assert proc.returncode == 0, proc.stderr
        assert "No findings in 2 models" in proc.stdout
        left = []
        for _ in range(20):  # zombies are reaped by whoever inherited them: give it a moment
            left = _processes_with(token)
            if not left:
                break
            time.sleep(0.1)
        assert left == []  # the daemons, the fork server, its resource tracker: all gone
    finally:
        for pid, _ in _processes_with(token):  # never leave them running, whatever happened
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# --- 8: the configuration is the project's own ---------------------------------------------------------------


def test_8_a_parent_folders_config_does_not_apply(here, tmp_path: Path, monkeypatch) -> None:
    write(tmp_path / "pyproject.toml", '[tool.paraminspect]\nignore = ["ALL"]\n')
    project = tmp_path / "work" / "repo"
    (project / ".git").mkdir(parents=True)  # a checkout's root: nothing above it applies
    write(project / "model.py", BUGGY)
    monkeypatch.chdir(project)
    result = here("check", "model.py:build")
    assert result.code == 1 and "PI002" in result.out
    settings = here("check", "--show-settings")
    assert settings.code == 0
    assert f"project root: {project.resolve()}" in settings.out and "configuration: (none)" in settings.out
    monkeypatch.chdir(tmp_path)
    assert here("check", "work/repo/model.py:build").code == 0  # from the folder that has it, it applies
    settings = here("check", "--show-settings")
    assert f"configuration: {(tmp_path / 'pyproject.toml').resolve()}" in settings.out
    assert "ignore = ['ALL']" in settings.out


# --- 9 and 10: one clear line, and files kept as they were written ------------------------------------------------


def test_9_deeply_nested_config_json_is_one_line(here, tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for args in (("show", "hf"), ("diff", "hf", "hf")):
        result = here(*args)
        assert result.code == 2 and "nested too deep" in one_error_line(result.err)


LATIN1 = """\
# -*- coding: latin-1 -*-
# Modèle de démonstration
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.mask = torch.ones(2)  # masqué


def build():
    return Net()
"""


def test_9_fix_and_diff_on_a_latin1_file_keep_its_encoding(here, tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    model.write_bytes(LATIN1.encode("latin-1"))
    diff = here("check", "model.py:build", "--diff")
    assert diff.code == 1 and "+        self.register_buffer" in diff.out and "masqué" in diff.out
    # a persistent buffer: the non-persistent one would leave PI013's warning (exit 1)
    fixed = here("check", "model.py:build", "--fix", "--fix-persistent")
    assert fixed.code == 0, fixed.err
    text = model.read_bytes().decode("latin-1")
    assert 'self.register_buffer("mask", torch.ones(2))  # masqué' in text
    assert "Modèle de démonstration" in text


def test_9_fix_on_a_read_only_file_is_one_line(here, tmp_path: Path) -> None:
    model = write(tmp_path / "model.py", BUGGY)
    os.chmod(model, 0o444)
    result = here("check", "model.py:build", "--fix")
    assert result.code == 2 and "read-only" in one_error_line(result.err)
    assert model.read_text() == textwrap.dedent(BUGGY)


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--input-ids", "1,4", "--vocab", "99999999999999999999999"], {}, "--vocab must be from 1 to"),
        (["--max-cpu-bytes", "1e999GiB"], {}, "bad --max-cpu-bytes '1e999GiB'"),
        ([], {"PARAMINSPECT_MAX_CPU_BYTES": "1e999GiB"}, "bad PARAMINSPECT_MAX_CPU_BYTES"),
    ],
)
def test_9_huge_numbers_are_one_line(here, tmp_path: Path, monkeypatch, args, env, needle) -> None:
    write(tmp_path / "model.py", BUGGY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = here("check", "model.py:build", "--run", *args)
    assert result.code == 2 and needle in one_error_line(result.err)


def test_10_fix_and_diff_keep_a_bom_and_line_endings(here, tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    original = b"\xef\xbb\xbf" + textwrap.dedent(BUGGY).lstrip("\n").replace("\n", "\r\n").encode()
    model.write_bytes(original)
    diff = here("check", "model.py:build", "--diff")
    assert diff.code == 1 and "\ufeff" not in diff.out and "+        self.register_buffer" in diff.out
    assert model.read_bytes() == original
    assert here("check", "model.py:build", "--fix", "--fix-persistent").code == 0  # no PI013 left
    fixed = model.read_bytes()
    assert fixed.startswith(b"\xef\xbb\xbfimport torch\r\n") and b"register_buffer" in fixed
    assert b"\n" not in fixed.replace(b"\r\n", b"")  # every line still ends with \r\n


def test_10_tensors_nested_deeper_than_six_levels_are_listed(here, tmp_path: Path) -> None:
    import torch

    deep: object = {"weight": torch.zeros(3)}
    for level in range(10):
        deep = {f"level{level}": deep}
    torch.save(deep, tmp_path / "deep.pt")
    result = here("show", "deep.pt", "-f", "json")
    assert result.code == 0, result.err
    names = [t["name"] for t in json.loads(result.out)["tensors"]]
    assert names == [".".join(f"level{i}" for i in range(9, -1, -1)) + ".weight"]
    for _ in range(100):
        deep = [deep]
    torch.save(deep, tmp_path / "deeper.pt")  # past the bound: said, not walked
    result = here("show", "deeper.pt")
    assert result.code == 2 and "nested deeper than 64 levels" in one_error_line(result.err)


# --- 11: no network for the model's code, whatever it uses --------------------------------------------------------

VECTORS = {
    "udp sendto": """
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"leak", ("127.0.0.1", UDP_PORT))
    """,
    "subprocess": """
        subprocess.run([sys.executable, "-c",
            f"import socket; s = socket.create_connection(('127.0.0.1', {TCP_PORT}), timeout=5); s.sendall(b'leak')"],
            timeout=30)
    """,
    "libc connect": """
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.socket(2, 1, 0)
        address = struct.pack("!HH4s8x", 2, TCP_PORT, socket.inet_aton("127.0.0.1"))
        address = struct.pack("=H", 2) + address[2:]
        libc.connect(fd, ctypes.c_char_p(address), 16)
        libc.send(fd, b"leak", 4, 0)
    """,
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="seccomp is Linux's")
@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_11_the_model_reaches_no_local_listener(here, tmp_path: Path, vector: str) -> None:
    from paraminspect.runner.seccomp import supported

    if supported() is not None:
        pytest.skip(supported())
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(4)
        udp.bind(("127.0.0.1", 0))
        body = textwrap.indent(textwrap.dedent(VECTORS[vector]), "        ")
        source = (
            "import ctypes, socket, struct, subprocess, sys\nfrom torch import nn\n"
            f"TCP_PORT, UDP_PORT = {tcp.getsockname()[1]}, {udp.getsockname()[1]}\n\n"
            f"def build():\n    try:\n{body}\n    except Exception as exc:\n"
            "        print('refused:', type(exc).__name__, exc)\n    return nn.Linear(2, 2)\n"
        )
        write(tmp_path / "model.py", source)
        here("check", "model.py:build", "--no-cache")
        tcp.settimeout(1)
        udp.settimeout(1)
        with pytest.raises(TimeoutError):
            conn, _ = tcp.accept()
            conn.close()
        with pytest.raises(TimeoutError):
            udp.recv(16)


# --- 12: small things ---------------------------------------------------------------------------------


def test_12_diff_has_a_timeout(here, tmp_path: Path) -> None:
    write(tmp_path / "slow.py", "import time\nfrom torch import nn\ndef build():\n    time.sleep(600)\n")
    write(tmp_path / "m.py", "from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    result = here("diff", "slow.py:build", "m.py:build", "--timeout", "1")
    assert result.code == 2 and "timed out after 1 s" in one_error_line(result.err)


def test_12_a_failed_cache_write_leaves_no_temporary_file(here, tmp_path: Path, monkeypatch) -> None:
    disk = tmp_path / "cachedisk"
    if not _mount_tmpfs(disk, "16k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        monkeypatch.setenv("PARAMINSPECT_CACHE_DIR", str(disk))
        (disk / ".gitignore").write_text("*\n")
        (disk / "v1").mkdir()
        (disk / "v2").mkdir()
        fill(disk)  # the entry's temporary file can be made, not written
        write(tmp_path / "model.py", BUGGY.replace("nn.Linear(2, 2)", "nn.Linear(2, 2)\n        # " + "y" * 9000))
        assert here("check", "model.py:build").code == 1
        left = [p.name for p in disk.rglob("*") if p.name.endswith(".tmp")]
        assert left == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_12_many_exclude_globs_are_matched_as_one(tmp_path: Path, monkeypatch) -> None:
    """5,000 globs over a tree: each path is tested against one compiled pattern, not once per
    glob (counted: fnmatch is called only to name the glob that matched)."""
    import fnmatch

    from paraminspect.discover.files import find_files

    for i in range(20):
        write(tmp_path / "src" / f"pkg{i}" / "deep" / "net.py", "from torch import nn\nclass N(nn.Module): pass\n")
    write(tmp_path / "src" / "legacy" / "old.py", "from torch import nn\nclass O(nn.Module): pass\n")
    globs = [f"nothing_{i}_*/x{i}" for i in range(5000)] + ["legacy"]
    calls = []
    real = fnmatch.fnmatchcase
    monkeypatch.setattr(fnmatch, "fnmatchcase", lambda name, pat: calls.append(pat) or real(name, pat))
    found = find_files([str(tmp_path / "src")], tmp_path, globs)
    assert len(found.files) == 20 and not any("legacy" in str(f) for f in found.files)
    assert len(calls) < 100 * 5001  # one glob at a time would be 60 paths x ~5 names x 5,001 globs
