"""mkdocs hook: the rule pages, generated from the rule catalog at build time.

Every rule of `paraminspect.checks.all_rules()` gets a page `rules/CODE.md`
(paraminspect.render.rule_pages.rule_page: what `paraminspect explain CODE` prints) and an
entry under "Rules" in the navigation; a page that holds `<!-- rules-table -->` (or
`<!-- rules-table:run -->` for the `check --run` rules) gets the catalog's table there. Nothing
is copied into docs/, so the pages cannot drift from the catalog.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the checkout this site documents, installed or not
    sys.path.insert(0, str(ROOT))

from mkdocs.structure.files import File, Files  # noqa: E402

from paraminspect.checks import all_rules  # noqa: E402
from paraminspect.checks.runtime import RULES as RUNTIME_RULES  # noqa: E402
from paraminspect.render.rule_pages import BUILT, RUN, rule_page, rule_path, rules_table  # noqa: E402

MARKERS = {"<!-- rules-table -->": BUILT, "<!-- rules-table:run -->": RUN}


def _reported_by(code: str) -> str:
    return RUN if code in {rule.code for rule in RUNTIME_RULES} else BUILT


def on_config(config: Any) -> Any:
    """Each rule's page under the "Rules" section of the navigation, in code order."""
    for item in config["nav"] or []:
        if isinstance(item, dict) and "Rules" in item:
            item["Rules"] = list(item["Rules"]) + [
                {f"{rule.code} {rule.name}": rule_path(rule.code)} for rule in all_rules().values()
            ]
    return config


def on_files(files: Files, config: Any) -> Files:
    for rule in all_rules().values():
        files.append(File.generated(config, rule_path(rule.code), content=rule_page(rule, _reported_by(rule.code))))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    prefix = "" if page.file.src_uri.startswith("rules/") else "rules/"
    for marker, reported_by in MARKERS.items():
        if marker in markdown:
            rules = [r for r in all_rules().values() if _reported_by(r.code) == reported_by]
            markdown = markdown.replace(marker, rules_table(rules, link_prefix=prefix))
    return markdown
