"""Regenerates docs/images/vit_base_report.png, the README's picture of the HTML report:
vit_base_patch16_224 built on meta, in headless Chromium at 1280x800, one module selected and the
pointer on a tensor. Usage: python docs/make_screenshot.py (needs a chromium binary)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images" / "vit_base_report.png"


def main() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import timm
    import torch
    from browser import Browser, find_chromium

    import paraminspect
    from paraminspect.render.html_report import html_report

    binary = find_chromium()
    if binary is None:
        sys.exit("no chromium binary found (Debian: apt-get install chromium)")
    with torch.device("meta"):
        model = timm.create_model("vit_base_patch16_224", pretrained=False)
    html = html_report(paraminspect.inventory(model), title="vit_base_patch16_224", findings=paraminspect.check(model))
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "vit_base.html"
        page.write_text(html, encoding="utf-8")
        browser = Browser(binary, Path(tmp) / "profile", size=(1280, 800))
        try:
            browser.open(page.as_uri())

            def point(name: str, fx: float, fy: float) -> tuple[float, float]:
                x, y = browser.evaluate(
                    f"""(() => {{
                      const i = [...document.querySelectorAll('.pi-index [data-name]')]
                        .find(e => e.dataset.name === {json.dumps(name)});
                      const [x, y, w, h] = i.dataset.box.split(',').map(Number);
                      const r = document.querySelector('.pi-map canvas').getBoundingClientRect();
                      return [r.left + x + w * {fx}, r.top + y + h * {fy}];
                    }})()"""
                )
                return x, y

            browser.click(*point("blocks.4.attn.qkv", 0.5, 0.6))
            x, y = point("blocks.4.mlp.fc1", 0.5, 0.7)
            browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
            OUT.write_bytes(browser.screenshot())
        finally:
            browser.close()
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
