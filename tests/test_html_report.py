"""The self-contained HTML report (issue 30): its data, its escaping, its size at 50,000 tensors,
and what a real headless Chromium makes of it (modules in the DOM, a screenshot that is not blank,
the search box, findings, zoom, the switches, the notebook fragment). Browser tests skip only when
no chromium binary is found; timings are measured by bench/html_report.py, never here."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from browser import Browser, colours, dump_dom, find_chromium
from torch import nn

import paraminspect
from paraminspect.checks.rule import Finding
from paraminspect.errors import UsageError
from paraminspect.render.html_report import STATIC_ROWS, html_document, html_report, report_data
from paraminspect.tensors.records import Inventory
from sample_models import bug_pi004, huge, tiny_vit

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (Debian: apt-get install chromium; .ci/run installs it)"
)
KIND_RGB = {
    "parameter": (0x4E, 0x79, 0xA7),
    "buffer": (0xF2, 0x8E, 0x2B),
    "buffer (np)": (0xED, 0xC9, 0x48),
    "unregistered": (0xE1, 0x57, 0x59),
}


def on_meta(build, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build(*args, **kwargs)


def holding_tensors(inv: Inventory) -> set[str]:
    """Every module whose subtree holds a tensor with elements: what the treemap draws."""
    out = {""}
    for r in inv.tensors:
        if r.numel:
            parts = r.module.split(".") if r.module else []
            out.update(".".join(parts[:level]) for level in range(1, len(parts) + 1))
    return out


def write(tmp_path: Path, html: str, name: str = "report.html") -> str:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


class _Names(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.extend(v or "" for k, v in attrs if k == "data-name")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary found (Debian: apt-get install chromium; .ci/run installs it)")
    page = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield page
    page.close()


def drawn(browser: Browser) -> list[str]:
    return browser.evaluate("[...document.querySelectorAll('.pi-index [data-name]')].map(e => e.dataset.name)")


def click_box(browser: Browser, name: str, double: bool = False) -> None:
    """Click the middle of a drawn module's box (from its data-box, relative to the canvas)."""
    x, y = browser.evaluate(
        f"""(() => {{
          const i = [...document.querySelectorAll('.pi-index [data-name]')]
            .find(e => e.dataset.name === {json.dumps(name)});
          const [x, y, w, h] = i.dataset.box.split(',').map(Number);
          const r = document.querySelector('.pi-map canvas').getBoundingClientRect();
          return [r.left + x + Math.min(w / 2, 30), r.top + y + Math.min(h / 2, 30)];
        }})()"""
    )
    browser.click(x, y, double)


# --- the data and the HTML string (no browser) ---------------------------------------------------


def test_data_keeps_tied_container_and_unregistered_module_tensors():
    model = bug_pi004.build()
    emb = nn.Embedding(10, 4)
    model.tied = nn.Linear(4, 10, bias=False)
    model.tied.weight = emb.weight
    model.emb = emb
    inv = paraminspect.inventory(model)
    data = report_data(inv)
    paths = data["modules"]["path"]
    parents = data["modules"]["parent"]
    assert paths[0] == "" and parents[0] == -1
    # Modules reached only through a Python list hang under the module that holds the list.
    layer = paths.index("encoder.layers[0].0")
    assert paths[parents[layer]] == "encoder.layers[0]"
    assert paths[parents[paths.index("encoder.layers[0]")]] == "encoder"
    tensors = data["tensors"]
    names = [
        paths[m] + "." + data["names"][n] if paths[m] else data["names"][n]
        for m, n in zip(tensors["m"], tensors["n"], strict=True)
    ]
    assert names == [r.name for r in inv.tensors]
    assert [data["kinds"][k] for k in tensors["k"]] == [r.kind for r in inv.tensors]
    tied = [r.name for r in inv.tensors].index("tied.weight")
    assert data["aliases"][str(tied)] == "emb.weight"
    assert sum(tensors["e"]) == sum(r.numel for r in inv.tensors)


