"""`paraminspect merge A.json B.json ...`: the JSON outputs of `check --shard K/N` joined into
the report the unsplit run would have printed, in any check format, with its exit code. The
shards' raw results go through the same join (a path run's coverage, static findings and
parts: discover.coverage.assemble) and the same report function as check's. No torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from paraminspect import formats
from paraminspect.errors import UsageError


@dataclass(frozen=True)
class MergeOptions:
    """`merge`'s command line, validated by cli.py."""

    files: tuple[Path, ...]
    output_format: str = formats.default(formats.MERGE)
    output_file: Optional[Path] = None
    durations: Optional[Path] = None  # with store_durations: the durations file to update
    store_durations: bool = False


@dataclass(frozen=True)
class ShardFile:
    path: Path
    block: dict[str, Any]  # the `shard` object of its JSON

    @property
    def label(self) -> str:
        return f"{self.block['index']}/{self.block['count']}"


def read_shard(path: Path) -> ShardFile:
    """One shard's JSON, or the UsageError saying why it is not one."""
    from paraminspect.atomic import describe
    from paraminspect.commands.shard import SHARD_VERSION
    from paraminspect.render.json import CHECK_SCHEMA_VERSION

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {describe(exc)}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text: not the JSON of `paraminspect check`") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise UsageError(f"{path} is not JSON: merge reads the output of `check --shard K/N --format json`") from None
    if not isinstance(doc, dict) or "schema_version" not in doc or "findings" not in doc or "summary" not in doc:
        raise UsageError(f"{path} is not the JSON of `paraminspect check`")
    if doc["schema_version"] != CHECK_SCHEMA_VERSION:
        raise UsageError(
            f"{path} has schema_version {doc['schema_version']!r}; this paraminspect merges {CHECK_SCHEMA_VERSION}"
        )
    block = doc.get("shard")
    if block is None:
        raise UsageError(f"{path} is the JSON of an unsplit check: merge joins the outputs of `check --shard K/N`")
    if not isinstance(block, dict) or block.get("version") != SHARD_VERSION:
        version = block.get("version") if isinstance(block, dict) else None
        raise UsageError(f"{path}: shard block version {version!r}; this paraminspect merges {SHARD_VERSION}")
    fields = {"index": int, "count": int, "plan": str, "models": list, "settings": dict, "results": list}
    for name, kind in fields.items():
        if not isinstance(block.get(name), kind):
            raise UsageError(f"{path}: its shard block has no valid `{name}`")
    return ShardFile(path, block)


def check_complete(shards: list[ShardFile]) -> None:
    """Every shard of one run, each once."""
    first = shards[0]
    count = first.block["count"]
    seen: dict[int, ShardFile] = {}
    for shard in shards:
        if shard.block["count"] != count:
            raise UsageError(
                f"{first.path} is shard {first.label} and {shard.path} shard {shard.label}: not shards of one split"
            )
        if shard.block["plan"] != first.block["plan"]:
            raise UsageError(
                f"{first.path} and {shard.path} come from different runs (their models, settings or "
                "source differ): merge the shards of one run"
            )
        index = shard.block["index"]
        if index in seen:
            raise UsageError(f"{seen[index].path} and {shard.path} are both shard {shard.label}")
        seen[index] = shard
    missing = [k for k in range(1, count + 1) if k not in seen]
    if missing:
        names = ", ".join(f"{k}/{count}" for k in missing)
        raise UsageError(f"shard {names} {'is' if len(missing) == 1 else 'are'} missing (of {len(shards)} given)")


def gather(shards: list[ShardFile]) -> list[Any]:
    """The shards' results in the unsplit run's order (each model exactly once)."""
    from paraminspect.commands.shard import result_from

    models = shards[0].block["models"]
    by_position: dict[int, Any] = {}
    for shard in shards:
        for entry in shard.block["results"]:
            position = entry.get("position") if isinstance(entry, dict) else None
            if not isinstance(position, int) or not 0 <= position < len(models) or position in by_position:
                raise UsageError(f"{shard.path}: its shard block lists a result twice or out of range")
            try:
                by_position[position] = result_from(entry)
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"{shard.path}: a result of its shard block is malformed ({exc})") from None
    if len(by_position) != len(models):
        raise UsageError(f"the shards hold {len(by_position)} results for {len(models)} models: an incomplete run")
    return [by_position[i] for i in range(len(models))]


def run_merge(options: MergeOptions) -> int:
    """Read, check and join the shards; render as `check` would; its exit code."""
    from paraminspect.commands.check import report, report_path_run
    from paraminspect.commands.output import EXIT_ERROR, error_line, refuse_inputs

    if options.store_durations and options.durations is None:
        raise UsageError("--store-durations writes the file named by --durations FILE: give it")
    if options.durations is not None and not options.store_durations:
        raise UsageError("merge --durations FILE records the shards' durations with --store-durations: add it")
    if options.output_file is not None:
        refuse_inputs(options.output_file, [str(p) for p in options.files])
    if options.durations is not None:  # refused before anything is joined
        from paraminspect.commands.shard import read_durations

        read_durations(options.durations)
    shards = [read_shard(path) for path in options.files]
    check_complete(shards)
    results = gather(shards)
    if options.store_durations and options.durations is not None:
        from paraminspect.commands.check import store_durations

        store_durations(options.durations, results)
    settings = shards[0].block["settings"]
    fail_on = str(settings.get("fail_on", "warning"))
    fix_command = str(settings.get("fix_command", ""))  # the unsplit run's `check --fix` command line
    path = shards[0].block.get("path")
    if path is None:
        registry = bool(settings.get("registry", True))
        return report(
            results,
            options.output_format,
            options.output_file,
            fail_on,
            registry=registry,
            command=formats.MERGE,
            fix_command=fix_command,
        )
    from paraminspect.commands.shard import facts_from
    from paraminspect.discover.coverage import assemble

    try:
        facts = facts_from(path)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{shards[0].path}: the path run in its shard block is malformed ({exc})") from None
    others = int(settings.get("others", 0))
    # the models named beside the path join too (the classes they build are parts), after
    # the path's own targets, as the unsplit run's build_report orders them
    path_report = assemble(facts, results[others:] + results[:others], bool(settings.get("strict", False)))
    code = report_path_run(
        path_report.results,
        path_report,
        options.output_format,
        options.output_file,
        fail_on,
        command=formats.MERGE,
        fix_command=fix_command,
    )
    if path_report.unchecked is not None:
        error_line(path_report.unchecked)
        return EXIT_ERROR
    return code
