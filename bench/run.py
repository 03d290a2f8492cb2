"""Whole-process benchmarks of paraminspect against a bare-script floor.

    python bench/run.py                 # 5 runs of everything, medians
    python bench/run.py --runs 3 --only vit_base --json results.json

Every measurement is a fresh process: wall time from spawn to reaping, peak RSS from the
kernel's rusage of that one child (`os.wait4`), like /usr/bin/time. Each case runs its
commands interleaved (floor, show, check, floor, show, check, ...) after a warm-up round, so
that load from elsewhere on the machine hits all of them alike; the table shows medians.

The floor of a model is the script a user would write without paraminspect: import what is
needed (torch, plus timm for a timm name), build the model on the meta device, exit normally.
torchinfo's and fvcore's figures (their parameter summaries of the same model, built on CPU
as those tools require) are a reference column, shown only when they are installed; they are
not dependencies. The 70B model is never built on CPU (its weights would take ~282 GB).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SAMPLES = ROOT / "sample_models"


@dataclass
class Sample:
    wall_s: float
    peak_mib: float


@dataclass
class Case:
    name: str
    commands: dict[str, list[str]]  # column -> argv
    ok_codes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def median(self, column: str) -> Sample | None:
        runs = self.samples.get(column)
        if not runs:
            return None
        return Sample(statistics.median(s.wall_s for s in runs), statistics.median(s.peak_mib for s in runs))


def measure(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,), expect_output: bool = False) -> Sample:
    """Run one process to completion; its wall time and the peak RSS of that process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{' '.join(argv)} exited {code}:\n" + "\n".join(tail))
        out.seek(0, os.SEEK_END)
        if expect_output and out.tell() == 0:
            raise RuntimeError(f"{' '.join(argv)} printed nothing")
    return Sample(wall, usage.ru_maxrss / 1024)  # ru_maxrss is KiB on Linux


def has_module(name: str) -> bool:
    probe = subprocess.run(
        [PY, "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"]
    )
    return probe.returncode == 0


def has_check_command(env: dict[str, str]) -> bool:
    probe = subprocess.run([PY, "-m", "paraminspect", "check", "--help"], capture_output=True, cwd=ROOT, env=env)
    return probe.returncode == 0


# --- the scripts ---------------------------------------------------------------------------


def _factory_import(path: Path) -> str:
    return (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(path)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
    )


def floor_script(model: dict[str, str]) -> str:
    if "timm" in model:
        return f"import torch, timm\nwith torch.device('meta'):\n    model = timm.create_model({model['timm']!r})\n"
    return (
        "import torch\n"
        + _factory_import(model["path"])
        + f"with torch.device('meta'):\n    model = mod.{model['attr']}()\n"
    )


def reference_script(model: dict[str, str], tool: str) -> str:
    if "timm" in model:
        build = f"import timm\nmodel = timm.create_model({model['timm']!r})\n"
    else:
        build = _factory_import(model["path"]) + f"model = mod.{model['attr']}()\n"
    if tool == "torchinfo":
        return build + "from torchinfo import summary\nprint(summary(model, verbose=0))\n"
    return build + "from fvcore.nn import parameter_count_table\nprint(parameter_count_table(model, max_depth=100))\n"


MODELS: list[dict] = [
    {"name": "small factory (tiny_vit.py:build)", "path": SAMPLES / "tiny_vit.py", "attr": "build", "reference": True},
    {"name": "70B decoder (huge.py:build)", "path": SAMPLES / "huge.py", "attr": "build", "reference": False},
    # torchinfo and fvcore take minutes on 50,000 tensors: no reference column there
    {
        "name": "50,000 tensors (huge.py:build_many)",
        "path": SAMPLES / "huge.py",
        "attr": "build_many",
        "reference": False,
    },
    {"name": "vit_base_patch16_224", "timm": "vit_base_patch16_224", "reference": True},
    {"name": "vit_giant_patch14_224", "timm": "vit_giant_patch14_224", "reference": True},
]

STARTUP: list[tuple[str, list[str]]] = [
    ("python -c pass", [PY, "-c", "pass"]),
    ('python -c "import torch"', [PY, "-c", "import torch"]),
    ('python -c "import torch, timm"', [PY, "-c", "import torch, timm"]),
    ("paraminspect --help", [PY, "-m", "paraminspect", "--help"]),
    ("paraminspect rules", [PY, "-m", "paraminspect", "rules"]),
    ("paraminspect explain PI001", [PY, "-m", "paraminspect", "explain", "PI001"]),
]


