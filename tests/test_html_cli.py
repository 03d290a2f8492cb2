"""`--format html` from the command line (issue 30): `show MODEL --format html -o model.html`
(rendered in the model's child process; with --input-shape the treemap can be sized by FLOPs)
and `check --format html` (each model's inventory and findings, several models on one page),
opened in a real headless Chromium. Browser tests skip only when no chromium binary is found."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, find_chromium
from conftest import sample

from paraminspect import formats

CHROMIUM = find_chromium()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary found (Debian: apt-get install chromium; .ci/run installs it)")
    page = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield page
    page.close()


def data(html: str) -> list[dict[str, Any]]:
    """Every report's JSON document in a page."""
    blocks = re.findall(r'<script type="application/json" class="pi-data">(.*?)</script>', html, re.S)
    return [json.loads(block) for block in blocks]


def drawn(browser: Browser, report: int = 0) -> list[str]:
    return browser.evaluate(
        f"[...document.querySelectorAll('.pi-report')[{report}].querySelectorAll('.pi-index [data-name]')]"
        ".map(e => e.dataset.name)"
    )


def test_html_is_one_row_of_the_formats_table():
    assert "html" in formats.choices(formats.SHOW) and "html" in formats.choices(formats.CHECK)
    assert "html" not in formats.choices(formats.DIFF)
    assert not formats.get("html").terminal  # rendered in the model's process, like json


def test_show_html_with_flops_opens_in_a_browser(cli, browser, tmp_path: Path):
    out = tmp_path / "tiny.html"
    result = cli("show", sample("tiny_vit"), "--input-shape", "1,3,32,32", "--format", "html", "-o", str(out))
    assert result.code == 0 and result.out == "", result.err
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script src=" not in page  # self-contained
    (doc,) = data(page)
    paths = doc["modules"]["path"]
    assert doc["flops"] is not None and doc["flops"][paths.index("")] > 0
    assert doc["flops"][paths.index("encoder.layers.0.linear1")] == 2 * 17 * 64 * 128  # 17 tokens, 64 -> 128
    assert "FLOPs (forward pass on the meta device)" in page and "Activations: " in page
    browser.open(out.as_uri())
    assert browser.errors() == []
    names = set(drawn(browser))
    assert {"", "patch_embed", "encoder.layers.0.self_attn", "head"} <= names
    browser.evaluate("document.querySelector('.pi-switch button[data-value=flops]').click()")
    by_flops = set(drawn(browser))
    assert "encoder.layers.1.linear2" in by_flops and "norm" not in by_flops  # LayerNorm: 0 FLOPs counted


def test_show_html_without_input_has_no_flops_switch(cli, tmp_path: Path):
    out = tmp_path / "plain.html"
    assert cli("show", sample("tiny_vit"), "--format", "html", "-o", str(out), "--dtype", "bf16").code == 0
    (doc,) = data(out.read_text(encoding="utf-8"))
    assert doc["flops"] is None and doc["dtypes"] == ["bfloat16"] and doc["bytes_label"] == "bytes as bfloat16"


def test_check_html_one_model_is_its_page_with_findings(cli, browser, tmp_path: Path):
    out = tmp_path / "check.html"
    result = cli("check", sample("bug_pi004"), "--format", "html", "-o", str(out))
    assert result.code == 1, result.err  # findings: exit 1 as with every format
    page = out.read_text(encoding="utf-8")
    (doc,) = data(page)
    assert doc["findings"] and {f["code"] for f in doc["findings"]} == {"PI004"}
    browser.open(out.as_uri())
    assert browser.errors() == []
    flagged = browser.evaluate("[...document.querySelectorAll('.pi-mark.pi-flag')].map(m => m.textContent)")
    assert flagged and all("PI004" in badge for badge in flagged)
    listed = browser.evaluate("[...document.querySelectorAll('li.pi-finding')].map(li => li.textContent)")
    assert listed and all("bug_pi004.py:" in text for text in listed)


def test_check_html_of_several_models_is_one_page(cli, browser, tmp_path: Path):
    out = tmp_path / "several.html"
    models = [sample("bug_pi004"), sample("tiny_vit"), "no_such_model_at_all_x"]
    result = cli("check", *models, "--format", "html", "-o", str(out))
    assert result.code == 2  # one model could not be checked
    assert "no_such_model_at_all_x" in result.err
    page = out.read_text(encoding="utf-8")
    assert page.count("<!DOCTYPE html>") == 1 and len(data(page)) == 2
    browser.open(out.as_uri(), ready="document.querySelectorAll('.pi-report[data-ready-ms]').length === 2")
    assert browser.errors() == []
    titles = browser.evaluate("[...document.querySelectorAll('.pi-report h1')].map(h => h.textContent)")
    assert titles == models
    assert "head" in drawn(browser, 1) and "" in drawn(browser, 0)
    failed = browser.evaluate("document.querySelector('.pi-failed').textContent")
    assert "could not be checked" in failed and "no_such_model_at_all_x" in failed
