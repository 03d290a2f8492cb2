"""Processes that outlive the model that started them, found and ended (Linux).

A model process leads its own process group, and the parent kills that group when the model
is done; a daemon the model starts in a session of its own (`Popen(start_new_session=True)`,
a `setsid` double fork) leaves that group, and would otherwise keep running, holding open
whatever it inherited (the runner's fork server and resource tracker, and through them the
pipe that `paraminspect check ... | cat` reads, so that `cat` waited for the daemon). Two
ways to find them, neither needs privileges or cgroups:

- **Ancestry.** The `paraminspect` process becomes a *child subreaper*
  (`PR_SET_CHILD_SUBREAPER`): a process orphaned anywhere below it (its parent, the model,
  has ended) becomes its child instead of init's. After each model, any child of ours that
  the runner did not start (and that was not there before the run) is such an orphan: it is
  killed (with its process group) and reaped; its own children then become ours, and the
  next round ends them.
- **A marker.** The command sets `PARAMINSPECT_RUN=<pid>.<random>` in its environment before
  it starts anything (paraminspect.__main__): every process started from it inherits it, in
  `/proc/PID/environ` (the fork server and resource tracker, which exec, and so every
  process forked from them, and every program a model runs). When the command ends, each
  process still carrying its marker is killed: the fork server and resource tracker
  included, so that none is left behind.

A process that clears its environment *and* whose parent chain reaches init without passing
through us (only possible when the subreaper cannot be set) is not found.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterable

MARKER_ENV = "PARAMINSPECT_RUN"
PR_SET_CHILD_SUBREAPER = 36
_subreaper: bool | None = None


def mark() -> str:
    """Give this process (and so everything it starts) a marker of its own."""
    token = f"{os.getpid()}.{os.urandom(6).hex()}"
    os.environ[MARKER_ENV] = token
    return token


def own_marker() -> str | None:
    """This command's marker, when this process set it (not one inherited from a caller)."""
    token = os.environ.get(MARKER_ENV, "")
    return token if token.startswith(f"{os.getpid()}.") else None


def become_subreaper() -> bool:
    """Make orphans below this process its children (Linux 3.4+); whether it is one."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                pass
    return _subreaper


def children() -> set[int]:
    """This process's child processes (from /proc; empty where there is none)."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as fh:
                found.update(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def helpers() -> set[int]:
    """multiprocessing's fork server and resource tracker of this process, when running."""
    pids: set[int] = set()
    for module, holder, attr in (
        ("multiprocessing.forkserver", "_forkserver", "_forkserver_pid"),
        ("multiprocessing.resource_tracker", "_resource_tracker", "_pid"),
    ):
        owner = getattr(sys.modules.get(module), holder, None)
        pid = getattr(owner, attr, None)
        if isinstance(pid, int):
            pids.add(pid)
    return pids


def _kill(pid: int) -> None:
    """SIGKILL `pid`, and its process group when it leads one that is not ours."""
    try:
        if os.getpgid(pid) == pid and pid != os.getpgrp():
            os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except (ChildProcessError, OSError):
        pass


def end_orphans(keep: Iterable[int], rounds: int = 20) -> int:
    """Kill and reap every child of this process not in `keep` (and not a helper): orphans
    the models left, which the subreaper made ours. Repeated while killing one hands us its
    children. How many were ended."""
    if not become_subreaper():
        return 0
    keep = set(keep) | helpers()
    ended = 0
    for _ in range(rounds):
        strays = children() - keep
        if not strays:
            break
        for pid in strays:
            _kill(pid)
        for pid in strays:
            _reap(pid)
        ended += len(strays)
    return ended


def marked(token: str) -> set[int]:
    """The processes whose environment carries `token` (this user's, as /proc shows them)."""
    needle = f"{MARKER_ENV}={token}".encode()
    found: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.add(int(name))
        except OSError:
            continue
    return found


def end_marked(keep: Iterable[int] = (), rounds: int = 5) -> int:
    """Kill every process carrying this command's marker except this one and `keep`; reap
    those that are our children (when `rounds` > 1). How many were ended."""
    token = own_marker()
    if token is None:
        return 0
    keep = {*keep, os.getpid()}
    ended = 0
    for _ in range(rounds):  # a killed process may have forked meanwhile
        strays = marked(token) - keep
        if not strays:
            break
        for pid in strays:
            _kill(pid)
        ended += len(strays)
        if rounds == 1:
            break
        for pid in strays & children():
            _reap(pid)
        time.sleep(0.01)
    return ended


def end_everything() -> None:
    """At the command's end, when it ran models (runner.parent ended what each left behind):
    the runner's fork server and resource tracker, and anything still carrying the marker,
    are killed, without waiting for them (the process is about to exit; tearing down the
    fork server's copy of torch would only delay that). A command that ran no model (an
    answer from the cache) started nothing to end but the spare, which the CLI discards."""
    if _subreaper is None or own_marker() is None:
        return
    for pid in helpers():
        _kill(pid)
    end_marked(rounds=1)
