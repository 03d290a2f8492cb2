"""Machine-readable output. The layout is a versioned contract documented in docs/output.md."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, Any

from paraminspect.tensors.records import Inventory, ModuleSummaryRow, TensorRecord, Totals

SHOW_SCHEMA_VERSION = 1


def tensor_dict(r: TensorRecord) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "persistent": r.persistent,
        "requires_grad": r.requires_grad,
        "shape": list(r.shape) if r.shape is not None else None,
        "dtype": r.dtype,
        "device": r.device,
        "numel": r.numel,
        "bytes": r.nbytes,
        "module": r.module,
        "module_type": r.module_type,
        "aliases": list(r.aliases),
    }


def totals_dict(t: Totals) -> dict[str, Any]:
    return {
        "parameters": t.parameters,
        "trainable": t.trainable,
        "frozen": t.frozen,
        "buffers": t.buffers,
        "unregistered": t.unregistered,
        "stored": t.stored,
        "packed": t.packed,
        "bytes": t.bytes,
        "tensors": t.tensors,
        "uninitialized": t.uninitialized,
        "by_dtype": {k: asdict(v) for k, v in t.by_dtype.items()},
        "by_device": {k: asdict(v) for k, v in t.by_device.items()},
    }


def memory_dict(estimates: list[Any]) -> dict[str, Any]:
    """`totals.memory` of `show --dtype`: per dtype asked (tensors.memory.MemoryEstimate)."""
    return {
        m.dtype: {
            "weights_bytes": m.weights_bytes,
            "trainable_bytes": m.trainable_bytes,
            "largest_layer": {"name": m.largest_layer, "bytes": m.largest_layer_bytes},
            "training_adam_bytes": m.training_adam_bytes,
        }
        for m in estimates
    }


MODULE_FIELDS = ("path", "type", "depth", "parameters", "trainable", "fraction", "buffers", "bytes")


def module_dict(m: ModuleSummaryRow) -> dict[str, Any]:
    """One `--depth` row; the CSV has the same columns in the same order (MODULE_FIELDS)."""
    return {
        "path": m.path,
        "type": m.type,
        "depth": m.depth,
        "parameters": m.parameters,
        "trainable": m.trainable,
        "fraction": round(m.fraction, 6),
        "buffers": m.buffers,
        "bytes": m.bytes,
    }


def show_json(
    *,
    spec: str,
    resolved: str,
    build_device: str,
    inventory: Inventory,
    records: list[TensorRecord],
    modules: list[ModuleSummaryRow] | None = None,
    notes: list[str] | None = None,
    memory: list[Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
    forward: Any = None,
    training: Sequence[Any] | None = None,
) -> str:
    """`show --format json`; `forward` (a forward.stats_data.ForwardStats) adds the `forward`
    object, and `training` (forward.training_memory.TrainingMemory per --dtype) its
    `training_memory`."""
    totals = totals_dict(inventory.totals)
    if memory:
        totals["memory"] = memory_dict(memory)
    doc: dict[str, Any] = {
        "schema_version": SHOW_SCHEMA_VERSION,
        "model": spec,
        "resolved": resolved,
        "build_device": build_device,
        "model_type": inventory.root_type,
        "notes": list(notes or []),
        "tensors": [tensor_dict(r) for r in records],
        "totals": totals,
    }
    if modules is not None:
        doc["modules"] = [module_dict(m) for m in modules]
    if checkpoint is not None:  # a GGUF file's metadata, a DCP checkpoint's chunks (docs/output.md: "checkpoint")
        doc["checkpoint"] = checkpoint
    if forward is not None:  # added in schema_version 1: present only with an example input
        from paraminspect.forward.stats_data import forward_block
        from paraminspect.render.forward_lines import training_dict

        block = forward_block(forward)
        if training:
            block["training_memory"] = training_dict(training)
        doc["forward"] = block
    return json.dumps(doc, indent=2) + "\n"


CHECK_SCHEMA_VERSION = 1


def _is_file_failure(result: Any) -> bool:
    """A `check PATH` file that could not be read or imported: its spec is the file's path."""
    from paraminspect.forms import parse_spec

    return result.error is not None and parse_spec(result.spec).form.name == "source-path"


