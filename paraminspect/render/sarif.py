"""SARIF 2.1.0 (for GitHub code scanning and other SARIF viewers): one rule entry per code of
the catalog, one result per finding, with file and line when they are known."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paraminspect.render.github import display_path

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _rule(rule: Any) -> dict[str, Any]:
    from paraminspect.render.rule_pages import help_markdown  # imports rich: only when SARIF is written

    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation.strip()},
        "help": {"text": rule.explanation.strip(), "markdown": help_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"severity": rule.severity},
    }


def _location(finding: Any) -> list[dict[str, Any]]:
    target = f"{finding.module}.{finding.attribute}" if finding.module and finding.attribute else None
    target = target or finding.attribute or finding.module
    logical = {
        "fullyQualifiedName": f"{finding.model}::{target}" if finding.model else target,
        "kind": "member" if finding.attribute else "module",
    }
    location: dict[str, Any] = {"logicalLocations": [logical]}
    path = display_path(finding.file)
    if path is not None:
        absolute = Path(path).is_absolute()
        artifact: dict[str, Any] = {"uri": Path(path).as_uri() if absolute else path}
        if not absolute:
            artifact["uriBaseId"] = "%SRCROOT%"
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if finding.line is not None:
            physical["region"] = {"startLine": finding.line}
        location["physicalLocation"] = physical
    return [location]


def check_sarif(results: Sequence[Any], rules: Sequence[Any], version: str) -> str:
    """`results` are ModelResults; `rules` the catalog (every rule gets an entry, so that
    ruleIndex is stable across runs)."""
    index = {rule.code: i for i, rule in enumerate(rules)}
    sarif_results = []
    notifications = []
    for result in results:
        if result.error is not None:
            notifications.append({"level": "error", "message": {"text": f"{result.spec}: {result.error}"}})
            continue
        for f in result.findings:
            entry: dict[str, Any] = {
                "ruleId": f.code,
                "level": LEVELS[f.severity],
                "message": {"text": f"{f.model}: {f.message}" if f.model else f.message},
                "locations": _location(f),
                "properties": {
                    "model": f.model,
                    "module": f.module,
                    "attribute": f.attribute,
                    "names": list(f.names),
                    "evidence": getattr(f, "evidence", "built"),
                },
            }
            if f.code in index:
                entry["ruleIndex"] = index[f.code]
            sarif_results.append(entry)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "paraminspect",
                        "version": version,
                        "rules": [_rule(rule) for rule in rules],
                    }
                },
                "invocations": [
                    {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
                ],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def write_check(out: Any, report: Any) -> None:
    """`check --format sarif` of a commands.check.CheckReport: every rule of the catalog."""
    from paraminspect import __version__
    from paraminspect.checks import all_rules

    out.write(check_sarif(report.results, list(all_rules().values()), __version__))
