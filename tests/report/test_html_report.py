"""report.html: self-contained, the heatmap's cells with their numbers, marks and links, the tables, the tied set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from tests.report.conftest import Store
from tests.report.htmltree import Node, parse
from xlsweep.cli import app
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.sweep_report import report_from_mlflow, write_report
from xlsweep.report.sweep_results import Excluded, ReportError, RunRecord, SweepResults
from xlsweep.tracking.urls import compare_url, experiment_url, normalise_base, report_page_url
from xlsweep.tracking.urls import run_link as run_url
from xlsweep.tracking.urls import served_file_url as artifact_url


@pytest.fixture(scope="module")
def demo_page(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, str, SweepResults]:
    out = tmp_path_factory.mktemp("html")
    report = report_from_mlflow(demo_store.uri, parent_run_id=demo_store.parent, out_dir=out)
    assert report.paths[-1] == out / "report.html"
    text = report.paths[-1].read_text(encoding="utf-8")
    return parse(text), text, report.results


def _runs(results: SweepResults, aux: str) -> list[str]:
    return [r.run_id for r in sorted(results.records, key=lambda r: r.seed) if r.aux == aux]


def _cells(page: Node, section: str = "table-1") -> dict[tuple[str, str], Node]:
    found = next(n for n in page.find_all("section") if n.attrs.get("id") == section)
    return {(a.attrs["data-row"], a.attrs["data-col"]): a for a in found.iter()
            if "cell" in a.attrs.get("class", "").split()}


def test_the_page_is_self_contained(demo_page: tuple[Node, str, SweepResults]) -> None:
    page, text, results = demo_page
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    for fetching in ("<link", "<img", "<iframe", " src=", "@import", "url(", "@font-face"):
        assert fetching not in text, fetching
    assert text.count("<script") == 1  # one inline script: the page's address, shown only where it is framed
    assert set(re.findall(r"https?://[^\s\"'<]+", text)) == {"http://www.w3.org/2000/svg"}  # a namespace, no fetch
    hrefs = [n.attrs["href"] for n in page.iter() if "href" in n.attrs]
    assert hrefs and all(h.startswith(("/#/", "#")) for h in hrefs[1:])  # relative to the serving MLflow server
    as_page = next(n for n in page.iter() if n.attrs.get("id") == "as-page")  # in MLflow's sandboxed viewer
    assert as_page.find("a").attrs["href"] == hrefs[0] == report_page_url("/", results.parent_run_id)
    assert "display:none" in text.split("#as-page{", 1)[1].split("}", 1)[0]  # hidden unless framed
    assert len(page.find_all("svg", "heatmap")) == 2  # zero-shot and few-shot


def test_heatmap_cells_hold_values_marks_tests_and_links(demo_page: tuple[Node, str, SweepResults]) -> None:
    page, _, results = demo_page
    eid = results.experiment_id
    cells = _cells(page)
    assert len(cells) == 3 * 4  # rows × (bel, cor, dun, avg)
    best = cells[("XLA-MAML (ana→bel)", "bel")]
    p = float(scipy_stats.ttest_rel([0.56, 0.55, 0.57], [0.5] * 3, alternative="greater").pvalue)
    assert best.find("text").text() == "+6.0*" and best.attrs["data-mark"] == "*"
    assert float(best.attrs["data-delta"]) == pytest.approx(0.06) and best.attrs["data-n"] == "3"
    assert float(best.attrs["data-p"]) == pytest.approx(p)
    assert float(best.attrs["data-p-adjusted"]) == pytest.approx(6 * p)  # Holm over the sweep's 6 target tests
    assert best.attrs["href"] == compare_url("/", eid, _runs(results, "ana→bel"))
    tooltip = best.find("title").text()
    assert "XLA-MAML (ana→bel) on bel" in tooltip and "Δ +6.0 ± 1.0 points vs stage 1, n = 3 seeds" in tooltip
    assert "acc 56.0 ± 1.0" in tooltip and f"p = {p:.3g}" in tooltip and \
        f"Holm-adjusted p = {6 * p:.3g} (6 tests): significant" in tooltip
    raw_only = cells[("XLA-MAML (ana→bel)", "dun")]  # raw p = .018: no mark after Holm
    assert raw_only.find("text").text() == "+3.0" and "not significant" in raw_only.find("title").text()
    one_seed = cells[("X-MAML (bel)", "bel")]
    assert one_seed.find("text").text() == "+3.0○" and one_seed.attrs["data-mark"] == "○"
    assert "○ not tested: 1 seed pair, a paired test needs 2" in one_seed.find("title").text()
    (x_maml_run,) = _runs(results, "bel")
    assert one_seed.attrs["href"] == f"/#/experiments/{eid}/runs/{x_maml_run}"
    legend = page.find("ul", "legend").text()
    assert "targets Holm-adjusted over the sweep's 6 (choice, target) tests, as in best_pairs.csv" in legend
    assert "the avg column over its table's 4 average cells, α = 0.05" in legend and "○ not tested" in legend


def test_the_paper_table_marks_cells_and_links_every_seeds_run(demo_page: tuple[Node, str, SweepResults]) -> None:
    page, _, results = demo_page
    table = page.find("table", "paper")
    rows = {tr.attrs["data-row"]: tr for tr in table.find_all("tr") if "data-row" in tr.attrs}
    assert list(rows) == ["source only (stage 1)", "X-MAML (bel)", "XLA-MAML (ana→bel)", "XLA-MAML (ana→cor)"]
    bel = rows["XLA-MAML (ana→bel)"]
    assert [td.text() for td in bel.find_all("td", "sig")] == ["56.0 ± 1.0*"]
    assert [td.text() for td in rows["X-MAML (bel)"].find_all("td", "untested")][0] == "53.0 ○"
    links = [a.attrs["href"] for a in bel.find("td", "runs").find_all("a")]
    assert links == [run_url("/", results.experiment_id, rid) for rid in _runs(results, "ana→bel")]
    assert [a.text() for a in bel.find("td", "runs").find_all("a")] == ["s0", "s1", "s2"]
    comparisons = page.find("table", "comparisons")
    assert [tr.attrs["data-row"] for tr in comparisons.find_all("tr") if "data-row" in tr.attrs] == [
        "XLA-MAML (ana→bel) − X-MAML (bel)"]


def test_best_choices_show_the_set_tied_with_the_best(demo_page: tuple[Node, str, SweepResults]) -> None:
    page, _, _ = demo_page
    best = page.find("table", "best")
    rows = {tr.attrs["data-target"]: tr for tr in best.find_all("tr") if "data-target" in tr.attrs}
    assert list(rows) == ["bel", "cor", "dun"]
    tied = [a.text() for a in rows["bel"].find("td", "tied").find_all("a")]
    assert tied == ["XLA-MAML (ana→bel)", "X-MAML (bel)"]
    assert "+6.0* (n=3)" in rows["bel"].find("td", "tied").text()
    assert "1; the next: XLA-MAML (ana→cor)" in rows["bel"].text()
    assert len(rows["dun"].find("td", "tied").find_all("a")) == 3


def test_text_from_the_store_is_escaped(tmp_path: Path) -> None:
    evil = '<img src=x onerror="alert(1)">'
    records = tuple(RunRecord(f"r{s}", f"t{s}", "xla-maml", f"ana→{evil}", ("ana",), (evil,), s,
                              {"aux": f"ana→{evil}", "seed": s}, {"acc": {"bel": 0.6 + s / 100}},
                              {"acc": {"bel": 0.5}}, {}, source="ana") for s in range(2))
    results = SweepResults("sqlite:///x", "exp & <b>", "p1", "id", "sweep <script>alert(2)</script>", "nli", "acc",
                           "FINISHED", records, (Excluded('r"9', evil, "0", "FAILED", "<script>bad()</script>"),),
                           experiment_id='1" onclick="x')
    page = (write_report(results, tmp_path, formats=["md"]).paths[-1]).read_text(encoding="utf-8")
    for raw in (evil, "<script>", "exp & <b>", 'onclick="x', 'r"9'):
        assert raw not in page, raw
    assert "exp &amp; &lt;b&gt;" in page
    assert "ana→&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "sweep &lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "/#/experiments/1%22%20onclick%3D%22x/runs/r%229" in page  # ids are URL-quoted in links


def test_the_ui_base_is_configurable_and_checked(demo_store: Store, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    results = load_sweep_results(demo_store.uri, parent_run_id=demo_store.parent)
    page = write_report(results, tmp_path / "a", formats=["md"], ui_base="http://127.0.0.1:5000").paths[-1]
    hrefs = [n.attrs["href"] for n in parse(page.read_text(encoding="utf-8")).iter() if "href" in n.attrs]
    assert hrefs[0] == f"http://127.0.0.1:5000/xlsweep/report/{results.parent_run_id}"  # the page, as served
    assert all(h.startswith(("http://127.0.0.1:5000/#/", "#")) for h in hrefs[1:])
    monkeypatch.setenv("XLSWEEP_UI_URL", "http://mlflow.lab:8080/")
    page = write_report(results, tmp_path / "b", formats=["md"]).paths[-1]
    assert 'href="http://mlflow.lab:8080/#/experiments/' in page.read_text(encoding="utf-8")
    with pytest.raises(ReportError, match=r"--ui-url: expected the MLflow server's URL.*got 'http://h/\?x=1'"):
        report_from_mlflow(demo_store.uri, parent_run_id=demo_store.parent, out_dir=tmp_path / "c",
                           ui_base="http://h/?x=1")
    assert not (tmp_path / "c").exists()


def test_report_cli_ui_url_option(demo_store: Store, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo",
                                      "--out", str(tmp_path), "--format", "md", "--ui-url", "http://h:5000"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'report.html'}" in result.output
    assert 'href="http://h:5000/#/experiments/' in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_metaxl_sweeps_get_a_page_with_their_method_table_and_no_heatmap(mx_store: Store, tmp_path: Path) -> None:
    report = report_from_mlflow(mx_store.uri, experiment="mx", out_dir=tmp_path, formats=["md"])
    page = parse(report.paths[-1].read_text(encoding="utf-8"))
    assert not page.find_all("svg")
    rows = [tr.attrs["data-row"] for tr in page.find("table", "paper").find_all("tr") if "data-row" in tr.attrs]
    assert rows == ["source only (stage 1)", "target-only", "jt", "metaxl"]


def test_links_follow_the_mlflow_ui_routes() -> None:
    assert normalise_base(None) == normalise_base("") == "/"
    assert normalise_base("http://h:5000") == normalise_base("http://h:5000///") == "http://h:5000/"
    assert run_url("/", "3", "abc") == "/#/experiments/3/runs/abc"
    assert experiment_url("http://h/", "3") == "http://h/#/experiments/3?workflowType=machine_learning"
    url = compare_url("/", "3", ["a", "b"])
    assert url.startswith("/#/compare-runs?runs=")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert json.loads(unquote(query["runs"])) == ["a", "b"] and json.loads(unquote(query["experiments"])) == ["3"]
    assert compare_url("/", "3", ["a"]) == run_url("/", "3", "a")
    assert artifact_url("http://h:5000", "r1", "report.html") == "http://h:5000/get-artifact?path=report.html&run_uuid=r1"
