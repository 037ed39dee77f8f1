"""The pair search as a sweep: config errors before any work, a live search on real Ray + MLflow, resume mid-search.

    pytest tests/sweep/test_pair_search.py               # errors and the live search (~2 min)
    pytest -m slow tests/sweep/test_pair_search.py       # + a driver interrupted mid-search, then resumed
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.config import ConfigError
from xlsweep.plan import parse_sweep

SMOKE = Path(__file__).resolve().parents[2] / "tune_configs" / "smoke.yaml"
XLSWEEP = Path(sys.executable).with_name("xlsweep")


def _raw(**changes: Any) -> dict[str, Any]:
    """The smoke sweep (its stage 1, so the session's cached one is reused) as a tiny pair search."""
    raw = yaml.safe_load(SMOKE.read_text())
    raw["name"] = "ps"
    raw["data"]["limits"] = {"*.train": 64, "ana.train": 0}  # stage 1 still reads all of ana.train
    raw["meta"] |= {"split": "train", "steps": 8, "checkpoint_every": 2, "meta_batch": 1}
    raw["grid"] = {"aux": {"pairs": ["ana", "bel", "cor"]}, "seed": [0, 1]}
    # eta 2 and every seed at full length: the schedule these tests were written for (survivors' second seeds)
    raw["pair_search"] = {"enabled": True, "budget": 0.5, "eta": 2, "final_seeds": 0}
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            raw.setdefault(section, {})[name] = value
        else:
            raw[section] = value
    return raw


# --------------------------------------------------------------------- errors before any work
@pytest.mark.parametrize(("changes", "message"), [
    ({"pair_search.budget": 0.0}, "pair_search.budget: got 0.0; expected a fraction of the full grid's meta-steps in "
                                  "(0, 1]"),
    ({"pair_search.budget": 1.5}, "pair_search.budget: got 1.5"),
    ({"pair_search.budget_steps": -5}, "pair_search.budget_steps: got -5"),
    ({"grid": {"aux": {"product": {"support": ["ana"], "query": ["bel", "cor"]}}}},
     "grid.aux has 2 cell(s); a search needs at least 3"),
    ({"grid": {"aux": {"pairs": ["ana", "bel", "cor"]}, "meta.inner_lr": [0.001, 0.01]}},
     "grid.meta.inner_lr is swept too"),
    ({"meta.split": "dev"}, "set meta.split: train"),
    ({"search": {"metric": "dev/bel"}}, "search.metric: got 'dev/bel'; the pair search decides on the dev score"),
    ({"search": {"metric": "test_avg"}}, "never a test score"),
    ({"pair_search.budget_steps": 10}, "cannot run even one pair with its 2 seed"),
    ({"pair_search.first": 3}, "pair_search.first: got 3; expected meta-steps of the first rung: a multiple of"),
    ({"pair_search.final_seeds": 3}, "pair_search.final_seeds: got 3; expected the seeds the survivors run with, 1 "
                                     "to the 2 of grid.seed, 0 (all of them) or auto"),
    ({"pair_search.final_seeds": "some"}, "pair_search.final_seeds: got 'some'; expected an integer or one of 'auto'"),
    ({"pair_search.final_seeds": -1}, "pair_search.final_seeds: got -1"),
])
def test_what_cannot_be_searched_is_one_config_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_sweep(_raw(**changes))
    assert message in str(err.value)


def test_the_search_objective_is_every_targets_dev_score() -> None:
    sweep = parse_sweep(_raw())
    assert sweep.search.metric == "dev_avg"
    assert sweep.search.languages == ("ana", "bel", "cor", "dun", "eki", "zul")
    assert parse_sweep(_raw(**{"pair_search.enabled": False})).search.metric == ""


def test_the_search_knows_the_stage1_source_and_does_not_decide_on_it() -> None:
    from xlsweep.plan.pair_search import build_prior, new_search

    sweep = parse_sweep(_raw(grid={"aux": {"pairs": ["bel", "cor", "dun"]}, "seed": [0, 1]}))
    search = new_search(sweep, build_prior(sweep))
    assert search.source == "ana" and "ana" in search.targets
    assert "ana" not in [search.targets[t] for t in search.deciding]
    assert "source" not in search.model.effect_groups and "prior" not in search.model.effect_groups


def test_a_prior_without_a_language_stops_the_sweep_before_ray_and_mlflow(tmp_path: Path) -> None:
    pytest.importorskip("urielplus")
    raw = _raw(**{"pair_search.prior": "uriel+"})
    raw["data"] = {"benchmark": "custom", "task": "nli", "source": "en", "languages": ["en", "de", "qqq"],
                   "sources": {"*": str(tmp_path / "{lang}.{split}.tsv")}}
    raw["grid"]["aux"] = {"pairs": ["en", "de", "qqq"]}
    for lang in ("en", "de", "qqq"):
        for split in ("train", "dev", "test"):
            (tmp_path / f"{lang}.{split}.tsv").write_text("premise\thypothesis\tlabel\n")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    result = CliRunner().invoke(app, ["sweep", str(config), "--output-dir", str(tmp_path / "runs"),
                                      "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert result.exit_code == 2, result.output
    assert "URIEL+ does not know language 'qqq'" in result.output
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()


def test_validate_says_when_the_survivors_run_with_fewer_seeds_than_the_grid(tmp_path: Path) -> None:
    config = tmp_path / "ps.yaml"
    config.write_text(yaml.safe_dump(_raw(**{"pair_search.final_seeds": 1}), allow_unicode=True))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "budget 48 (50.0%), 6 trials" in result.output  # every pair at full length, one seed each
    assert "6 pair(s) to meta-step 8 × 1 of the 2 seeds (pair_search.final_seeds)" in result.output


def test_validate_says_what_final_seeds_auto_chose_and_warns_of_targets_without_a_survivor(tmp_path: Path) -> None:
    raw = _raw(**{"pair_search.budget": 0.3})
    del raw["pair_search"]["final_seeds"], raw["pair_search"]["eta"]  # the defaults: eta 3, final_seeds auto
    config = tmp_path / "ps.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "budget 26 (27.1%), 6 trials" in result.output
    assert "1 pair(s) to meta-step 8 × 1 of the 2 seeds (auto: the most that leave 1.5 survivors per target, else 1)" \
        in result.output
    assert "note: 1 pair(s) reach full length for 5 target languages" in result.output


def test_validate_prints_the_searchs_plan(tmp_path: Path) -> None:
    config = tmp_path / "ps.yaml"
    config.write_text(yaml.safe_dump(_raw(), allow_unicode=True))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "pair search: 6 pairs × 2 seed(s) × 8 meta-steps = 96 meta-steps for the full grid; budget 48 (50.0%), " \
           "8 trials" in result.output


# --------------------------------------------------------------------- the live search
def _check_search(uri: str, parent_run_id: str, sweep: Any) -> dict[tuple[str, int], Any]:
    """MLflow: one run per (pair, seed), each with its rung; stopped ones say why; compute adds up."""
    from xlsweep.plan.pair_search import new_search, planned_trials

    client = MlflowClient(uri)
    parent = client.get_run(parent_run_id)
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'")
    runs = {(r.data.tags["xlsweep.aux"], int(r.data.tags["xlsweep.seed"])): r for r in children}
    assert len(runs) == len(children) == planned_trials(sweep) == 8  # 6 screened + 2 survivors' second seeds
    schedule = new_search(sweep, None).schedule
    resources = [r.resource for r in schedule.rungs]
    spent = 0
    for run in children:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "dev/zul")]
        assert steps == sorted(set(steps)) == list(range(2, steps[-1] + 1, 2))  # every checkpoint, once
        spent += steps[-1]
        rung = int(run.data.tags["xlsweep.rung"].split()[0])
        assert steps[-1] == resources[rung]
        if run.info.status == "FINISHED":
            assert rung == len(resources) - 1 and "delta/zul" in run.data.metrics
        else:
            assert run.info.status == "KILLED"
            assert run.data.tags["xlsweep.stopped"].startswith(f"pair search: rung {rung} ended at meta-step")
    survivors = {aux for (aux, seed), r in runs.items() if r.info.status == "FINISHED"}
    assert len(survivors) == schedule.rungs[-1].candidates and all((aux, 1) in runs for aux in survivors)
    assert spent == schedule.total <= 0.5 * 96
    assert parent.data.metrics["pair_search/spent_steps"] == spent
    assert parent.data.metrics["pair_search/grid_steps"] == 96
    history = client.get_metric_history(parent_run_id, "pair_search/spent_steps")
    assert sorted(m.step for m in history) == list(range(len(resources)))  # after every rung, once
    for target in sweep.search.languages:
        assert parent.data.tags[f"xlsweep.pair_search.best.{target}"] in {a for a, _ in runs}
        assert set(parent.data.tags[f"xlsweep.pair_search.tied.{target}"].split(", ")) <= survivors
    from xlsweep.tracking import artifact_paths

    artifacts = artifact_paths(uri, parent_run_id)  # an sqlite store's mlflow-artifacts: files, without a server
    assert {"pair_search.md", "pair_search_heatmap.csv", "pair_search_heatmap.png"} <= artifacts
    return runs


@pytest.mark.ray
def test_a_live_pair_search_records_its_rungs_and_compute(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.sweep.runner import run_sweep

    sweep = dataclasses.replace(parse_sweep(_raw()), cache_dir=str(prepared_smoke[2]))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append)
    assert outcome.failures == [] and not outcome.interrupted
    _check_search(uri, outcome.parent_run_id, sweep)
    assert any(line.startswith("pair search: 48 of 96 meta-steps of the full grid (50.0%") for line in lines)
    csv = (outcome.out_dir / "pair_search_heatmap.csv").read_text().splitlines()
    assert csv[0] == "aux,target,status,delta (points),low_90%,high_90%" and len(csv) == 1 + 6 * 6
    assert {row.split(",")[2] for row in csv[1:]} == {"observed", "predicted"}


@pytest.mark.ray
def test_a_live_search_with_one_final_seed_never_starts_the_second(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.plan.pair_search import new_search, planned_trials
    from xlsweep.sweep.runner import run_sweep

    sweep = dataclasses.replace(parse_sweep(_raw(**{"pair_search.final_seeds": 1})), cache_dir=str(prepared_smoke[2]))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append)
    assert outcome.failures == [] and not outcome.interrupted
    client = MlflowClient(uri)
    children = client.search_runs([client.get_run(outcome.parent_run_id).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert len(children) == planned_trials(sweep) == 6 and {r.data.tags["xlsweep.seed"] for r in children} == {"0"}
    schedule = new_search(sweep, None).schedule
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert len(finished) == schedule.rungs[-1].candidates
    assert sum(max(m.step for m in client.get_metric_history(r.info.run_id, "dev/zul")) for r in children) \
        == schedule.total
    summary = f"{len(finished)} of 6 pairs run to full length with 1 of the grid's 2 seeds (pair_search.final_seeds)"
    assert any(summary in line for line in lines)
    csv = (outcome.out_dir / "pair_search_heatmap.csv").read_text().splitlines()
    assert sum(row.split(",")[2] == "observed" for row in csv[1:]) == len(finished) * 6  # 6 targets each


@pytest.mark.ray
def test_a_search_recalls_what_an_earlier_sweep_ran_on_its_cells(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.sweep.pair_evidence import EVIDENCE_FILE
    from xlsweep.sweep.runner import run_sweep

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    earlier = _raw(grid={"aux": {"product": {"support": ["ana"], "query": ["bel", "cor"]}}, "seed": [0, 1]},
                   search={"metric": "dev_avg"}, **{"pair_search.enabled": False})
    earlier["name"] = "earlier-grid"
    first = run_sweep(dataclasses.replace(parse_sweep(earlier), cache_dir=str(prepared_smoke[2])), tracking_uri=uri,
                      output_dir=str(tmp_path / "runs"), log=lambda _: None)
    assert first.failures == []
    sweep = dataclasses.replace(parse_sweep(_raw()), cache_dir=str(prepared_smoke[2]))
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append)
    assert outcome.failures == [] and not outcome.interrupted
    assert "pair search: recalled 4 run(s) of 2 pair(s) from earlier sweeps in the store (2 pair(s) with a run to " \
           "full length), free of charge" in lines
    assert (outcome.out_dir / EVIDENCE_FILE).exists()
    client = MlflowClient(uri)
    children = client.search_runs([client.get_run(outcome.parent_run_id).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert children and not {r.data.tags["xlsweep.aux"] for r in children} & {"ana→bel", "ana→cor"}  # not run again
    spent = sum(max(m.step for m in client.get_metric_history(r.info.run_id, "dev/zul")) for r in children)
    assert spent <= 0.5 * (96 - 2 * 2 * 8)  # the budget is a share of what the earlier sweep did not cover
    assert any("2 of them recalled from earlier sweeps" in line for line in lines)
    csv = [row.split(",") for row in (outcome.out_dir / "pair_search_heatmap.csv").read_text().splitlines()[1:]]
    assert {row[2] for row in csv if row[0] in ("ana→bel", "ana→cor")} == {"observed"}


def test_recall_false_reads_no_store(tmp_path: Path) -> None:
    from xlsweep.sweep.pair_evidence import recall_evidence

    sweep = parse_sweep(_raw(**{"pair_search.recall": False}))
    assert recall_evidence(sweep, "k", tracking_uri="sqlite:////nonexistent/dir/x.db", sweep_id="s",
                           out_dir=tmp_path) is None
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.ray
def test_a_search_interrupted_mid_rung_resumes_and_spends_the_same(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw = _raw(cache_dir=str(prepared_smoke[2]), max_concurrent=1)
    raw["meta"] |= {"steps": 16, "checkpoint_every": 4}  # long enough to be hit mid-rung
    config = tmp_path / "ps.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with (tmp_path / "driver.log").open("w") as log:
        driver = subprocess.Popen([str(XLSWEEP), "sweep", str(config), "--tracking-uri", uri], cwd=tmp_path,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and driver.poll() is None:
            if _rung_closed(tmp_path, uri):  # the first rung is decided: the search is mid-way
                break
            time.sleep(0.5)
        assert driver.poll() is None and _rung_closed(tmp_path, uri), (tmp_path / "driver.log").read_text()[-3000:]
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=180) == 130, (tmp_path / "driver.log").read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
    (sweep_dir,) = (tmp_path / "runs" / "ps").iterdir()
    done = subprocess.run([str(XLSWEEP), "resume", str(sweep_dir)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    state = json.loads((sweep_dir / "state.json").read_text())
    sweep = parse_sweep(raw)
    client = MlflowClient(uri)
    children = client.search_runs([client.get_run(state["parent_run_id"]).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{state['parent_run_id']}'")
    assert len(children) == len({(r.data.tags["xlsweep.aux"], r.data.tags["xlsweep.seed"]) for r in children})
    from xlsweep.plan.pair_search import new_search

    total = new_search(sweep, None).schedule.total
    spent = sum(max(m.step for m in client.get_metric_history(r.info.run_id, "dev/zul")) for r in children)
    assert spent == total == client.get_run(state["parent_run_id"]).data.metrics["pair_search/spent_steps"]


def _rung_closed(tmp_path: Path, uri: str) -> bool:
    if not any(tmp_path.glob("runs/*/*/state.json")):  # the driver creates the store first (two creators break it)
        return False
    client = MlflowClient(uri)
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], "tags.`xlsweep.sweep_id` LIKE '%'"):
            if client.get_metric_history(run.info.run_id, "pair_search/spent_steps"):
                return True
    return False


def test_search_pairs_turns_the_search_on_for_any_config(tmp_path: Path) -> None:
    demo = SMOKE.with_name("demo.yaml")
    result = CliRunner().invoke(app, ["search-pairs", str(demo), "--budget", "0.2"])
    assert result.exit_code == 2  # the demo's auxiliary data are dev splits: refused before any work
    assert "pair_search: meta.split is 'dev'" in result.output
    result = CliRunner().invoke(app, ["search-pairs", str(SMOKE.with_name("pair-search.yaml")), "--budget", "1.5"])
    assert result.exit_code == 2 and "pair_search.budget: got 1.5" in result.output
    assert CliRunner().invoke(app, ["search-pairs", "--help"]).exit_code == 0
