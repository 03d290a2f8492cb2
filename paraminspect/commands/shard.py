"""`check --shard K/N`: which of the expanded models shard K of N checks (by stable hash, or
by recorded durations), the durations file, and the `shard` block of a shard's JSON: the
raw results and the path run's facts that `paraminspect merge` joins into the report the
unsplit run would give. Standard library and plain data only (no torch)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paraminspect.errors import UsageError

SHARD_VERSION = 1  # of the `shard` block in a shard's JSON
DURATIONS_FORMAT, DURATIONS_VERSION = "paraminspect-durations", 1
DEFAULT_SECONDS = 1.0  # a model no durations file knows, when it knows none at all


@dataclass(frozen=True)
class Shard:
    """`--shard K/N`: the K-th (1-based) of N shards."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`K/N` with 1 <= K <= N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N, e.g. --shard 2/4 (the second of four shards)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: K must be between 1 and N (N at least 1)")
    return Shard(index, count)


def _hash(spec: str) -> str:
    return hashlib.sha256(spec.encode("utf-8", "surrogatepass")).hexdigest()


def assign(specs: Sequence[str], count: int, durations: Mapping[str, float] | None = None) -> list[int]:
    """The shard (1-based) of each spec, so that every spec is in exactly one shard and the
    split depends on nothing but the specs (and the durations): without durations, the specs
    in the order of their SHA-256 are dealt round-robin (counts differ by at most one); with
    durations, longest first (ties by hash), each goes to the shard with the least time so
    far (ties: the lowest). A spec the file does not know counts as the mean of those it
    does (DEFAULT_SECONDS when it knows none)."""
    order = sorted(range(len(specs)), key=lambda i: (_hash(specs[i]), i))
    out = [0] * len(specs)
    if not durations:
        for rank, i in enumerate(order):
            out[i] = rank % count + 1
        return out
    known = [durations[s] for s in specs if s in durations]
    fallback = sum(known) / len(known) if known else DEFAULT_SECONDS
    seconds = [float(durations.get(s, fallback)) for s in specs]
    totals = [0.0] * count
    for i in sorted(order, key=lambda i: -seconds[i]):  # sorted() is stable: ties keep the hash order
        least = min(range(count), key=lambda k: (totals[k], k))
        totals[least] += seconds[i]
        out[i] = least + 1
    return out


# --- the durations file ------------------------------------------------------------------