def test_selection_flops_and_dtype():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.BatchNorm1d(8))
    inv = paraminspect.inventory(model)
    chosen = [r for r in inv.tensors if r.kind == "parameter"]
    data = report_data(inv, records=chosen, flops={"": 300, "0": 128, "1": 8})
    assert [inv.tensors[i].name for i in data["selection"]] == [r.name for r in chosen]
    assert data["flops"] == [300, 128, 8, -1]
    assert report_data(inv)["selection"] is None and report_data(inv)["flops"] is None
    html = html_report(inv, dtype="bf16")
    assert "bytes as bfloat16" in html
    # The static rows use the dtype's sizes: an 8x8 float32 weight is 128 bytes in bfloat16.
    assert "<td>bfloat16</td><td>cpu</td>" in html
    assert '<td class="pi-num">128 B</td>' in html
    with pytest.raises(UsageError, match="unknown --dtype 'float8'"):
        html_report(inv, dtype="float8")


def test_json_block_cannot_close_its_script():
    model = nn.Module()
    model.add_module("</script><script>alert(1)</script>", nn.Linear(2, 2))
    html = html_report(paraminspect.inventory(model))
    start = html.index('<script type="application/json" class="pi-data">')
    block = html[start : html.index("</script>", start)]
    assert "alert" in block and "<" not in block.split(">", 1)[1] and "&" not in block
    # Two script elements: the data and the code; nothing from the model opened another.
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the static table, escaped


@pytest.fixture(scope="module")
def many() -> tuple[Inventory, str]:
    """build_many(50000) on meta: 50,000 tensors in 25,000 modules, and its report."""
    inv = paraminspect.inventory(on_meta(huge.build_many, 50_000))
    return inv, html_report(inv, title="build_many(50000)")


def test_50000_tensors_stay_under_5_mb(many):
    inv, html = many
    size = len(html.encode("utf-8"))
    assert inv.totals.tensors == 50_000
    assert size < 5 * 1024 * 1024, size
    assert html.count("<tr>") == STATIC_ROWS + 1  # the plain-HTML table is cut; the script lists all


def test_notebook_fragment_is_the_same_view():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    html = paraminspect.summary(model)._repr_html_()
    assert html.startswith('<div class="pi-report" id="pi-') and "<html" not in html and "<body" not in html
    assert "<code>1.running_mean</code>" in html and "pi-data" in html
    depth = paraminspect.summary(model, depth=1)._repr_html_()
    assert '<section class="pi-modules">' in depth and "<code>(root)</code>" in depth


# --- in Chromium -----------------------------------------------------------------------------------


@needs_chromium
def test_dump_dom_lists_every_module_drawn(tmp_path):
    inv = paraminspect.inventory(on_meta(tiny_vit.build))
    url = write(tmp_path, html_report(inv, title="tiny_vit"))
    dom = dump_dom(CHROMIUM, url, tmp_path / "profile")
    parser = _Names()
    parser.feed(dom)
    assert sorted(parser.names) == sorted(holding_tensors(inv))
    assert "encoder.layers.0.self_attn.out_proj" in parser.names and "" in parser.names
    assert "data-ready-ms=" in dom and 'class="pi-nojs"' not in dom  # the script ran


