"""Source rewriting for the rules that have fixes (`check --fix` / `--diff`).

rewrite.py is the pure engine (source text and requests in, source text out; one writer per
checks.rule.FixKind); plan.py decides which findings may be fixed where (under the working
directory, never site-packages), makes the diffs and writes the files; apply.py writes,
re-checks and reverts what did not work.
"""

from __future__ import annotations

from paraminspect.fixes.rewrite import KINDS, FixOutcome, FixRequest, Rewrite, rewrite_source

__all__ = ["KINDS", "FixOutcome", "FixRequest", "Rewrite", "rewrite_source"]
