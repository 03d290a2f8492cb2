"""Fitting `show`'s table to a terminal stays O(rows): 50,000 tensors still draw in well
under a second.

Not a test. Builds N synthetic tensor records with long dotted names (no model, no torch
work), then times the table drawn piped (every column, whole names) and fitted to 80 and
200 columns (columns dropped, names shortened in the middle), median of several rounds in
this process. Prints the seconds and the ratios fitted/piped and N-rows/(N/10)-rows: about 1
and about 10 when the drawing is linear in the rows.
Usage: python bench/table_fit.py [--rows 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time


def records(n: int) -> list:
    from paraminspect.tensors.records import TensorRecord

    out = []
    for i in range(n):
        module = f"model.layers.{i // 10}.block.attention.projection_{i % 10}"
        out.append(
            TensorRecord(
                name=f"{module}.weight",
                kind="parameter" if i % 7 else "buffer",
                persistent=None if i % 7 else True,
                requires_grad=bool(i % 7),
                shape=(1024, 4096 + i % 3),
                dtype="bfloat16",
                device="meta",
                numel=1024 * (4096 + i % 3),
                nbytes=2 * 1024 * (4096 + i % 3),
                module=module,
                module_type="Linear",
                attribute="weight",
            )
        )
    return out


def time_table(recs: list, width: int | None, rounds: int) -> float:
    from paraminspect.render.table import Styler, tensor_table

    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        lines, _ = tensor_table(recs, width, Styler("truecolor" if width else None))
        times.append(time.perf_counter() - start)
        assert width is None or max(len(line) for line in lines if "\x1b" not in line) <= width
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    big, small = records(args.rows), records(args.rows // 10)
    piped = time_table(big, None, args.rounds)
    print(f"{args.rows:,} rows piped:        {piped:.3f} s")
    for width in (80, 200):
        fitted = time_table(big, width, args.rounds)
        tenth = time_table(small, width, args.rounds)
        print(
            f"{args.rows:,} rows at {width:>3} columns: {fitted:.3f} s   "
            f"fitted/piped {fitted / piped:.2f}x   rows x10 -> time x{fitted / tenth:.1f}"
        )


if __name__ == "__main__":
    main()
