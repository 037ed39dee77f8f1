"""`xlsweep report` and `xlsweep best-pairs` on MLflow stores, and the runner's entry point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.report.conftest import Store
from xlsweep.cli import app
from xlsweep.report.sweep_report import report_from_mlflow
from xlsweep.report.sweep_results import ReportError

runner = CliRunner()


def test_report_from_mlflow_writes_every_file_and_returns_lines(demo_store: Store, tmp_path: Path) -> None:
    report = report_from_mlflow(demo_store.uri, parent_run_id=demo_store.parent, out_dir=tmp_path)
    names = [p.name for p in report.paths]
    assert names == ["aux_table.md", "aux_table.csv", "aux_table.tex", "aux_target_delta.png", "aux_target_delta.csv",
                     "aux_table_fewshot.md", "aux_table_fewshot.csv", "aux_table_fewshot.tex",
                     "aux_target_delta_fewshot.png", "aux_target_delta_fewshot.csv", "best_pairs.csv", "report.html"]
    assert all(p.is_file() and p.parent == tmp_path for p in report.paths)
    assert report.metric == "acc" and len(report.tables) == 2
    delta = pd.read_csv(tmp_path / "aux_target_delta.csv", index_col=0)
    assert delta.loc["XLA-MAML (ana→bel)", "bel"] == 6.0 and delta.index.name == "aux (Δ acc, points)"
    assert (tmp_path / "aux_target_delta.png").read_bytes()[:4] == b"\x89PNG"
    text = "\n".join(report.lines)
    assert "excluded 2 trial run(s):" in text and "NonFiniteLoss: meta loss is nan at step 5" in text
    assert "### demo: fs_acc by auxiliary languages (few-shot)" in text


def test_a_non_primary_metric_gets_its_own_file_names(demo_store: Store, tmp_path: Path) -> None:
    report = report_from_mlflow(demo_store.uri, experiment="demo", out_dir=tmp_path, formats=["md"], metric="fs_acc")
    assert [p.name for p in report.paths] == ["aux_table_fs_acc.md", "aux_target_delta_fs_acc.png",
                                              "best_pairs_fs_acc.csv", "report_fs_acc.html"]


def test_report_cli_prints_tables_and_paths(demo_store: Store, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo",
                                 "--out", str(tmp_path / "out"), "--format", "md,tex"])
    assert result.exit_code == 0, result.output
    assert "| XLA-MAML (ana→bel) | 3 | **56.0 ± 1.0**\\* |" in result.output
    assert f"wrote {tmp_path / 'out' / 'aux_table.tex'}" in result.output
    assert not (tmp_path / "out" / "aux_table.csv").exists()
    assert (tmp_path / "out" / "aux_table_fewshot.md").is_file()


def test_report_cli_defaults_to_reports_of_the_sweep_name_and_the_env_uri(
    mx_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mx_store.uri)
    result = runner.invoke(app, ["report", "--experiment", "mx"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "reports" / "mx"
    assert sorted(p.name for p in out.iterdir()) == ["best_pairs.csv", "method_table.csv", "method_table.md",
                                                     "method_table.tex", "report.html"]
    assert "| metaxl | 3 | 41.7 ± 1.5 | **55.7 ± 2.1**\\* | 48.7 ± 0.6 |" in result.output  # avg: not after Holm


def test_report_cli_baseline_option(mx_store: Store, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--tracking-uri", mx_store.uri, "--parent-run", mx_store.parent,
                                 "--out", str(tmp_path), "--format", "md", "--baseline", "target-only"])
    assert result.exit_code == 0, result.output
    assert "| jt | 3 | **41.0 ± 1.0**\\* | 50.0 ± 2.0 |" in result.output
    bad = runner.invoke(app, ["report", "--tracking-uri", mx_store.uri, "--experiment", "mx", "--out", str(tmp_path),
                              "--baseline", "mbert"])
    assert bad.exit_code == 2 and "unknown baseline 'mbert'" in bad.output


@pytest.mark.parametrize(("args", "message"), [
    (["--experiment", "nope"], "unknown experiment 'nope': expected one of"),
    (["--parent-run", "0123"], "unknown run id '0123'"),
    (["--experiment", "demo", "--metric", "em"], "--metric: unknown metric 'em': expected one of ['acc', 'fs_acc']"),
    (["--experiment", "demo", "--format", "pdf"], "--format: expected a comma-separated subset of md,csv,tex"),
    (["--experiment", "demo", "--baseline", "jt"], "--baseline 'jt': this sweep has only meta-learning trials"),
    ([], "no sweep selected"),
])
def test_report_cli_errors_are_one_clear_line(demo_store: Store, tmp_path: Path, args: list[str],
                                              message: str) -> None:
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_best_pairs_cli(demo_store: Store) -> None:
    result = runner.invoke(app, ["best-pairs", "--tracking-uri", demo_store.uri, "--experiment", "demo",
                                 "--target", "dun", "--top", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "7 finished trial(s), 2 excluded" in lines[0]
    assert "target dun: best XLA-MAML (ana→bel) +3.0 (zero-shot)" in lines
    assert not any(line.startswith("target bel") for line in lines)
    assert lines[-1].split() == ["1", "XLA-MAML", "(ana→bel)", "+3.0", "1.0", "3", "best"]  # Holm: no *


def test_best_pairs_cli_errors(demo_store: Store) -> None:
    result = runner.invoke(app, ["best-pairs", "--tracking-uri", demo_store.uri, "--experiment", "demo",
                                 "--target", "zul"])
    assert result.exit_code == 2 and "unknown target 'zul': expected one of bel, cor, dun" in result.output
    result = runner.invoke(app, ["best-pairs", "--tracking-uri", demo_store.uri, "--experiment", "demo", "--top", "0"])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [["report"], ["best-pairs"]])
def test_new_commands_have_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output and "--parent-run" in result.output


def test_the_runner_entry_point_reports_a_failed_sweep_clearly(empty_store: str, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="has no FINISHED child run"):
        report_from_mlflow(empty_store, experiment="broken", out_dir=tmp_path)


# --------------------------------------------------------------------- issue 12, points 6, 7 and 11
def test_a_sweep_name_from_the_store_cannot_send_reports_outside_the_reports_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from tests.report.conftest import DEMO_BASELINE, make_child, make_parent

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("evil")
    name = "../../.."  # a tag anyone with write access to the store can set
    parent = make_parent(client, exp, "evil-1", name=name, task="nli", primary="acc",
                         baseline={f"baseline/acc/{k}": v for k, v in DEMO_BASELINE.items()}, start_time=1)
    make_child(client, exp, parent, "t0", sweep=name, algorithm="xla-maml", aux="ana→bel", support="ana", query="bel",
               seed=0, task="nli", primary="acc", scores={"acc": {"bel": 0.6}}, baseline={"acc": DEMO_BASELINE},
               start_time=2)
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    result = runner.invoke(app, ["report", "--tracking-uri", uri, "--experiment", "evil", "--format", "md"])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file() and "mlartifacts" not in
                     p.parts and p.name != "mlflow.db" and not p.name.startswith("."))
    assert written and all(p.parts[:5] == ("a", "b", "c", "reports", "_.._..") for p in written), written


@pytest.mark.parametrize(("name", "safe"), [("../../..", "_.._.."), ("/etc", "_etc"), ("..", "sweep"), ("", "sweep"),
                                            ("demo sweep/2", "demo_sweep_2"), ("ok-name_1.0", "ok-name_1.0")])
def test_safe_name(name: str, safe: str) -> None:
    from xlsweep.report.sweep_report import safe_name

    assert safe_name(name) == safe


@pytest.mark.parametrize("command", [["report", "--experiment", "demo"], ["best-pairs", "--experiment", "demo"]])
def test_an_unreachable_server_fails_at_once_with_one_line(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import xlsweep.tracking.store

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an MLflow client was opened")

    monkeypatch.setattr(xlsweep.tracking.store, "MlflowClient", refuse)  # MLflow's own client retried for 251 s
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(app, [*command, "--tracking-uri", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"error: the MLflow server at 'http://127.0.0.1:{port}' cannot be reached" in result.output


def test_an_out_that_is_a_file_or_not_writable_is_one_clear_error(demo_store: Store, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    a_file = tmp_path / "report.md"
    a_file.write_text("mine")
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo", "--out",
                                 str(a_file)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"--out: '{a_file}' is a file; expected a directory" in result.output and a_file.read_text() == "mine"
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo", "--out",
                                 str(a_file / "sub")])
    assert result.exit_code == 2 and f"'{a_file}' is a file, so" in result.output
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root writes anywhere: as on a read-only file system
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else access(p, mode, **kw))
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo", "--out",
                                 str(locked / "out")])
    assert result.exit_code == 2 and f"--out: cannot write to '{locked / 'out'}'" in result.output
    assert not (locked / "out").exists()


def test_a_full_disk_while_writing_reports_is_one_clear_error(demo_store: Store, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from xlsweep.report import sweep_report

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "aux_table.md"))

    monkeypatch.setattr(sweep_report, "write_table", full)
    result = runner.invoke(app, ["report", "--tracking-uri", demo_store.uri, "--experiment", "demo", "--out",
                                 str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "No space left on device" in result.output


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_ui_refuses_a_port_out_of_range_before_anything_starts(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import xlsweep.tracking

    monkeypatch.setattr(xlsweep.tracking, "serve_ui", lambda *a, **k: pytest.fail("the server was started"))
    result = runner.invoke(app, ["ui", "--port", port])
    assert result.exit_code == 2 and "--port: got" in result.output and "between 1 and 65535" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--test", "z"], "--test: unknown 'z'; expected one of pooled, bootstrap, t-test"),
    (["--correction", "bonferroni"], "--correction: unknown 'bonferroni'; expected one of holm, bh"),
])
def test_a_bad_test_or_correction_is_one_error_before_the_store_is_read(args: list[str], message: str) -> None:
    for command in ("best-pairs", "report"):
        result = runner.invoke(app, [command, "--tracking-uri", "sqlite:////no/such/store.db", *args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_best_pairs_cli_with_the_seeds_only_t_test_and_bh(demo_store: Store) -> None:
    result = runner.invoke(app, ["best-pairs", "--tracking-uri", demo_store.uri, "--experiment", "demo",
                                 "--test", "t-test", "--correction", "bh"])
    assert result.exit_code == 0, result.output
    assert "one-sided paired t-test over seeds" in result.output and "Benjamini–Hochberg-adjusted" in result.output
