"""Hostile but realistic inputs: each is one clear error (or a clear note) before any work, naming what is wrong.

Every case here once passed silently or failed late, after Ray or an MLflow database or a sweep directory
existed, with a message that did not name the input (docs/reliability.md lists them).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xlsweep.cli import app

runner = CliRunner()
SMOKE = (Path(__file__).resolve().parents[1] / "tune_configs" / "smoke.yaml").read_text()
TINY = SMOKE.replace("data:\n  synthetic: {train_size: 600, dev_size: 64, test_size: 64}\n",
                     "data:\n  synthetic: {train_size: 40, dev_size: 16, test_size: 16}\n")


def _one_error(result, fragments: list[str]) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


def _nothing_made(tmp_path: Path, no_work: list[str]) -> None:
    assert no_work == []
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


CASES = {
    "huge-steps": (TINY.replace("steps: ", "steps: 99999999999999999999999999 #"),
                   ["meta.steps: got 99999999999999999999999999", "at most 2**31 - 1"]),
    "huge-axis": (TINY + "  meta.support_size: [4, 12345678901234]\n",
                  ["grid.meta.support_size", "at most 2**31 - 1"]),
    "huge-limit": (TINY.replace("data:\n", "data:\n  limits: {'*.train': 99999999999999999999}\n"),
                   ["data.limits", "at most 2**31 - 1"]),
    "negative-concurrency": (TINY + "max_concurrent: -5\n", ["max_concurrent: got -5; expected 0 (as many"]),
    "product-self-pair": (TINY.replace("product: {support: [ana], query: [bel, zul]}",
                                       "product: {support: [ana], query: [ana]}"),
                          ["grid.aux.product: every support set is its query set (['ana'])",
                           "a language set never pairs with itself"]),
    "cache-dir-proc": (TINY + "cache_dir: /proc/xlcache\n", ["cache_dir: /proc/xlcache cannot be created",
                                                              "nearest existing directory /proc"]),
    "output-dir-proc": (TINY + "output_dir: /proc/xlruns/sub\n", ["output_dir: /proc/xlruns/sub cannot be created"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_config_is_one_error_from_validate_and_sweep_before_any_work(case: str, tmp_path: Path,
                                                                           no_work: list[str]) -> None:
    if "proc" in case and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc")
    text, fragments = CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for command in ("validate", "sweep"):
        _one_error(runner.invoke(app, [command, str(path)]), fragments)
    _nothing_made(tmp_path, no_work)


def test_a_writable_cache_dir_is_probed_without_leaving_anything(tmp_path: Path, no_work: list[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(TINY + f"cache_dir: {tmp_path / 'new' / 'cache'}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "output and cache directories" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.yaml"]  # nothing created by the check


@pytest.mark.parametrize(("text", "fragments"), [
    ("", ["bad.yaml: the file is empty; expected a sweep config"]),
    ("# only a comment\n", ["bad.yaml: the file is empty"]),
])
def test_an_empty_config_file_says_it_is_empty(text: str, fragments: list[str], tmp_path: Path,
                                               no_work: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    _one_error(runner.invoke(app, ["validate", str(path)]), fragments)


def test_validate_of_a_directory_or_a_device_says_what_it_is(tmp_path: Path, no_work: list[str]) -> None:
    _one_error(runner.invoke(app, ["validate", str(tmp_path)]),
               [f"{tmp_path}: a directory; expected a YAML config file", "validate DIR/*.yaml"])
    if Path("/dev/null").exists():
        _one_error(runner.invoke(app, ["validate", "/dev/null"]), ["/dev/null: not a regular file"])
    _one_error(runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")]), ["nope.yaml: no such config file"])


@pytest.mark.parametrize("n", ["0", "1", "-3"])
def test_languages_refuses_a_family_of_fewer_than_two(n: str) -> None:
    _one_error(runner.invoke(app, ["languages", "--languages", n]),
               [f"--languages: a random family has 2 to 24 languages, got {n}"])


# ----------------------------------------------------------------- tracking URIs and stores
@pytest.mark.parametrize(("uri", "fragment"), [
    ("sqlite//nope.db", "tracking URI 'sqlite//nope.db' is malformed"),
    ("::::", "tracking URI '::::' is malformed"),
    ("sqlite://nope.db", "tracking URI 'sqlite://nope.db' is malformed"),
    ("http://", "tracking URI 'http://' is malformed"),
    ("file:///tmp/mlruns", "MLflow's file store"),
    ("./mlruns", "MLflow's file store"),
])
def test_a_malformed_tracking_uri_is_one_line_before_a_sweep_dir_exists(uri: str, fragment: str, tmp_path: Path,
                                                                         no_work: list[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(TINY)
    line = _one_error(runner.invoke(app, ["sweep", str(path), "--tracking-uri", uri]), [fragment])
    assert "maintenance mode" not in line and "MLFLOW_ALLOW_FILE_STORE" not in line
    _nothing_made(tmp_path, no_work)


def test_a_corrupt_database_is_one_line_naming_it(tmp_path: Path, no_work: list[str]) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not an sqlite file at all\n" * 100)
    path = tmp_path / "ok.yaml"
    path.write_text(TINY)
    _one_error(runner.invoke(app, ["sweep", str(path), "--tracking-uri", f"sqlite:///{db}"]),
               [f"{db}", "is not a readable sqlite database"])
    assert not (tmp_path / "runs").exists() and no_work == []


def _foreign_db(path: Path) -> bytes:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE experiments (id INTEGER PRIMARY KEY, title TEXT)")
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, experiment INTEGER, score REAL)")
        con.execute("INSERT INTO runs VALUES (1, 1, 0.5)")
    con.close()
    return path.read_bytes()


def test_an_sqlite_file_that_is_not_an_mlflow_store_is_refused_untouched(tmp_path: Path, no_work: list[str]) -> None:
    db = tmp_path / "other.db"
    before = _foreign_db(db)
    path = tmp_path / "ok.yaml"
    path.write_text(TINY)
    _one_error(runner.invoke(app, ["sweep", str(path), "--tracking-uri", f"sqlite:///{db}"]),
               [f"{db}", "but not an MLflow store", "experiments, runs"])
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.yaml", "other.db"]
    result = runner.invoke(app, ["report", "--tracking-uri", f"sqlite:///{db}"])
    assert result.exit_code == 2 and "but not an MLflow store" in result.output
    assert db.read_bytes() == before


def test_an_mlflow_store_and_an_empty_file_are_accepted(tmp_path: Path) -> None:
    from xlsweep.tracking import check_store, open_client

    empty = tmp_path / "empty.db"
    empty.touch()
    check_store(f"sqlite:///{empty}", create=True, write=True)
    store = tmp_path / "mlflow.db"
    open_client(f"sqlite:///{store}").search_experiments()
    check_store(f"sqlite:///{store}", create=False, write=True)


# ----------------------------------------------------------------- local data: what a reader skipped is said
def test_validate_and_the_sweep_log_say_how_many_rows_a_file_skipped(tmp_path: Path, no_work: list[str]) -> None:
    rows = "".join(f"p{i}\th{i}\t{'-' if i % 4 == 0 else 'neutral'}\n" for i in range(40))
    for lang in ("ana", "bel", "cor", "dun", "eki", "zul"):
        (tmp_path / f"{lang}.tsv").write_text("sentence1\tsentence2\tgold_label\n" + rows)
    path = tmp_path / "nli.yaml"
    path.write_text("name: n\ndata: {task: nli, benchmark: custom, languages: [ana, bel, cor, dun, eki, zul], "
                    f"sources: {{'*': '{tmp_path}/{{lang}}.tsv'}}}}\n"
                    "meta: {support: [ana], query: [bel], support_size: 4, query_size: 4, steps: 4}\n")
    note = f"skipped rows: ana.train: {tmp_path / 'ana.tsv'}: 30 rows kept, 10 skipped: rows with gold_label '-'"
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert note in result.output
    result = runner.invoke(app, ["sweep", str(path)])  # refused at MLflow (the fixture): the note came first
    assert note in result.output and no_work == ["MLflow"]


def test_a_store_another_sweep_is_creating_is_read_again_once_it_is_done(tmp_path: Path) -> None:
    """MLflow creates its tables, then alembic's: a store half made under the lock is not "another database"."""
    import shutil
    import threading
    import time

    from filelock import FileLock

    from xlsweep.tracking import check_store, open_client

    full = tmp_path / "full" / "mlflow.db"
    full.parent.mkdir()
    open_client(f"sqlite:///{full}").search_experiments()
    db = tmp_path / "mlflow.db"
    shutil.copyfile(full, db)
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE alembic_version")
    con.close()
    held = threading.Event()

    def create() -> None:  # another sweep, creating the store under the lock
        with FileLock(str(tmp_path / ".mlflow.db.lock")):
            held.set()
            time.sleep(0.5)
            shutil.copyfile(full, db)

    creator = threading.Thread(target=create)
    creator.start()
    held.wait(10)
    try:
        check_store(f"sqlite:///{db}", create=True, write=True)
    finally:
        creator.join()