def check_json(
    results: list[Any],
    skipped: Sequence[Any] = (),
    coverage: dict[str, int] | None = None,
    classes: Sequence[Any] = (),
    shard: dict[str, Any] | None = None,
) -> str:
    """`check --format json`: every finding of every model (ModelResult), the failures, the
    skipped models (`check PATH`: classes that need arguments), a summary, and in a path
    run the coverage of its module classes and each class's category."""
    from paraminspect.render.github import display_path

    findings = [
        {
            "code": f.code,
            "severity": f.severity,
            "model": f.model or r.spec,
            "module": f.module,
            "attribute": f.attribute,
            "names": list(f.names),
            "message": f.message,
            "file": display_path(f.file),
            "line": f.line,
            "fix": f.fix or None,  # the kind of automatic fix `check --fix` makes, null when none
            "evidence": getattr(f, "evidence", "built"),  # "built" or "static" (added in 1)
        }
        for r in results
        for f in r.findings
    ]
    severities = [f["severity"] for f in findings]
    # a file that could not be read or imported (`check PATH`) is a failure, not a model
    models = [r for r in results if not getattr(r, "from_source", False) and not _is_file_failure(r)]
    doc: dict[str, Any] = {
        "schema_version": CHECK_SCHEMA_VERSION,
        "findings": findings,
        # models that could not be checked (load error, crash, timeout), apart from the findings
        "failures": [{"model": r.spec, "error": r.error} for r in results if r.error is not None],
        "skipped": [{"model": s.model, "reason": s.reason} for s in skipped],
        "summary": {
            "models": len(models),
            "failed": sum(1 for r in results if r.error is not None),  # models and files: len(failures)
            "skipped": len(skipped),
            "errors": severities.count("error"),
            "warnings": severities.count("warning"),
            "infos": severities.count("info"),
            "suppressed": sum(getattr(r, "suppressed", 0) for r in results),  # by noqa comments (added in 1)
        },
    }
    if coverage is not None:  # `check PATH` (added in 1)
        doc["coverage"] = dict(coverage)
        doc["classes"] = [class_dict(c) for c in classes]
    if shard is not None:  # `check --shard K/N`: what `paraminspect merge` needs (added in 1)
        doc["shard"] = shard
    return json.dumps(doc, indent=2) + "\n"


def class_dict(c: Any) -> dict[str, Any]:
    """One module class of `check PATH` (a discover.coverage.ClassCoverage)."""
    from paraminspect.render.github import display_path

    arguments = None
    if c.arguments is not None:
        kind, file, line = c.arguments
        arguments = {"kind": kind, "file": display_path(file), "line": line}
    return {
        "model": c.model,
        "file": display_path(c.file),
        "line": c.line,
        "category": c.category,
        "arguments": arguments,
        "part_of": c.part_of,
        "reason": c.reason or None,
    }


def write_show(out: IO[str], loaded: Any) -> None:
    """`show --format json` of a commands.show.ShowResult."""
    out.write(
        show_json(
            spec=loaded.spec,
            resolved=loaded.resolved,
            build_device=loaded.build_device,
            inventory=loaded.inventory,
            records=list(loaded.records),
            modules=loaded.modules,
            notes=list(loaded.notes),
            memory=loaded.memory,
            checkpoint=getattr(loaded, "checkpoint", None),
            forward=loaded.forward,
            training=loaded.training,
        )
    )


def write_check(out: IO[str], report: Any) -> None:
    """`check --format json` of a commands.check.CheckReport."""
    out.write(check_json(report.results, report.skipped, report.coverage, report.classes, report.shard))