@needs_chromium
def test_screenshot_shows_every_kind_and_the_switches(browser, tmp_path):
    model = nn.Module()
    model.proj = nn.Linear(64, 64)
    model.register_buffer("table", torch.zeros(3000))
    model.register_buffer("cache", torch.zeros(3000), persistent=False)
    model.plain = torch.zeros(3000)
    model.head16 = nn.Linear(64, 64).to(torch.float16)
    model.head16.requires_grad_(False)
    inv = paraminspect.inventory(model)
    browser.open(write(tmp_path, html_report(inv, title="kinds")))
    assert browser.errors() == []
    rect = browser.evaluate(
        "(() => { const r = document.querySelector('.pi-map').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )

    def shot() -> dict[tuple[int, int, int], int]:
        clip = {"x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 0.5}
        import base64

        return colours(base64.b64decode(browser.call("Page.captureScreenshot", format="png", clip=clip)["data"]))

    by_kind = shot()
    assert len(by_kind) > 10  # not blank
    for kind, rgb in KIND_RGB.items():
        assert by_kind.get(rgb, 0) > 200, (kind, sorted(by_kind.items(), key=lambda kv: -kv[1])[:8])
    legend = browser.evaluate("document.querySelector('.pi-legend').textContent")
    assert "parameter (4)" in legend and "unregistered (1)" in legend and "buffer (np) (1)" in legend

    browser.evaluate("document.querySelector('.pi-switch button[data-value=trainable]').click()")
    legend = browser.evaluate("document.querySelector('.pi-legend').textContent")
    assert "trainable (2)" in legend and "frozen (2)" in legend and "not a parameter (3)" in legend
    assert shot().get(KIND_RGB["unregistered"], 0) == 0  # no tensor is drawn in the kind colours now
    browser.evaluate("document.querySelector('.pi-switch button[data-value=dtype]').click()")
    assert "float16 (2)" in browser.evaluate("document.querySelector('.pi-legend').textContent")


@needs_chromium
def test_search_box_filters_the_table(browser, tmp_path):
    inv = paraminspect.inventory(on_meta(tiny_vit.build))
    browser.open(write(tmp_path, html_report(inv, title="tiny_vit")))
    names = [r.name for r in inv.tensors]
    count = "document.querySelector('.pi-count').textContent"
    rows = "[...document.querySelectorAll('.pi-vtable tbody tr[data-tensor]')].map(r => r.dataset.tensor)"
    assert browser.evaluate(count) == f"{len(names)} of {len(names)} tensors"

    browser.type_text(".pi-search", "NORM")
    expected = [n for n in names if "norm" in n.lower()]
    assert 0 < len(expected) < len(names)
    assert browser.evaluate(count) == f"{len(expected)} of {len(names)} tensors"
    assert browser.evaluate(rows) == expected

    browser.evaluate(
        "const s = document.querySelector('.pi-search'); s.value = ''; s.dispatchEvent(new Event('input'))"
    )
    browser.type_text(".pi-search", "encoder.layers.*.linear1.*")
    expected = [n for n in names if fnmatch.fnmatchcase(n, "encoder.layers.*.linear1.*")]
    assert len(expected) == 4 and browser.evaluate(rows) == expected

    # A click on a column's head sorts by it, largest first; a second click, smallest first.
    size_head = "[...document.querySelectorAll('.pi-vtable th')].find(th => th.textContent === 'Size').click()"
    browser.evaluate(size_head)
    by_size = sorted((r for r in inv.tensors if r.name in expected), key=lambda r: (-r.nbytes, expected.index(r.name)))
    assert browser.evaluate(rows) == [r.name for r in by_size]
    browser.evaluate(size_head)
    assert browser.evaluate(rows)[0] in {r.name for r in by_size if r.nbytes == by_size[-1].nbytes}


@needs_chromium
def test_50000_tensors_open_with_every_module_indexed_and_a_virtual_table(browser, tmp_path, many):
    inv, html = many
    browser.open(write(tmp_path, html))
    assert browser.errors() == []
    assert len(drawn(browser)) == 25_001
    rendered = "document.querySelectorAll('.pi-vtable tbody tr[data-tensor]').length"
    assert 0 < browser.evaluate(rendered) < 200  # only the rows in view exist
    browser.evaluate("const s = document.querySelector('.pi-scroll'); s.scrollTop = s.scrollHeight")
    browser.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    last = browser.evaluate("[...document.querySelectorAll('.pi-vtable tbody tr[data-tensor]')].pop().dataset.tensor")
    assert last == inv.tensors[-1].name == "24999.bias"
    browser.type_text(".pi-search", "24998.")
    assert browser.evaluate("document.querySelector('.pi-count').textContent") == "2 of 50,000 tensors"


@needs_chromium
def test_findings_are_marked_and_listed_with_file_and_line(browser, tmp_path):
    model = bug_pi004.build()
    findings = paraminspect.check(model)
    assert findings and all(f.file and f.line for f in findings)
    inv = paraminspect.inventory(model)
    browser.open(write(tmp_path, html_report(inv, title="bug_pi004", findings=findings)))
    assert browser.errors() == []
    marks = browser.evaluate(
        "[...document.querySelectorAll('.pi-mark.pi-flag')].map(m => [m.dataset.flag, m.textContent])"
    )
    assert {module for module, _ in marks} == {f.module for f in findings}
    for module, badge in marks:
        assert set(badge.split()) == {f.code for f in findings if f.module == module}
    listed = browser.evaluate("[...document.querySelectorAll('li.pi-finding')].map(li => li.textContent)")
    assert len(listed) == len(findings)
    for text, f in zip(listed, findings, strict=True):
        assert f"{Path(f.file).name}:{f.line}" in text and f.code in text and f.message in text
    browser.evaluate("document.querySelector('li.pi-finding').click()")
    assert browser.evaluate("document.querySelector('.pi-mark.pi-sel').dataset.selected") == findings[0].module
    assert browser.evaluate("document.querySelector('.pi-detail h3').textContent") == findings[0].module


@needs_chromium
def test_hostile_names_are_text_not_markup(browser, tmp_path):
    hostile = "</script><script>window['__pwned']=1</script>"  # a module name has no dots
    cls = type("<img src=x onerror=window.__pwned=2>", (nn.Module,), {})
    model = cls()
    model.add_module(hostile, nn.Linear(4, 4))
    model.add_module("<b>&amp;", nn.Linear(4, 4))
    finding = Finding(
        "PI002",
        "warning",
        hostile,
        "x",
        (hostile + ".x",),
        "<img src=y onerror=window.__pwned=3>",
        file="/tmp/</script><script>window.__pwned=4</script>.py",
        line=3,
    )
    inv = paraminspect.inventory(model)
    browser.open(write(tmp_path, html_report(inv, title=hostile, findings=[finding])))
    assert browser.errors() == []
    assert browser.evaluate("window.__pwned === undefined && document.querySelectorAll('img').length === 0")
    assert set(drawn(browser)) == {"", hostile, "<b>&amp;"}
    assert browser.evaluate("document.querySelector('h1').textContent") == hostile
    assert browser.evaluate("document.querySelector('.pi-mark.pi-flag').dataset.flag") == hostile
    listed = browser.evaluate("document.querySelector('li.pi-finding').textContent")
    assert "window.__pwned=4</script>.py:3" in listed and "<img src=y" in listed
    # The module's type shows as text in the detail panel, not as an element.
    browser.evaluate("document.querySelector('li.pi-finding').click()")
    assert browser.evaluate("document.querySelector('.pi-detail .pi-type').textContent") == "Linear"
    browser.evaluate("document.querySelector('.pi-crumbs button').click()")
    assert browser.evaluate("document.querySelectorAll('img').length") == 0


@needs_chromium
def test_double_click_zooms_in_and_the_path_zooms_out(browser, tmp_path):
    import timm

    inv = paraminspect.inventory(on_meta(timm.create_model, "resnet18", pretrained=False))
    browser.open(write(tmp_path, html_report(inv, title="resnet18")))
    inside = {p for p in holding_tensors(inv) if p.startswith("layer1.")}
    assert not inside <= set(drawn(browser))  # the batch norms of layer1 are too small to draw at first
    click_box(browser, "layer1", double=True)
    assert browser.evaluate("[...document.querySelectorAll('.pi-crumbs button')].map(b => b.textContent)") == [
        "ResNet",
        "layer1",
    ]
    assert set(drawn(browser)) == {"layer1"} | inside
    browser.evaluate("document.querySelector('.pi-crumbs button').click()")
    assert "fc" in drawn(browser)
    click_box(browser, "fc")  # a click selects: the panel shows the module's totals
    detail = browser.evaluate("document.querySelector('.pi-detail').textContent")
    assert "fc" in detail and "513,000" in detail and "Linear" in detail


@needs_chromium
def test_flops_switch_sizes_by_each_module_s_own_flops(browser, tmp_path):
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    inv = paraminspect.inventory(model)
    browser.open(write(tmp_path, html_report(inv, title="mlp")))
    assert browser.evaluate("document.querySelector('.pi-switch button[data-value=flops]')") is None
    browser.open(write(tmp_path, html_report(inv, title="mlp", flops={"": 200, "0": 128, "1": 8, "2": 64}), "f.html"))
    assert set(drawn(browser)) == {"", "0", "2"}  # sized by elements, the ReLU holds none
    browser.evaluate("document.querySelector('.pi-switch button[data-value=flops]').click()")
    assert set(drawn(browser)) == {"", "0", "1", "2"}  # by FLOPs, it computes some
    boxes = dict(
        browser.evaluate(
            "[...document.querySelectorAll('.pi-index [data-name]')]"
            ".map(e => [e.dataset.name, e.dataset.box.split(',').map(Number)])"
        )
    )
    area = {name: w * h for name, (_, _, w, h) in boxes.items()}
    assert area["0"] > area["2"] > area["1"] > 0


@needs_chromium
def test_reports_share_a_page_and_read_without_scripts(browser, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    one = paraminspect.summary(model)._repr_html_()
    two = paraminspect.summary(nn.Linear(2, 2))._repr_html_()
    url = write(tmp_path, html_document([one, two], "two models"))
    browser.open(url, ready="document.querySelectorAll('.pi-report[data-ready-ms]').length === 2")
    assert browser.errors() == []
    assert browser.evaluate("typeof window.d3 === 'undefined' && typeof window.paraminspectReport === 'undefined'")
    per_report = "[...document.querySelectorAll('.pi-report')].map(r => r.querySelectorAll('.pi-index i').length)"
    assert browser.evaluate(per_report) == [3, 1]
    # As JupyterLab shows an output: innerHTML into a detached element, each script replaced by a
    # copy (innerHTML runs none), the element attached afterwards.
    three = paraminspect.summary(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))._repr_html_()
    browser.evaluate(
        f"""(() => {{
          const host = document.createElement('div');
          host.innerHTML = {json.dumps(three)};
          for (const old of host.querySelectorAll('script')) {{
            const copy = document.createElement('script');
            for (const a of old.attributes) copy.setAttribute(a.name, a.value);
            copy.textContent = old.textContent;
            old.replaceWith(copy);
          }}
          document.body.appendChild(host);
        }})()"""
    )
    assert browser.evaluate("document.querySelectorAll('.pi-report[data-ready-ms]').length") == 3
    assert browser.evaluate(per_report) == [3, 1, 3]
    browser.call("Emulation.setScriptExecutionDisabled", value=True)
    try:
        browser.open(url, ready="true")
        assert browser.evaluate("document.querySelectorAll('.pi-index i').length") == 0
        assert browser.evaluate("[...document.querySelectorAll('.pi-nojs')].every(p => p.offsetHeight > 0)")
        cells = browser.evaluate("[...document.querySelectorAll('.pi-static td:first-child')].map(td => td.innerText)")
        assert cells == [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "weight",
            "bias",
        ]
        assert "Parameters" in browser.evaluate("document.querySelector('.pi-cards').innerText")
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", value=False)


@needs_chromium
def test_a_checkpoint_s_tensors_are_drawn_under_their_name_prefixes(browser, tmp_path):
    from paraminspect.tensors.records import STORED, TensorRecord
    from paraminspect.tensors.totals import inventory_from_records

    def stored(name: str, shape: tuple[int, ...], dtype: str) -> TensorRecord:
        numel = shape[0] * shape[1]
        module, _, attribute = name.rpartition(".")
        size = {"float16": 2, "float32": 4}[dtype]
        return TensorRecord(name, STORED, None, False, shape, dtype, "cpu", numel, size * numel, module, "", attribute)

    records = [stored(f"model.layers.{i}.proj.weight", (64, 64), "float16") for i in range(3)]
    records.append(stored("lm_head.weight", (100, 64), "float32"))
    inv = inventory_from_records(records, "safetensors")
    browser.open(write(tmp_path, html_report(inv, title="model.safetensors")))
    assert browser.errors() == []
    assert (
        set(drawn(browser))
        == holding_tensors(inv)
        == {
            "",
            "model",
            "model.layers",
            "lm_head",
            *(f"model.layers.{i}{part}" for i in range(3) for part in ("", ".proj")),
        }
    )
    assert browser.evaluate("document.querySelector('.pi-legend').textContent") == "float16 (3)float32 (1)"
    assert "Stored tensors" in browser.evaluate("document.querySelector('.pi-cards').innerText")
    click_box(browser, "lm_head")
    assert "stored elements6,400" in browser.evaluate("document.querySelector('.pi-detail').textContent")
