"""``report.html``: a sweep's reports as one self-contained page.

No network: the heatmaps are inline SVG, the style is inline CSS, no font or image to fetch;
one small script shows, only where the page is framed (MLflow's artifact viewer, whose sandbox
keeps its links from opening), a link to the page as ``xlsweep ui`` serves it, with its address.
The page holds, for the sweep's metric:

* a header: sweep, experiment, parent run, status, trial counts (links to the MLflow UI);
* per meta-learning table (zero-shot, few-shot): the aux × target heatmap of improvements
  over stage 1 (:mod:`xlsweep.report.html_svg`: per-cell details on hover, ``*`` / ``○`` marks,
  each cell a link to its runs), then the paper-shaped table with its notes and the
  XLA-MAML − X-MAML comparisons; MetaXL-family tables likewise, without a heatmap;
* the best choices per target: the set tied with the best (:mod:`xlsweep.report.best_pairs`);
* the runs left out of the reports, and why.

Every text from the store (run names, tags, labels, reasons) is HTML-escaped. Links follow
:mod:`xlsweep.tracking.urls` with a configurable ``base``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from xlsweep.report.best_pairs import RankedPair, zero_shot_best
from xlsweep.report.heatmap import AVG_COLUMN, SIGNIFICANT_MARK, UNTESTED_MARK, format_points
from xlsweep.report.html_svg import attr, esc, heatmap_svg, verdict
from xlsweep.report.paper_tables import AVG_EXCL_COLUMN, PaperTable
from xlsweep.report.render import cell_text
from xlsweep.report.sweep_results import SweepResults
from xlsweep.report.table_cells import Cell, Row
from xlsweep.report.verdict import TestOptions
from xlsweep.tracking.urls import compare_url, experiment_url, normalise_base, report_page_url, run_link

__all__ = ["REPORT_HTML", "html_page", "write_html_report"]

REPORT_HTML = "report.html"

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--link:#0969da}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px clamp(10px,3vw,32px) 40px;color:var(--fg);background:var(--bg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
h1{font-size:1.45rem;margin:.3rem 0}
h2{font-size:1.15rem;margin:1.8rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
a{color:var(--link);text-decoration:none}a:hover,a:focus{text-decoration:underline}
.meta{color:var(--muted);margin:.2rem 0}.meta b{color:var(--fg);font-weight:600}
.badge{display:inline-block;padding:0 .55em;border-radius:1em;font-size:.8rem;font-weight:600;background:var(--soft);
 border:1px solid var(--line)}
.badge.FINISHED{background:#dafbe1;border-color:#aceebb}.badge.FAILED{background:#ffebe9;border-color:#ffcecb}
nav{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;margin:.6rem 0;font-size:.9rem}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
svg.heatmap{display:block;max-width:none;font-size:14px}
svg.heatmap text{font-family:inherit}svg.heatmap text.col{font-weight:600}
svg.heatmap a rect{stroke:#fff;stroke-width:1}svg.heatmap a:hover rect,svg.heatmap a:focus rect{stroke:var(--fg);
 stroke-width:2}
figure{margin:0 0 1rem}
.legend{display:flex;flex-wrap:wrap;gap:.2rem 1.4rem;margin:.4rem 0 0;padding:0;list-style:none;color:var(--muted);
 font-size:.85rem}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
table.paper{font-size:.92rem}
thead th{border-bottom:2px solid var(--line);font-weight:600}
th:first-child{text-align:left;position:sticky;left:0;background:var(--bg);font-weight:500}
tr.ref th,tr.ref td{background:var(--soft)}
td.sig{font-weight:700}td.untested{color:var(--muted)}
td.runs{text-align:left;font-size:.8rem}td.runs a{margin-right:.4em}
table.best th{text-align:left}td.choices{text-align:left;white-space:normal;min-width:14rem}
.choice{display:inline-block;margin:0 .8rem .1rem 0;white-space:nowrap}
.d{color:var(--muted);font-size:.85rem}
ul.notes{color:var(--muted);font-size:.85rem;margin:.5rem 0;padding-left:1.2rem;max-width:75rem}
details{margin:.5rem 0}summary{cursor:pointer}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem}
#as-page{display:none;margin:.4rem 0;padding:.5rem .8rem;border:1px solid #54aeff;border-radius:6px;background:#ddf4ff}
#as-page a{font-weight:600;word-break:break-all}
@media (max-width:640px){body{font-size:13px}th,td{padding:3px 6px}h1{font-size:1.2rem}}
"""


