"""The static pass (paraminspect/static/) against `python -c "import torch"`, in fresh
processes, interleaved (these machines are shared and noisy), medians of --runs.

    python bench/static_pass.py                 # timing, then counts and findings
    python bench/static_pass.py --runs 5 --only timing
    python bench/static_pass.py --only findings

Timing: the CLI-equivalent cost of the pass over transformers' `models/*/modeling_*.py`
(interpreter start, `import paraminspect.static`, scan): cold (an empty cache: every file
parsed, in a process pool), warm (an unchanged tree: the report memo answers), and files-only
warm (the report memo deleted: every file's summary from the cache, the project re-joined).
Targets: cold <= 1.0x the floor, warm <= 0.1x.

Findings: the pass over transformers, timm's models and a small nanoGPT-like repository
(bench/fixtures/nanogpt_like, written for this bench): classes found, findings, and every
error/warning finding as file:line code attribute (read each one: zero false alarms).
Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
NANOGPT = ROOT / "bench" / "fixtures" / "nanogpt_like"


def package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # a top-level name: nothing is imported
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def transformers_files() -> tuple[Path, list[str]]:
    folder = package_folder("transformers")
    if folder is None:
        sys.exit("transformers is not installed")
    models = folder / "models"
    return models, sorted(str(p) for p in models.glob("*/modeling_*.py"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def scan_script(listing: Path, root: Path, cache: Path) -> str:
    return (
        "import json\n"
        "from paraminspect.static import scan\n"
        f"r = scan(json.load(open({str(listing)!r})), root={str(root)!r}, cache_dir={str(cache)!r})\n"
        "print(len(r.classes), len(r.findings))\n"
    )


def timing(runs: int) -> None:
    env = _env()
    models, files = transformers_files()
    with tempfile.TemporaryDirectory(prefix="pi-static-bench-") as tmp:
        work = Path(tmp)
        listing = work / "files.json"
        listing.write_text(json.dumps(files))
        samples: dict[str, list[tuple[float, float]]] = {"floor": [], "cold": [], "warm": [], "files": []}
        timed([PY, "-c", "import torch"], env)  # page cache warm for both sides
        for i in range(runs):
            cache = work / f"cache{i}"
            script = scan_script(listing, models, cache)
            samples["floor"].append(timed([PY, "-c", "import torch"], env))
            samples["cold"].append(timed([PY, "-c", script], env))
            samples["warm"].append(timed([PY, "-c", script], env))
            for memo in (cache / "static").glob("r-*.json"):
                memo.unlink()
            samples["files"].append(timed([PY, "-c", script], env))
        load = os.getloadavg()[0]
        wall = {k: statistics.median(w for w, _c in v) for k, v in samples.items()}
        cpu = {k: statistics.median(c for _w, c in v) for k, v in samples.items()}
        print(f"static pass over {len(files)} files of {models}")
        print(f"  {os.cpu_count()} CPUs, load average {load:.1f} after the runs; medians of {runs} runs")
        print(f"  {'':40} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}")
        floor_label = "floor  python -c 'import torch'"
        print(f"  {floor_label:40} {wall['floor']:7.2f}s {'':6} {cpu['floor']:7.2f}s")
        for key, label in (
            ("cold", "cold   (empty cache, process pool)"),
            ("warm", "warm   (unchanged tree: report memo)"),
            ("files", "files  (every file cached, no memo)"),
        ):
            print(
                f"  {label:40} {wall[key]:7.2f}s {wall[key] / wall['floor']:5.2f}x "
                f"{cpu[key]:7.2f}s {cpu[key] / cpu['floor']:5.2f}x"
            )


def findings() -> None:
    sys.path.insert(0, str(ROOT))
    from paraminspect.static import scan

    models, files = transformers_files()
    timm = package_folder("timm")
    targets: list[tuple[str, list[str], Path]] = [("transformers models/*/modeling_*.py", files, models)]
    if timm is not None:
        targets.append(("timm/models", [str(timm / "models")], timm))
    targets.append(("nanogpt_like (bench/fixtures)", [str(NANOGPT)], NANOGPT))
    for label, paths, root in targets:
        report = scan(paths, root=root)
        unread = sum(1 for c in report.classes if not c.analysed)
        print(
            f"{label}: {len(report.files)} files, {len(report.classes)} module classes "
            f"({unread} not read: {', '.join(sorted({c.note for c in report.classes if c.note})[:3]) or '-'}), "
            f"{len(report.unresolved)} undecided, {len(report.failures)} unreadable files, "
            f"{len(report.findings)} findings"
        )
        for f in report.findings:
            where = os.path.relpath(f.file, root)
            print(f"  {where}:{f.line}  {f.code} {f.severity:7}  {f.cls}.{f.attribute}  fix={f.fix or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("timing", "findings"))
    args = parser.parse_args()
    if args.only in (None, "timing"):
        timing(args.runs)
    if args.only in (None, "findings"):
        findings()


if __name__ == "__main__":
    main()