def model_cases(with_check: bool, references: list[str]) -> list[Case]:
    cases = []
    for model in MODELS:
        spec = model["timm"] if "timm" in model else f"{model['path']}:{model['attr']}"
        commands = {
            "floor": [PY, "-c", floor_script(model)],
            "show": [PY, "-m", "paraminspect", "show", spec, "--no-cache"],  # a real build every run
        }
        ok = {}
        if with_check:
            commands["check"] = [PY, "-m", "paraminspect", "check", spec, "--no-cache"]
            ok["check"] = (0, 1)  # 1: findings
        if model["reference"]:  # built on CPU by those tools: not for the 70B model
            for tool in references:
                commands[tool] = [PY, "-c", reference_script(model, tool)]
        cases.append(Case(model["name"], commands, ok))
    return cases


# --- running and printing --------------------------------------------------------------------


def run_case(case: Case, env: dict[str, str], runs: int, warmup: int, reference_runs: int) -> None:
    for round_ in range(warmup + runs):
        for column, argv in case.commands.items():
            is_reference = column not in ("floor", "show", "check")
            if is_reference and round_ >= warmup + reference_runs:
                continue
            sample = measure(argv, env, case.ok_codes.get(column, (0,)), expect_output=column not in ("floor", "run"))
            if round_ >= warmup:
                case.samples.setdefault(column, []).append(sample)
        print(f"  {case.name}: round {round_ + 1}/{warmup + runs}", file=sys.stderr)
    medians = ", ".join(f"{column} {cell(case.median(column))}" for column in case.samples)
    print(f"{case.name}: {medians}", file=sys.stderr)


def cell(sample: Sample | None) -> str:
    return f"{sample.wall_s:.2f} s / {sample.peak_mib:,.0f} MiB" if sample else "-"


def ratio(sample: Sample | None, floor: Sample | None) -> str:
    if not sample or not floor:
        return "-"
    return f"{sample.wall_s / floor.wall_s:.2f}x / {sample.peak_mib / floor.peak_mib:.2f}x"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def versions(env: dict[str, str]) -> str:
    code = (
        "import importlib.metadata as m\n"
        "out = []\n"
        "for n in ('torch', 'timm', 'paraminspect', 'torchinfo', 'fvcore'):\n"
        "    try: out.append(f'{n} {m.version(n)}')\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(', '.join(out))\n"
    )
    return subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    parser.add_argument("--reference-runs", type=int, default=3, help="runs of torchinfo/fvcore (default 3)")
    parser.add_argument("--only", action="append", default=[], help="only cases whose name contains this")
    parser.add_argument("--no-reference", action="store_true", help="skip torchinfo and fvcore")
    parser.add_argument("--no-startup", action="store_true", help="skip the startup table")
    parser.add_argument(
        "--normal-exit", action="store_true", help="run paraminspect with PARAMINSPECT_NO_FAST_EXIT=1 (for comparison)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every sample and median to this file")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PARAMINSPECT_NO_FAST_EXIT"}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), NO_COLOR="1")
    if args.normal_exit:
        env["PARAMINSPECT_NO_FAST_EXIT"] = "1"
    references = [] if args.no_reference else [t for t in ("torchinfo", "fvcore") if has_module(t)]
    with_check = has_check_command(env)

    def wanted(name: str) -> bool:
        return not args.only or any(o in name for o in args.only)

    startup = [] if args.no_startup else [Case(n, {"run": argv}) for n, argv in STARTUP if wanted(n)]
    cases = [c for c in model_cases(with_check, references) if wanted(c.name)]
    for case in startup + cases:
        run_case(case, env, args.runs, args.warmup, min(args.reference_runs, args.runs))

    print(f"machine: {machine()}")
    print(f"versions: {versions(env)}")
    print(f"medians of {args.runs} runs (after {args.warmup} warm-up), wall time / peak RSS of the whole process")
    if args.normal_exit:
        print("paraminspect run with PARAMINSPECT_NO_FAST_EXIT=1")
    if startup:
        print()
        print_table(["startup", "wall / peak"], [[c.name, cell(c.median("run"))] for c in startup])
    if cases:
        headers = ["model", "floor (bare script)", "show", "show/floor", "show-floor"]
        if with_check:
            headers += ["check", "check/floor"]
        headers += [f"{t} (CPU)" for t in references]
        rows = []
        for c in cases:
            floor, show = c.median("floor"), c.median("show")
            row = [c.name, cell(floor), cell(show), ratio(show, floor), f"{show.wall_s - floor.wall_s:+.2f} s"]
            if with_check:
                row += [cell(c.median("check")), ratio(c.median("check"), floor)]
            row += [cell(c.median(t)) for t in references]
            rows.append(row)
        print()
        print_table(headers, rows)
    if args.json:
        data = {
            "machine": machine(),
            "versions": versions(env),
            "runs": args.runs,
            "normal_exit": args.normal_exit,
            "cases": [
                {
                    "name": c.name,
                    "median": {k: vars(c.median(k)) for k in c.samples},
                    "samples": {k: [vars(s) for s in v] for k, v in c.samples.items()},
                }
                for c in startup + cases
            ],
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
