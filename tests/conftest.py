from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# A result cache for the session, set before any test module copies os.environ at import
# (`ENV = {**os.environ, ...}`): real processes started with such a copy never write into
# the checkout's .paraminspect_cache, and never answer from an earlier session's runs.
# Each test still gets an empty cache of its own (_own_result_cache, below).
_SESSION_CACHE = tempfile.mkdtemp(prefix="paraminspect-test-cache-")
os.environ["PARAMINSPECT_CACHE_DIR"] = _SESSION_CACHE
# The result cache's per-user secret (paraminspect.cache.secret_path) for the session: never
# the user's own ~/.cache/paraminspect/cache-key.
os.environ["XDG_CACHE_HOME"] = os.path.join(_SESSION_CACHE, "xdg-cache")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)
# Hugging Face's home for the session (before transformers is imported here or in the fork
# server, which read it once): remote code copied by --trust-remote-code runs, or anything
# else a test makes transformers write, lands there and not in the user's ~/.cache.
os.environ["HF_HOME"] = os.path.join(_SESSION_CACHE, "hf-home")


def pytest_sessionstart(session: pytest.Session) -> None:
    """In-process CLI calls fork their model processes from multiprocessing's fork server,
    which imports its preload list once, when it starts; later calls cannot add to it. Start
    it now with everything the suite's models need (timm, transformers' model base: ~5 s of
    imports, on the other core while the tests are collected), so that no model process pays
    that again and no test's speed depends on which test happened to start the server.
    Real-process tests are unaffected."""
    import importlib.util

    from paraminspect.commands.startup import server_preload
    from paraminspect.runner.parent import _context

    extra = [m for m in ("timm", "transformers.modeling_utils") if importlib.util.find_spec(m.split(".")[0])]
    _context((), extra, True, server_preload(extra))  # the runner's own start: the commands' preload list


@pytest.fixture(scope="session", autouse=True)
def _torch_imported() -> None:
    """torch in this process, as the full suite's collection imports it: a caller that holds
    torch forks its model processes from the fork server (paraminspect.runner.parent), also
    when a single test file that never imports torch runs."""
    import torch  # noqa: F401


@pytest.fixture(autouse=True)
def _own_result_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty result cache of its own: a run in one test never
    answers from another's, and nothing is written into the checkout."""
    monkeypatch.setenv("PARAMINSPECT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI in-process (torch is imported once for the whole suite)."""
    from paraminspect.cli import main

    monkeypatch.chdir(ROOT)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_process(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """Run `python -m paraminspect` in a real process (exit codes, pipes, imports)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "paraminspect", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def sample(name: str, attr: str = "build") -> str:
    return f"{SAMPLES / name}.py:{attr}"
