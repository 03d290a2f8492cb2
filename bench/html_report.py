"""The HTML report (render/html_report.py) at scale: its size, and how long Chromium takes to open it.

Not a test. Writes the report of `sample_models/huge.py:build_many(N)` (N tiny tensors in N/2
modules, built on meta) and of timm's vit_base_patch16_224, then opens each in headless Chromium
with --dump-dom, several rounds. The page records `data-ready-ms` on its root once the treemap,
the index of modules drawn and the first table rows are in place and laid out: milliseconds since
navigation start, read back from the dumped DOM. The floor, measured in the same run, is the same
Chromium opening a page of the same byte size whose only script records that mark (what parsing
the file costs before the report's own work). Prints sizes, the report's Python time, the medians
and the ratios report/floor.

Usage: python bench/html_report.py [--tensors 50000] [--rounds 3] [--no-vit]
Needs a chromium binary (Debian: apt-get install chromium).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no chromium binary found (Debian: apt-get install chromium)")


def ready_ms(binary: str, page: Path, work: Path) -> tuple[float, float]:
    """(data-ready-ms the page recorded, wall seconds of the whole Chromium run)."""
    profile = Path(tempfile.mkdtemp(dir=work))
    start = time.perf_counter()
    out = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,800", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    wall = time.perf_counter() - start
    shutil.rmtree(profile, ignore_errors=True)
    match = re.search(r'data-ready-ms="(\d+)"', out.stdout)
    if match is None:
        sys.exit(f"{page}: the page recorded no data-ready-ms (did its script fail?)")
    return float(match.group(1)), wall


def floor_page(path: Path, size: int) -> Path:
    """A page as big as the report (an inert JSON-like block) whose one script marks ready."""
    filler = '{"x":"' + "a" * max(size - 400, 0) + '"}'
    path.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="r">'
        f'<script type="application/json">{filler}</script></div><script>'
        'document.getElementById("r").setAttribute("data-ready-ms", String(Math.round(performance.now())));'
        "</script></body></html>",
        encoding="utf-8",
    )
    return path


def measure(binary: str, name: str, html: str, seconds: float, rounds: int, work: Path) -> None:
    page = work / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    floor = floor_page(work / f"{name}-floor.html", len(html.encode()))
    report, floor_runs, walls, floor_walls = [], [], [], []
    for _ in range(rounds):  # interleaved, so that the machine's load hits both alike
        ms, wall = ready_ms(binary, page, work)
        report.append(ms)
        walls.append(wall)
        ms, wall = ready_ms(binary, floor, work)
        floor_runs.append(ms)
        floor_walls.append(wall)
    r, f = statistics.median(report), statistics.median(floor_runs)
    w, fw = statistics.median(walls), statistics.median(floor_walls)
    print(f"{name}: {len(html.encode()) / 1e6:.2f} MB, html_report {seconds * 1000:.0f} ms in Python")
    print(
        f"  ready after {r:.0f} ms (runs: {', '.join(f'{x:.0f}' for x in report)}); floor {f:.0f} ms; ratio {r / f:.2f}"
    )
    print(f"  whole Chromium run {w:.2f} s; floor {fw:.2f} s; ratio {w / fw:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tensors", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-vit", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    import paraminspect
    from paraminspect.render.html_report import html_report
    from sample_models.huge import build_many

    binary = chromium()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with torch.device("meta"):
            model = build_many(args.tensors)
        inv = paraminspect.inventory(model)
        start = time.perf_counter()
        html = html_report(inv, title=f"build_many({args.tensors})")
        measure(binary, f"build_many({args.tensors})", html, time.perf_counter() - start, args.rounds, work)
        if not args.no_vit:
            import timm

            with torch.device("meta"):
                vit = timm.create_model("vit_base_patch16_224", pretrained=False)
            inv = paraminspect.inventory(vit)
            findings = paraminspect.check(vit)
            start = time.perf_counter()
            html = html_report(inv, title="vit_base_patch16_224", findings=findings)
            measure(binary, "vit_base_patch16_224", html, time.perf_counter() - start, args.rounds, work)


if __name__ == "__main__":
    main()
