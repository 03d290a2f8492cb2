"""`paraminspect check .` on a real repository with zero configuration (issue 26), against
`python -c "import torch"`, in one run, interleaved (these machines are shared and noisy).

    python bench/check_path.py /path/to/vit-pytorch            # 1 run: wall, CPU, coverage
    python bench/check_path.py /path/to/nanoGPT --runs 3

The repository is copied to a temporary folder first (nothing is written into it; the
result cache and the static pass's cache go to a fresh folder per run, so every run is
cold). CPU is that of every process the command started, the fork server's children
included: this script makes itself a child subreaper (Linux), so processes orphaned by
the CLI's fast exit are reaped here and their rusage counted. The coverage line, the
failures and the error/warning findings of the last run are printed (read each at its file:line).
Standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PR_SET_CHILD_SUBREAPER = 36


def _reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the process and all its descendants, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    _reap_all()  # the fork server and its children, orphaned when the CLI exited
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the last run's JSON report here")
    args = parser.parse_args()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_HUB_OFFLINE"] = "1"
    floors: list[tuple[float, float]] = []
    checks: list[tuple[float, float]] = []
    doc = None
    with tempfile.TemporaryDirectory(prefix="pi-check-path-") as tmp:
        timed([PY, "-c", "import torch"], Path(tmp), env)  # page cache warm for both sides
        for i in range(args.runs):
            copy = Path(tmp) / f"repo{i}"
            shutil.copytree(args.repository, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
            env["PARAMINSPECT_CACHE_DIR"] = str(Path(tmp) / f"cache{i}")
            floors.append(timed([PY, "-c", "import torch"], copy, env)[:2])
            wall, cpu, done = timed([PY, "-m", "paraminspect", "check", ".", "-f", "json"], copy, env)
            checks.append((wall, cpu))
            if done.returncode not in (0, 1, 2) or not done.stdout:
                sys.exit(f"check failed ({done.returncode}): {done.stderr[-2000:]}")
            doc = json.loads(done.stdout)
            code = done.returncode
    floor_wall = statistics.median(w for w, _ in floors)
    floor_cpu = statistics.median(c for _, c in floors)
    wall = statistics.median(w for w, _ in checks)
    cpu = statistics.median(c for _, c in checks)
    print(f"paraminspect check . on {args.repository} (copied), zero configuration; medians of {args.runs}")
    print(f"  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} after the runs")
    print(f"  {'':34} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}")
    print(f"  {'floor  python -c import torch':34} {floor_wall:7.1f}s {'':6} {floor_cpu:7.1f}s")
    print(f"  {'check .':34} {wall:7.1f}s {wall / floor_wall:5.1f}x {cpu:7.1f}s {cpu / floor_cpu:5.1f}x")
    assert doc is not None
    cov = doc["coverage"]
    print(
        f"  exit {code}; {cov['classes']} module classes: {cov['built']} built, {cov['as_part']} as parts, "
        f"{cov['static_only']} static only, {cov['not_checked']} not checked; {len(doc['failures'])} failures, "
        f"{len(doc['skipped'])} not built (no arguments that build them)"
    )
    for f in doc["failures"]:
        print(f"  failure  {f['model']}: {f['error'][:200]}")
    for s in doc["skipped"]:  # tried with its defaults (or nothing for *args, **kwargs): it raised
        if " not build" in s["reason"].partition("; give it")[0]:
            print(f"  guessed  {s['reason'].partition('; give it')[0][:200]}")
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    for f in doc["findings"]:
        if f["severity"] in ("error", "warning"):
            target = f"{f['module']}.{f['attribute']}" if f["module"] else f["attribute"]
            print(f"  {f['file']}:{f['line']}  {f['code']} {f['severity']:7} {f['model']} {target} ({f['evidence']})")


if __name__ == "__main__":
    main()
