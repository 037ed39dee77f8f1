"""Reading a sweep back from MLflow: parent selection, records, exclusions and the error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from tests.report.conftest import DEMO_BASELINE, Store, make_child, make_parent
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.sweep_results import ReportError


def test_the_experiments_latest_sweep_is_loaded_with_its_finished_trials(demo_store: Store) -> None:
    results = load_sweep_results(demo_store.uri, experiment="demo")

    assert results.parent_run_id == demo_store.parent != demo_store.older_parent
    assert (results.sweep, results.experiment, results.task, results.primary) == ("demo", "demo", "nli", "acc")
    assert results.sweep_id == "demo-new" and results.status == "FINISHED"
    assert len(results.records) == 7  # 2 aux × 3 seeds + X-MAML's one seed
    assert [r.trial_id for r in results.records[:3]] == ["ana→bel_0", "ana→bel_1", "ana→bel_2"]  # start order


def test_a_record_carries_tags_cell_scores_and_baselines(demo_store: Store) -> None:
    results = load_sweep_results(demo_store.uri, parent_run_id=demo_store.parent)
    record = next(r for r in results.records if r.trial_id == "ana→cor_1")

    assert (record.algorithm, record.aux, record.support, record.query, record.seed) == (
        "xla-maml", "ana→cor", ("ana",), ("cor",), 1)
    assert record.cell == {"aux": "ana→cor", "seed": 1}
    assert record.scores["acc"] == {"bel": 0.47, "cor": 0.64, "dun": 0.37}
    assert record.scores["fs_acc"]["cor"] == pytest.approx(0.69)
    assert set(record.scores) == {"acc", "fs_acc"}  # no delta/, dev/, baseline/ among the scores
    assert record.baseline["acc"] == DEMO_BASELINE
    assert record.metrics["meta_loss"] == 0.5  # the final step's value


def test_a_child_without_its_own_baselines_falls_back_to_the_parents(demo_store: Store) -> None:
    results = load_sweep_results(demo_store.uri, parent_run_id=demo_store.parent)
    xmaml = next(r for r in results.records if r.algorithm == "x-maml")
    assert xmaml.baseline["acc"] == DEMO_BASELINE
    assert xmaml.baseline["fs_acc"]["dun"] == pytest.approx(0.45)


def test_failed_and_running_trials_are_excluded_with_their_reasons(demo_store: Store) -> None:
    results = load_sweep_results(demo_store.uri, experiment="demo")
    excluded = {e.run_id: e for e in results.excluded}

    assert len(excluded) == 2
    failed = excluded[demo_store.failed_child]
    assert (failed.status, failed.aux, failed.seed) == ("FAILED", "ana→cor", "3")
    assert failed.reason == "NonFiniteLoss: meta loss is nan at step 5"
    running = next(e for e in results.excluded if e.status == "RUNNING")
    assert running.reason == "no failure recorded" and running.aux == "ana→bel"
    assert "ana→cor seed 3 (FAILED" in failed.line()


def test_a_trial_stopped_by_the_scheduler_is_excluded_with_the_schedulers_reason(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("asha")
    parent = make_parent(client, exp, "asha-1", name="asha", task="nli", primary="acc", baseline={}, start_time=1)
    common: dict[str, Any] = {"sweep": "asha", "algorithm": "xla-maml", "aux": "ana→bel", "support": "ana",
                              "query": "bel", "task": "nli", "primary": "acc"}
    make_child(client, exp, parent, "t0", seed=0, scores={"acc": {"bel": 0.6}}, baseline={"acc": {"bel": 0.5}},
               start_time=2, **common)
    stopped = make_child(client, exp, parent, "t1", seed=1, scores={}, baseline=None, start_time=3, status="KILLED",
                         **common)
    client.set_tag(stopped, "xlsweep.stopped", "ASHA at meta-step 20: 0.41")
    (excluded,) = load_sweep_results(uri, experiment="asha").excluded
    assert (excluded.status, excluded.reason) == ("KILLED", "stopped early: ASHA at meta-step 20: 0.41")


def test_an_older_sweep_is_loaded_by_its_parent_run_id(demo_store: Store) -> None:
    results = load_sweep_results(demo_store.uri, experiment="demo", parent_run_id=demo_store.older_parent)
    assert results.sweep_id == "demo-old"
    assert [r.scores["acc"]["bel"] for r in results.records] == [0.99]


def test_unknown_experiment_names_the_existing_ones(demo_store: Store) -> None:
    with pytest.raises(ReportError, match=r"unknown experiment 'demox': expected one of \[.*'demo'"):
        load_sweep_results(demo_store.uri, experiment="demox")


def test_unknown_run_id_lists_parent_runs(demo_store: Store) -> None:
    with pytest.raises(ReportError, match=rf"unknown run id 'deadbeef'.*{demo_store.parent} \(demo\)"):
        load_sweep_results(demo_store.uri, parent_run_id="deadbeef")


def test_a_child_run_id_is_not_a_parent_and_the_message_names_its_parent(demo_store: Store) -> None:
    with pytest.raises(ReportError, match=rf"is not a sweep's parent run .*trial of parent run '{demo_store.parent}'"):
        load_sweep_results(demo_store.uri, parent_run_id=demo_store.failed_child)


def test_a_parent_run_of_another_experiment_is_refused(demo_store: Store) -> None:
    client = MlflowClient(demo_store.uri)
    other = client.create_experiment("other-exp")
    with pytest.raises(ReportError, match="is not in experiment 'other-exp': it is in experiment 'demo'"):
        load_sweep_results(demo_store.uri, experiment="other-exp", parent_run_id=demo_store.parent)
    with pytest.raises(ReportError, match="experiment 'other-exp' has no sweep parent run"):
        load_sweep_results(demo_store.uri, experiment="other-exp")
    client.delete_experiment(other)


def test_no_selector_lists_the_experiments(demo_store: Store) -> None:
    with pytest.raises(ReportError, match=r"no sweep selected: expected an experiment name or a parent run id.*'demo'"):
        load_sweep_results(demo_store.uri)


def test_a_sweep_without_finished_trials_says_what_its_children_are(empty_store: str) -> None:
    with pytest.raises(ReportError, match=r"has no FINISHED child run with test metrics: expected at least one, got 1 "
                                          r"child run\(s\) \(FAILED: RuntimeError: CUDA out of memory\)"):
        load_sweep_results(empty_store, experiment="broken")


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(ReportError, match=r"no MLflow database at .*nowhere/mlflow.db"):
        load_sweep_results(f"sqlite:///{db}", experiment="demo")
    assert not db.exists()


def test_the_source_language_is_the_childs_data_source_param_else_the_parents(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("src")
    common: dict[str, Any] = {"sweep": "src", "algorithm": "xla-maml", "support": "en", "query": "hi", "task": "nli",
                              "primary": "acc", "scores": {"acc": {"hi": 0.6}}, "baseline": {"acc": {"hi": 0.5}}}
    parent = make_parent(client, exp, "src-1", name="src", task="nli", primary="acc", baseline={}, start_time=1,
                         params={"data.source": "en"})
    make_child(client, exp, parent, "t0", aux="en→hi", seed=0, start_time=2, params={"data.source": "de"}, **common)
    make_child(client, exp, parent, "t1", aux="en→hi", seed=1, start_time=3, **common)
    results = load_sweep_results(uri, experiment="src")
    assert {r.trial_id: r.source for r in results.records} == {"t0": "de", "t1": "en"}
    assert results.experiment_id == exp
# --------------------------------------------------------------------- issue 12, points 7 and 8
def _sweep_with_one_trial(client: MlflowClient, exp: str, sweep_id: str, *, start: int, name: str = "demo",
                          parent_status: str = "FINISHED", child_status: str = "FINISHED") -> str:
    parent = make_parent(client, exp, sweep_id, name=name, task="nli", primary="acc",
                         baseline={f"baseline/acc/{k}": v for k, v in DEMO_BASELINE.items()}, start_time=start,
                         status=parent_status)
    scores = {"acc": {"bel": 0.6, "cor": 0.6, "dun": 0.6}} if child_status == "FINISHED" else {}
    make_child(client, exp, parent, f"{sweep_id}_0", sweep=name, algorithm="xla-maml", aux="ana→bel", support="ana",
               query="bel", seed=0, task="nli", primary="acc", scores=scores,
               baseline={"acc": DEMO_BASELINE} if scores else None, start_time=start + 1, status=child_status,
               failure=None if scores else "OSError: No space left on device")
    return parent


def test_a_newer_sweep_that_failed_before_any_trial_finished_does_not_hide_the_latest_good_one(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("demo")
    good = _sweep_with_one_trial(client, exp, "demo-1", start=1000)
    failed = _sweep_with_one_trial(client, exp, "demo-2", start=2000, parent_status="FAILED", child_status="FAILED")
    bare = make_parent(client, exp, "demo-3", name="demo", task="nli", primary="acc", baseline={}, start_time=3000,
                       status="KILLED")  # interrupted in stage 1: no trial at all
    results = load_sweep_results(uri, experiment="demo")
    assert results.parent_run_id == good
    assert results.notes == (f"note: skipped the newer sweep demo-3 (parent run {bare}, KILLED): no finished trial",
                             f"note: skipped the newer sweep demo-2 (parent run {failed}, FAILED): no finished trial")


@pytest.fixture
def no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    import xlsweep.tracking.store

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an MLflow client was opened")

    monkeypatch.setattr(xlsweep.tracking.store, "MlflowClient", refuse)


def test_a_closed_port_fails_at_once_without_opening_a_client(no_client: None) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ReportError, match=rf"the MLflow server at 'http://127.0.0.1:{port}' cannot be reached"):
        load_sweep_results(f"http://127.0.0.1:{port}", experiment="demo")


def test_an_sqlite_path_that_is_a_directory_fails_at_once(no_client: None, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a directory, not an sqlite file"):
        load_sweep_results(f"sqlite:///{tmp_path}", experiment="demo")


def test_degenerate_stage1_and_trials_are_warned_about_in_the_results(tmp_path: Path) -> None:
    from xlsweep.report.sweep_report import write_report

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("demo")
    parent = _sweep_with_one_trial(client, exp, "demo-1", start=1000)
    client.set_tag(parent, "xlsweep.degenerate", "stage 1 on bel: predicts 'neutral' for all 64 test rows")
    (child,) = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    client.set_tag(child.info.run_id, "xlsweep.degenerate", "final training loss 1.1000 is at chance level")
    results = load_sweep_results(uri, experiment="demo")
    assert results.notes == (
        "WARNING: degenerate stage 1 on bel: predicts 'neutral' for all 64 test rows",
        f"WARNING: degenerate trial ana→bel seed 0 (run {child.info.run_id}): final training loss 1.1000 is at "
        "chance level")
    assert len(results.records) == 1 and set(results.records[0].scores) == {"acc"}  # still reported, flagged
    lines = write_report(results, tmp_path / "out", formats=["md"]).lines
    assert lines[1:3] == results.notes
