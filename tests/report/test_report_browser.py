"""report.html in a real browser (Debian's chromium, headless) and served by a real MLflow server (slow tier).

``scripts/setup_browser.sh`` installs chromium when it is missing (CI runs it too); ``$XLSWEEP_CHROMIUM``
names another binary. The screenshots are left under the test's tmp directory (``report_wide.png``,
``report_narrow.png``) to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from mlflow.tracking import MlflowClient

from tests.report.conftest import Store, make_child, make_parent
from tests.report.htmltree import Node, parse
from xlsweep.report.sweep_report import report_from_mlflow
from xlsweep.tracking import serve_ui, stop_server
from xlsweep.tracking.urls import artifact_url as artifact_viewer_url
from xlsweep.tracking.urls import compare_url, report_page_url
from xlsweep.tracking.urls import run_link as run_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chromium() -> str:
    def find() -> str | None:
        return os.environ.get("XLSWEEP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

    if find() is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "setup_browser.sh")], check=True, timeout=1800)
    found = find()
    assert found, "no chromium after scripts/setup_browser.sh"
    return found


def _browse(chromium: str, url: str, profile: Path, *args: str) -> str:
    """Run headless chromium on ``url`` with ``args``; its stdout (the DOM with --dump-dom)."""
    command = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args, url]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # chromium refuses root without it
    done = subprocess.run(command, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


def _cells(dom: Node) -> dict[tuple[str, str], Node]:
    section = next(n for n in dom.find_all("section") if n.attrs.get("id") == "table-1")
    return {(a.attrs["data-row"], a.attrs["data-col"]): a for a in section.iter()
            if "cell" in a.attrs.get("class", "").split()}


def test_report_page_in_headless_chromium(demo_store: Store, chromium: str, tmp_path: Path) -> None:
    report = report_from_mlflow(demo_store.uri, parent_run_id=demo_store.parent, out_dir=tmp_path / "out")
    page = report.paths[-1]
    eid = report.results.experiment_id
    runs = {aux: [r.run_id for r in sorted(report.results.records, key=lambda r: r.seed) if r.aux == aux]
            for aux in ("ana→bel", "bel")}

    dom = parse(_browse(chromium, page.as_uri(), tmp_path / "profile", "--dump-dom"))
    cells = _cells(dom)  # as the browser parsed the page: every cell a link with its marks and numbers
    assert len(cells) == 12
    best = cells[("XLA-MAML (ana→bel)", "bel")]
    assert best.find("text").text() == "+6.0*" and best.attrs["href"] == compare_url("/", eid, runs["ana→bel"])
    # the per-target family of the sweep: the 6 tested (choice, target) cells; these synthetic runs carry no
    # per-example outcomes, so the cell falls back to the t-test over seeds and says so
    assert "Holm-adjusted p = 0.0274 (6 tests): significant at α = 0.05" in best.find("title").text()
    assert "t-test" in best.find("title").text()
    untested = cells[("X-MAML (bel)", "bel")]
    assert untested.find("text").text() == "+3.0○" and untested.attrs["href"] == run_url("/", eid, runs["bel"][0])
    assert cells[("XLA-MAML (ana→bel)", "dun")].find("text").text() == "+3.0"  # raw p .018, none after Holm
    table = dom.find("table", "paper")
    assert [td.text() for td in table.find_all("td", "sig")] == ["56.0 ± 1.0*", "65.0 ± 1.0*"]  # as test_render.py
    tied = next(tr for tr in dom.find("table", "best").find_all("tr") if tr.attrs.get("data-target") == "bel")
    assert [a.text() for a in tied.find("td", "tied").find_all("a")] == ["XLA-MAML (ana→bel)", "X-MAML (bel)"]

    wide, narrow = tmp_path / "report_wide.png", tmp_path / "report_narrow.png"
    _browse(chromium, page.as_uri(), tmp_path / "profile", "--window-size=1100,1400", f"--screenshot={wide}")
    _browse(chromium, page.as_uri(), tmp_path / "profile", "--window-size=390,1400", f"--screenshot={narrow}")
    pixels = imread(wide)[:, :, :3]
    assert pixels.shape[:2] == (1400, 1100)
    darkest = np.array(to_rgb(colormaps["RdBu"](1.0)))  # the +6.0 cell: the heatmap's largest improvement
    assert (np.abs(pixels - darkest).max(axis=2) < 0.02).sum() > 500, "the SVG heatmap did not render"
    assert imread(narrow).shape[:2] == (1400, 390)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A sweep store whose parent run has its reports as artifacts, served as ``xlsweep ui`` serves it.

    Yields (url, experiment id, parent run id)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    eid = client.create_experiment("web", artifact_location=(tmp_path / "artifacts").as_uri())
    parent = make_parent(client, eid, "web-1", name="web", task="nli", primary="acc", start_time=1,
                         baseline={"baseline/acc/bel": 0.5, "baseline/acc/cor": 0.6}, params={"data.source": "ana"})
    for seed in (0, 1):
        make_child(client, eid, parent, f"t{seed}", sweep="web", task="nli", primary="acc", algorithm="xla-maml",
                   aux="ana→bel", support="ana", query="bel", seed=seed, start_time=2 + seed,
                   scores={"acc": {"bel": 0.6 + seed / 100, "cor": 0.61}}, baseline={"acc": {"bel": 0.5, "cor": 0.6}},
                   params={"data.source": "ana"})
    for path in report_from_mlflow(uri, parent_run_id=parent, out_dir=tmp_path / "out").paths:
        client.log_artifact(parent, str(path))  # as the sweep runner logs them
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve_ui(uri, port=port, block=False, timeout_s=240, on_ready=lambda _: None)  # as `xlsweep ui` runs it
    try:
        yield f"http://127.0.0.1:{port}/", eid, parent
    finally:
        stop_server(server)


def test_report_links_open_the_runs_in_the_mlflow_ui(served: tuple[str, str, str], chromium: str,
                                                     tmp_path: Path) -> None:
    url, eid, parent = served
    page_url = report_page_url(url, parent)  # the `report:` link `xlsweep ui` prints: a top-level page
    with urllib.request.urlopen(page_url, timeout=30) as response:  # noqa: S310
        assert response.headers.get_content_type() == "text/html"
        assert "attachment" not in response.headers.get("Content-Disposition", "")
    page = parse(_browse(chromium, page_url, tmp_path / "profile", "--dump-dom"))  # the page as the browser has it
    cell = next(a for a in page.iter() if a.attrs.get("data-row") == "ana→bel" and a.attrs.get("data-col") == "bel")
    compare = urljoin(page_url, cell.attrs["href"])  # what a click on the cell opens
    assert compare.startswith(f"{url}#/compare-runs?runs=")
    dom = _browse(chromium, compare, tmp_path / "profile", "--virtual-time-budget=30000", "--dump-dom")
    assert "Comparing 2 Runs from 1 Experiment" in dom
    assert "ana→bel seed0" in dom and "ana→bel seed1" in dom
    row = next(tr for tr in page.find("table", "paper").find_all("tr") if "ana→bel" in tr.attrs.get("data-row", ""))
    assert urljoin(page_url, row.find("th").find("a").attrs["href"]) == compare  # a row's label: its runs too
    seed_link = next(a for td in page.find_all("td", "runs") for a in td.find_all("a") if a.text() == "s1")
    run_page = urljoin(page_url, seed_link.attrs["href"])
    assert run_page.startswith(f"{url}#/experiments/{eid}/runs/")
    dom = _browse(chromium, run_page, tmp_path / "profile", "--virtual-time-budget=30000", "--dump-dom")
    assert f"<title>Run {run_page.rsplit('/', 1)[1]} - MLflow</title>" in dom and "ana→bel seed1" in dom
    shots = Path(os.environ.get("XLSWEEP_SCREENSHOTS", tmp_path))  # docs/ when refreshing the docs' screenshots
    for name, shown in (("mlflow-report-page.png", page_url), ("mlflow-compare.png", compare),
                        ("mlflow-report-viewer.png", artifact_viewer_url(url, eid, parent, "report.html"))):
        _browse(chromium, shown, tmp_path / "profile", "--window-size=1440,900", "--virtual-time-budget=30000",
                f"--screenshot={shots / name}")
        assert imread(shots / name).shape[:2] == (900, 1440)
