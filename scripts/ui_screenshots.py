"""Screenshots of the latest sweep in the MLflow UI, as a user sees it (headless chromium), for the docs
(docs/mlflow-and-reports.md).

    .venv/bin/xlsweep ui --port 5055 &                 # serve the store (or point --ui at any MLflow UI of it)
    .venv/bin/python scripts/ui_screenshots.py --ui http://127.0.0.1:5055 --out docs/

Writes ``mlflow-runs.png`` (the sweep's trials grouped by grid values, a Δ column per target),
``mlflow-charts.png`` (the same as charts: a bar per group), ``mlflow-parent.png`` (the parent
run's description) and ``mlflow-report.png`` (its report page in the artifact viewer), each
cropped to the page and scaled to ``--width``. Needs Debian's ``chromium`` and
``chromium-driver``; speaks W3C WebDriver to chromedriver over HTTP (no selenium).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image

from xlsweep.tracking import default_tracking_uri
from xlsweep.tracking.links import latest_sweep

ASSISTANT_CLOSE = 'button[data-component-id="mlflow.assistant.chat_panel.close"]'


class Browser:
    """A headless chromium session driven through chromedriver's W3C WebDriver endpoint."""

    def __init__(self, *, width: int, height: int, chromium: str, driver: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.driver = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{driver} did not start") from None
                time.sleep(0.2)
        options = {"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                 f"--window-size={width},{height}", "--disable-dev-shm-usage"]}
        body = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", "/session", body)["sessionId"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())["value"]

    def run(self, script: str, *args: Any) -> Any:
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def open(self, url: str, text: str, *, timeout: float = 120, settle: float = 3) -> None:
        """Load ``url`` and wait until the page shows ``text`` (and the charts had ``settle`` s to draw)."""
        self._call("POST", f"/session/{self.session}/url", {"url": url})
        deadline = time.monotonic() + timeout
        while text not in (self.run("return document.body ? document.body.innerText : ''") or ""):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: {text!r} did not appear within {timeout:.0f} s")
            time.sleep(0.5)
        self.run(f"const b = document.querySelector('{ASSISTANT_CLOSE}'); if (b) b.click();")
        time.sleep(settle)

    def click_text(self, text: str) -> None:
        self.run("const e = [...document.querySelectorAll('button, a, span')].find(x => x.innerText === arguments[0]);"
                 "if (e) { e.scrollIntoView({block: 'center'}); e.click(); }", text)

    def scroll_to(self, text: str) -> None:
        self.run("const e = [...document.querySelectorAll('h1,h2,h3,h4,h5,span,div')].find("
                 "x => x.childElementCount === 0 && x.innerText === arguments[0]);"
                 "if (e) e.scrollIntoView({block: 'start'});", text)

    def screenshot(self) -> Image.Image:
        png = base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot"))
        return Image.open(io.BytesIO(png)).convert("RGB")

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)


def save(image: Image.Image, path: Path, *, left: int, width: int) -> None:
    """Crop the sidebar (``left`` px) and scale to ``width``; 256 colours keep the PNG small."""
    page = image.crop((left, 0, image.width, image.height))
    scaled = page.resize((width, round(page.height * width / page.width)), Image.Resampling.LANCZOS)
    scaled.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ui", default="http://127.0.0.1:5000", help="The MLflow UI serving the store.")
    parser.add_argument("--tracking-uri", default=None, help="The store (default: $MLFLOW_TRACKING_URI, ./mlflow.db).")
    parser.add_argument("--experiment", default=None, help="The latest sweep of this experiment (default: of any).")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--width", type=int, default=1000, help="Width of the saved images in px.")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    links = latest_sweep(args.tracking_uri or default_tracking_uri(), args.ui.rstrip("/"), experiment=args.experiment)
    if links is None or links.charts is None:
        sys.exit("no sweep with a stored view in this store: run one with `xlsweep sweep` first")
    args.out.mkdir(parents=True, exist_ok=True)
    browser = Browser(width=1500, height=1000, chromium=args.chromium, driver=args.chromedriver)
    try:
        browser.open(links.runs, "delta_avg")
        save(browser.screenshot(), args.out / "mlflow-runs.png", left=200, width=args.width)
        browser.open(links.charts, "delta/", settle=8)
        save(browser.screenshot(), args.out / "mlflow-charts.png", left=200, width=args.width)
        browser.open(links.run, "Description")
        browser.click_text("Show more")
        browser.scroll_to("Description")
        time.sleep(1)
        save(browser.screenshot(), args.out / "mlflow-parent.png", left=200, width=args.width)
        browser.open(links.page, ".html" if links.page_is_report else ".png", settle=5)
        save(browser.screenshot(), args.out / "mlflow-report.png", left=200, width=args.width)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