def read_durations(path: Path) -> dict[str, float]:
    """`{"format": "paraminspect-durations", "version": 1, "durations": {spec: seconds}}`;
    a missing file is an empty one (the first run of a matrix writes it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--durations {path}: cannot read it: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise UsageError(f"--durations {path}: not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != DURATIONS_FORMAT:
        raise UsageError(f"--durations {path}: not a paraminspect durations file (written by --store-durations)")
    if doc.get("version") != DURATIONS_VERSION:
        raise UsageError(f"--durations {path}: version {doc.get('version')!r}, this paraminspect reads version 1")
    table = doc.get("durations")
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        for k, v in table.items()
    ):
        raise UsageError(f"--durations {path}: `durations` must map MODEL specs to seconds (numbers >= 0)")
    return {k: float(v) for k, v in table.items()}


def durations_text(old: Mapping[str, float], measured: Mapping[str, float]) -> str:
    """The durations file after a run: the old entries, those measured replacing theirs."""
    table = {**old, **{spec: round(seconds, 3) for spec, seconds in measured.items()}}
    doc = {"format": DURATIONS_FORMAT, "version": DURATIONS_VERSION, "durations": dict(sorted(table.items()))}
    return json.dumps(doc, indent=2) + "\n"


# --- a shard's JSON ------------------------------------------------------------------------


def _finding_dict(f: Any) -> dict[str, Any]:
    return {field.name: getattr(f, field.name) for field in dataclasses.fields(f)}


def result_dict(result: Any) -> dict[str, Any]:
    """A ModelResult as JSON (all but its output, traceback and inventory)."""
    return {
        "spec": result.spec,
        "resolved": result.resolved,
        "findings": [_finding_dict(f) for f in result.findings],
        "error": result.error,
        "notes": list(result.notes),
        "build_device": result.build_device,
        "suppressed": result.suppressed,
        # the defining files resolved here, as discover.paths.class_key matches them
        "parts": [[os.path.realpath(file), qualname, list(paths)] for file, qualname, paths in result.parts],
        "from_source": result.from_source,
        "seconds": round(result.seconds, 3),
    }


def _finding(doc: Mapping[str, Any]) -> Any:
    from paraminspect.checks.rule import Finding, FixKind

    values = dict(doc)
    values["names"] = tuple(values.get("names") or ())
    values["fix"] = FixKind(values.get("fix") or "")
    return Finding(**values)


def result_from(doc: Mapping[str, Any]) -> Any:
    """result_dict's inverse."""
    from paraminspect.checks.model_result import ModelResult

    return ModelResult(
        spec=doc["spec"],
        resolved=doc.get("resolved"),
        findings=tuple(_finding(f) for f in doc.get("findings", ())),
        error=doc.get("error"),
        notes=tuple(doc.get("notes", ())),
        build_device=doc.get("build_device"),
        suppressed=int(doc.get("suppressed", 0)),
        parts=tuple((file, qualname, tuple(paths)) for file, qualname, paths in doc.get("parts", ())),
        from_source=bool(doc.get("from_source", False)),
        seconds=float(doc.get("seconds", 0.0)),
    )


def facts_dict(facts: Any) -> dict[str, Any]:
    """A discover.coverage.PathFacts as JSON."""
    return {
        "paths": list(facts.paths),
        "static_only": facts.static_only,
        "classes": [
            {
                **{f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "static"},
                "key": list(c.key),
                "arguments": list(c.arguments) if c.arguments is not None else None,
                "static": [_finding_dict(f) for f in c.static],
            }
            for c in facts.classes
        ],
        "file_failures": [list(f) for f in facts.file_failures],
    }


def facts_from(doc: Mapping[str, Any]) -> Any:
    """facts_dict's inverse."""
    from paraminspect.discover.coverage import FactClass, PathFacts

    classes = []
    for c in doc["classes"]:
        values = dict(c)
        values["key"] = tuple(values["key"])
        values["arguments"] = tuple(values["arguments"]) if values.get("arguments") is not None else None
        values["static"] = tuple(_finding(f) for f in values.get("static", ()))
        classes.append(FactClass(**values))
    failures = tuple((shown, why) for shown, why in doc.get("file_failures", ()))
    return PathFacts(tuple(doc["paths"]), bool(doc["static_only"]), tuple(classes), failures)


def plan_digest(models: Sequence[str], settings: Mapping[str, Any], facts: Mapping[str, Any] | None) -> str:
    """What every shard of one run shares (the model list in order, the settings that shape
    the report, a path run's facts): shards whose digests differ come from different runs."""
    doc = {"models": list(models), "settings": dict(settings), "path": facts}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()


def shard_block(
    shard: Shard,
    models: Sequence[str],
    results: Sequence[tuple[int, Any]],
    settings: Mapping[str, Any],
    facts: Any = None,
) -> dict[str, Any]:
    """The `shard` object of a shard's JSON: which shard, the whole run's models in order,
    the raw results of this shard's models (`position`: the index in `models`), the
    settings that shape the report (fail_on, registry, strict, noun, others: how many of
    the models come before a path run's classes), a path run's facts."""
    path = facts_dict(facts) if facts is not None else None
    return {
        "version": SHARD_VERSION,
        "index": shard.index,
        "count": shard.count,
        "plan": plan_digest(models, settings, path),
        "models": list(models),
        "settings": dict(settings),
        "results": [{"position": position, **result_dict(result)} for position, result in results],
        "path": path,
    }