def write_html_report(path: str | Path, results: SweepResults, tables: Sequence[PaperTable],
                      ranked: Mapping[str, Sequence[RankedPair]], *, metric: str, ui_base: str | None = None,
                      options: TestOptions | None = None) -> Path:
    """Write :func:`html_page` to ``path`` (UTF-8); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page(results, tables, ranked, metric=metric, ui_base=ui_base, options=options),
                   encoding="utf-8")
    return out


def html_page(results: SweepResults, tables: Sequence[PaperTable], ranked: Mapping[str, Sequence[RankedPair]], *,
              metric: str, ui_base: str | None = None, options: TestOptions | None = None) -> str:
    """The whole page as a string (module docstring); ``ui_base``: see :func:`xlsweep.tracking.urls.normalise_base`;
    ``options``: the test and correction the verdicts used (default: pooled, Holm)."""
    base = normalise_base(ui_base)
    eid = results.experiment_id
    sections = [_page_link(base, results.parent_run_id) + _header(results, metric, base)]
    anchors = []
    if ranked:  # the answer first: which auxiliary choices for each target
        anchors.append(("best", "Best choices per target"))
        sections.append(_best(ranked, metric, base, eid, options or TestOptions()))
    for i, table in enumerate(tables):
        anchor = f"table-{i + 1}"
        anchors.append((anchor, table.title))
        figure = _heatmap(table, base, eid) if AVG_EXCL_COLUMN in table.columns else ""  # Table 3, not MetaXL's
        sections.append(f'<section id="{anchor}"><h2>{esc(table.title)}</h2>{figure}{_table(table, base, eid)}'
                        "</section>")
    if results.excluded:
        anchors.append(("excluded", "Excluded runs"))
        sections.append(_excluded(results, base))
    nav = "<nav>" + "".join(f'<a href="#{a}">{esc(title)}</a>' for a, title in anchors) + "</nav>"
    footer = (f"<footer>xlsweep report · links open the MLflow UI at <code>{esc(base)}</code> "
              "(relative to the server when the page is served by it; <code>xlsweep report --ui-url URL</code> "
              "sets it)</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(results.sweep)} · xlsweep report</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + sections[0] + nav + "\n".join(sections[1:]) + footer + "\n</body>\n</html>\n")


_FRAMED = ("<script id='as-page-script'>(function(){if(window.self===window.top)return;"
           "var b=document.getElementById('as-page'),"
           "a=b.querySelector('a'),h=a.getAttribute('href'),o='';try{o=new URL(location.href).origin;}catch(e){}"
           "if(o&&o!=='null'&&h.charAt(0)==='/'){a.href=o+h;}a.textContent=a.href;b.style.display='block';})();"
           "</script>")


def _page_link(base: str, parent_run_id: str) -> str:
    """Shown only in a frame (the artifact viewer, where links do not open): the page as ``xlsweep ui`` serves it."""
    link = report_page_url(base, parent_run_id)
    return (f'<p id="as-page">Links do not open in this frame. Open the report as a page, where they do: <a href="'
            f'{attr(link)}" target="_blank" rel="noopener">{esc(link)}</a> (served by <code>xlsweep ui</code>; '
            f"right-click → open in a new tab, or copy the address)</p>{_FRAMED}")


def _header(results: SweepResults, metric: str, base: str) -> str:
    eid = results.experiment_id
    status = results.status
    experiment = f'<a href="{attr(experiment_url(base, eid))}"><b>{esc(results.experiment)}</b></a>'
    return (f"<header><h1>{esc(results.sweep)}</h1>"
            f'<p class="meta">experiment {experiment}'
            f' · parent run <a href="{attr(run_link(base, eid, results.parent_run_id))}">'
            f"<code>{esc(results.parent_run_id)}</code></a>"
            f' · <span class="badge {attr(status)}">{esc(status)}</span></p>'
            f'<p class="meta">{len(results.records)} finished trial{"" if len(results.records) == 1 else "s"}'
            f"{f' · {len(results.excluded)} excluded' if results.excluded else ''}"
            f" · task {esc(results.task or '?')} · metric <b>{esc(metric)}</b></p></header>")


def _heatmap(table: PaperTable, base: str, eid: str) -> str:
    legend = [f"Δ {table.metric} vs the stage-1 baseline, points, mean over seeds; hover a cell for its numbers, "
              "click it for its runs",
              f"{SIGNIFICANT_MARK} significant difference ({table.options.test_name}; family and correction: "
              f"{_family(table)}, α = {table.options.alpha:g})",
              f"{UNTESTED_MARK} not tested (no per-example outcomes and < 2 seed pairs or zero-variance differences)"]
    items = "".join(f"<li>{esc(line)}</li>" for line in legend)
    return (f'<figure class="fig"><div class="scroll">{heatmap_svg(table, base=base, experiment_id=eid)}</div>'
            f'<ul class="legend">{items}</ul></figure>')


def _table(table: PaperTable, base: str, eid: str) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in ("method", "n", *table.columns, "runs"))
    body = [_row(row, table, base, eid, family=table.tested, runs=True) for row in table.rows]
    parts = [f'<div class="scroll"><table class="paper"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
             "</tbody></table></div>"]
    if table.comparisons:
        head = "".join(f"<th>{esc(c)}</th>" for c in ("XLA-MAML − X-MAML", "n", *table.columns))
        body = [_row(row, table, base, eid, family=table.compared, signed=True) for row in table.comparisons]
        parts.append(f'<h3>XLA-MAML against X-MAML, paired by seed</h3><div class="scroll"><table class="paper '
                     f'comparisons"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')
    parts.append('<ul class="notes">' + "".join(f"<li>{esc(note)}</li>" for note in table.notes) + "</ul>")
    return "".join(parts)


def _family(table: PaperTable) -> str:
    """The heatmap's families: its target cells' (the sweep's choice × target tests) and its average column's."""
    name = table.options.correction_name
    target = next((c.family for r in table.rows for t in table.targets if (c := r.cells.get(t)) and c.family), 0)
    avg = next((c.family for r in table.rows if (c := r.cells.get(AVG_COLUMN)) and c.family), 0)
    return (f"targets {name}-adjusted over the sweep's {target} (choice, target) tests, as in best_pairs.csv; "
            f"the avg column over its table's {avg} average cells")


def _row(row: Row, table: PaperTable, base: str, eid: str, *, family: int, signed: bool = False,
         runs: bool = False) -> str:
    """A table row: its label links to its runs side by side, ``runs`` adds a link per seed."""
    ids = [run_id for _, run_id in row.runs]
    label = f'<a href="{attr(compare_url(base, eid, ids))}">{esc(row.label)}</a>' if ids else esc(row.label)
    cells = "".join(_td(row.cells[c], row, family, signed, table.options.correction_name) for c in table.columns)
    seeds = " ".join(f'<a href="{attr(run_link(base, eid, rid))}" title="run {attr(rid)}">s{seed}</a>'
                     for seed, rid in row.runs)
    css = ' class="ref"' if row.reference else ""
    return (f'<tr{css} data-row="{attr(row.label)}"><th scope="row">{label}</th><td>{row.n}</td>{cells}'
            + (f'<td class="runs">{seeds}</td>' if runs else "") + "</tr>")


def _td(cell: Cell, row: Row, family: int, signed: bool, correction: str) -> str:
    text = esc(cell_text(cell, row.n, signed=signed))
    title = "" if cell.test is None else f' title="{attr(verdict(cell, family, correction))}"'
    if cell.significant:
        return f'<td class="sig"{title}>{text}<sup>{SIGNIFICANT_MARK}</sup></td>'
    if cell.untested:
        return f'<td class="untested"{title}>{text} {UNTESTED_MARK}</td>'
    return f"<td{title}>{text}</td>"


def _best(ranked: Mapping[str, Sequence[RankedPair]], metric: str, base: str, eid: str,
          options: TestOptions) -> str:
    pairs = [p for per in ranked.values() for p in per]
    name = options.correction_name
    rows = []
    for target, per in ranked.items():
        tied = [p for p in per if p.tied]
        others = [p for p in per if not p.tied]
        chips = "".join(_choice(p, base, eid, name) for p in tied)
        rest = f"{len(others)}; the next: {_choice(others[0], base, eid, name)}" if others else "none"
        zero = zero_shot_best(per)
        zero_cell = _choice(zero, base, eid, name) if zero is not None else "none (every choice read its data)"
        rows.append(f'<tr data-target="{attr(target)}"><th scope="row">{esc(target)}</th>'
                    f'<td class="choices tied">{chips}</td><td class="choices zero-shot">{zero_cell}</td>'
                    f'<td class="choices">{rest}</td></tr>')
    notes = [f"Δ {metric} vs the stage-1 baseline, points, mean over seeds (n); {SIGNIFICANT_MARK}: significant "
             f"difference ({options.test_name}), {name}-adjusted over the {pairs[0].family if pairs else 0} tests "
             "of all targets",
             "tied with the best: the best choice (first) and every choice not significantly worse than it (same "
             f"test), {name}-corrected over the target's comparisons with the best, α = {options.alpha:g}; a "
             "choice that cannot be tested against the best stays in the set",
             "zero-shot best: the best choice whose training never read the target's data (the target in neither "
             "its support nor its query languages)",
             "† the choice's auxiliary languages include the target (it saw the target's data)"]
    return ('<section id="best"><h2>Best choices per target</h2><div class="scroll"><table class="best"><thead><tr>'
            "<th>target</th><th>tied with the best</th><th>zero-shot best</th><th>not tied</th></tr></thead><tbody>"
            + "".join(rows)
            + '</tbody></table></div><ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes)
            + "</ul></section>")


def _choice(pair: RankedPair, base: str, eid: str, correction: str = "Holm") -> str:
    test = pair.test
    mark = SIGNIFICANT_MARK if pair.significant else ""
    dagger = " †" if pair.uses_target else ""
    link = compare_url(base, eid, [rid for _, rid in pair.run_ids]) if pair.run_ids else ""
    name = f'<a href="{attr(link)}">{esc(pair.label)}</a>' if link else esc(pair.label)
    spread = "" if math.isnan(test.std_diff) else f" ± {test.std_diff * 100:.1f}"
    title = f"rank {pair.rank}; Δ {test.mean_diff * 100:+.2f}{spread} points, n = {test.n}"
    if pair.vs_best is not None:
        title += f"; vs the best: {correction}-adjusted p = {pair.vs_best_adjusted:.3g}"
    return (f'<span class="choice" title="{attr(title)}">{name}{esc(dagger)} <span class="d">'
            f"{esc(format_points(test.mean_diff * 100))}{mark} (n={test.n})</span></span>")


def _excluded(results: SweepResults, base: str) -> str:
    items = "".join(f'<li><a href="{attr(run_link(base, results.experiment_id, e.run_id))}">{esc(e.aux)} seed '
                    f"{esc(str(e.seed))}</a> ({esc(e.status)}): {esc(e.reason)}</li>" for e in results.excluded)
    return (f'<section id="excluded"><h2>Excluded runs</h2><details><summary>{len(results.excluded)} run(s) left '
            f"out of the tables (failed, stopped early, running or superseded)</summary><ul>{items}</ul></details>"
            "</section>")
