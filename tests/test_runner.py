"""paraminspect.runner: user code in child processes, one task or many (real processes)."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paraminspect.errors import UsageError
from paraminspect.runner import (
    ENDED,
    ERROR,
    INTERNAL,
    INTERRUPTED,
    OK,
    TIMEOUT,
    Task,
    run_many,
    run_one,
    validate_timeout,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))  # before any fork server starts: its children import the targets
ROOT = FIXTURES.parent.parent


def task(name: str, **kwargs) -> Task:
    return Task(f"runner_targets:{name}", kwargs, label=name)


def gone(pid: int, wait: float = 20.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie still answers kill(0): look at its state
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_task_returns_its_value_from_another_process_with_its_output_captured():
    outcome = run_one(task("hello", x=7))
    assert outcome.status == OK and outcome.ok
    assert outcome.value["x"] == 7 and outcome.value["pid"] != os.getpid()
    assert outcome.output.splitlines() == ["printed by print", "written to fd 1", "written to stderr"]


@pytest.mark.parametrize(
    ("target", "kwargs", "expected"),
    [
        ("exits", {"code": 0}, "ended its process with exit status 0"),
        ("exits", {"code": 3}, "ended its process with exit status 3"),
        ("crashes", {}, "crashed its process (SIGSEGV)"),
    ],
)
def test_every_way_a_child_ends_is_a_failure(target, kwargs, expected):
    outcome = run_one(task(target, **kwargs))
    assert outcome.status == ENDED and not outcome.ok
    assert expected in outcome.message and target in outcome.message


def test_a_hanging_task_times_out():
    outcome = run_one(task("hangs"), timeout=1)
    assert outcome.status == TIMEOUT
    assert outcome.message == "hangs timed out after 1 s (--timeout)"


def test_stdin_is_dev_null():
    assert run_one(task("reads_stdin")).value == ""


def test_exceptions_become_statuses():
    assert run_one(task("interrupted")).status == INTERRUPTED
    bad = run_one(task("bad_input"))
    assert (bad.status, bad.message) == (ERROR, "the factory is broken")
    assert "LoadError" in bad.traceback
    bug = run_one(task("bug"))
    assert bug.status == INTERNAL and bug.message.startswith("ZeroDivisionError: xxx")
    assert "(5,000 characters)" in bug.message and len(bug.message) < 1100
    unsent = run_one(task("unpicklable"))
    assert unsent.status == INTERNAL and "could not be sent back" in unsent.message


def test_processes_a_task_forked_are_ended_with_it(tmp_path):
    marker = tmp_path / "grandchild"
    outcome = run_one(task("forks_a_sleeper", marker=str(marker)))
    assert outcome.ok
    assert gone(int(marker.read_text()))


def test_the_network_is_refused_in_every_thread_of_a_child():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        outcome = run_one(task("connects_from_a_thread", port=server.getsockname()[1]))
    assert outcome.value == "NetworkBlockedError"


def test_many_tasks_keep_their_order_and_fail_alone():
    seen = []
    tasks = [task("hello", x=1), task("exits", code=4), task("hangs"), task("hello", x=2)]
    outcomes = run_many(tasks, jobs=2, timeout=3, on_outcome=lambda o: seen.append(o.label))
    assert [o.status for o in outcomes] == [OK, ENDED, TIMEOUT, OK]
    assert [o.value["x"] for o in outcomes if o.ok] == [1, 2]
    assert len({o.value["pid"] for o in outcomes if o.ok}) == 2  # a fresh process per task
    assert sorted(seen) == sorted(t.label for t in tasks)


def test_fork_server_children_see_the_callers_environment_and_give_all_their_output(monkeypatch):
    """The fork server starts with a malloc setting of its own (GLIBC_TUNABLES, huge pages):
    neither the models nor the caller see it. A child that answers is reaped later, after
    its output has been read: nothing it printed before answering is lost."""
    monkeypatch.setenv("PARAMINSPECT_TEST_MARK", "caller")
    before = dict(os.environ)
    tasks = [task("environment"), *(task("hello", x=i) for i in range(6)), task("environment")]
    outcomes = run_many(tasks, jobs=2, timeout=60, preload=("paraminspect.errors",))
    assert dict(os.environ) == before
    for outcome in (outcomes[0], outcomes[-1]):
        assert outcome.ok, outcome.message
        assert outcome.value == before
    for outcome in outcomes[1:-1]:
        assert outcome.ok and outcome.output.splitlines() == [
            "printed by print",
            "written to fd 1",
            "written to stderr",
        ]
    assert len({o.value["pid"] for o in outcomes[1:-1]}) == 6


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e308, 0, -1])
def test_timeouts_must_be_positive_and_finite(bad):
    with pytest.raises(UsageError, match=r"positive, finite|at most"):
        validate_timeout(bad)


def test_jobs_must_be_one_or_more():
    with pytest.raises(UsageError, match="1 or more"):
        run_many([task("hello")], jobs=0)


# --- through the CLI, in real processes ---------------------------------------------------------


def _python(code: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["show", "check"])
def test_the_cli_process_imports_neither_torch_nor_the_model(tmp_path, command):
    model = tmp_path / "where.py"
    model.write_text(
        "import os\nfrom torch import nn\n"
        f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\n"
        "def build():\n    return nn.Linear(2, 2)\n"
    )
    code = (
        "import os, sys\nfrom paraminspect.cli import _run_command\n"
        f"code = _run_command([{command!r}, {f'{model}:build'!r}, '-f', 'json'])\n"
        "sys.stdout.flush()\n"
        "print('CODE', code, 'torch' in sys.modules, 'where' in sys.modules, os.getpid(), file=sys.stderr)\n"
    )
    result = _python(code)
    line = next(x for x in result.stderr.splitlines() if x.startswith("CODE"))
    _, code_, torch_loaded, model_loaded, pid = line.split()
    assert (code_, torch_loaded, model_loaded) == ("0", "False", "False"), result.stderr
    assert (tmp_path / "pid").read_text() != pid  # the model's file ran, in another process


def reusable(name: str, **kwargs) -> Task:
    return Task(f"runner_targets:{name}", kwargs, label=name, reuse=True)


def test_reusable_tasks_share_a_worker_and_each_keeps_its_own_output():
    outcomes = run_many([reusable("process_facts", x=i) for i in range(4)], jobs=1, timeout=60)
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    assert len({o.value["pid"] for o in outcomes}) == 1
    assert [o.output for o in outcomes] == [f"task {i}\n" for i in range(4)]
    fresh = run_many([task("process_facts", x=i) for i in range(2)], jobs=1, timeout=60)
    assert len({o.value["pid"] for o in fresh}) == 2  # without reuse: a process per task


@pytest.mark.parametrize("target", ["sets_default_dtype", "patches_module_setattr", "leaves_a_thread"])
def test_a_task_that_changes_its_process_retires_the_worker(target):
    first, changer, after = run_many(
        [reusable("process_facts"), reusable(target), reusable("process_facts")], jobs=1, timeout=60
    )
    assert first.ok and changer.ok and after.ok
    assert changer.value["pid"] == first.value["pid"]  # it ran in the shared worker...
    assert after.value["pid"] != first.value["pid"]  # ...which the next task did not get
    assert after.value["dtype"] == "torch.float32"
    assert after.value["setattr"] == "torch.nn.modules.module"


def test_a_reused_worker_gives_each_task_the_callers_directory_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PARAMINSPECT_TEST_MARK", "caller")
    changer, after = run_many(
        [reusable("changes_cwd_and_environment", folder=str(tmp_path)), reusable("process_facts")], jobs=1, timeout=60
    )
    assert changer.value["cwd"] == str(tmp_path) and changer.value["mark"] == "changed by a task"
    assert after.value["pid"] == changer.value["pid"]
    assert after.value["cwd"] == os.getcwd() and after.value["mark"] == "caller"


def test_a_task_that_ends_or_hangs_a_shared_worker_fails_alone():
    tasks = [
        reusable("process_facts", x=1),
        reusable("exits", code=0),
        reusable("process_facts", x=2),
        reusable("hangs"),
        reusable("crashes"),
        reusable("bad_input"),
        reusable("process_facts", x=3),
    ]
    outcomes = run_many(tasks, jobs=1, timeout=3)
    assert [o.status for o in outcomes] == [OK, ENDED, OK, TIMEOUT, ENDED, ERROR, OK]
    assert "ended its process with exit status 0" in outcomes[1].message
    assert "crashed its process (SIGSEGV)" in outcomes[4].message
    assert outcomes[5].message == "the factory is broken"
    pids = [o.value["pid"] for o in outcomes if o.ok]
    assert len(set(pids)) == 3  # a new worker after each process that ended
    assert outcomes[6].output == "task 3\n"
