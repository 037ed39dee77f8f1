"""Round trip: the synthetic benchmark written in the real formats reads back as exactly the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlsweep.data.export import export_synthetic
from xlsweep.data.schema import TASKS
from xlsweep.data.sources import RealBenchmark
from xlsweep.data.synthetic import SPLITS, SyntheticBenchmark


@pytest.mark.parametrize("task", TASKS)
def test_exported_files_read_back_as_the_synthetic_rows(task: str, tmp_path: Path) -> None:
    bench = SyntheticBenchmark(task=task, train_size=30, dev_size=10, test_size=10)
    sources = export_synthetic(bench, tmp_path)
    real = RealBenchmark(task, bench.languages, sources)
    for lang in bench.languages:
        for split in SPLITS:
            assert real.load(lang, split).to_list() == bench.load(lang, split).to_list(), (lang, split)


def test_each_task_is_written_in_its_released_format(tmp_path: Path) -> None:
    def first_line(task: str) -> str:
        sources = export_synthetic(SyntheticBenchmark(task=task, train_size=3, dev_size=2, test_size=2),
                                   tmp_path / task)
        path = Path(sources["*"].format(lang="cor", split="dev"))
        return path.read_text(encoding="utf-8").splitlines()[0]

    assert first_line("nli") == "language\tgold_label\tsentence1\tsentence2\tpairID"  # XNLI's columns
    assert first_line("qa").startswith('{"version": "1.1", "data": [{"title"')  # SQuAD 1.1
    token, tag = first_line("ner").split("\t")
    assert token.startswith("cor:") and tag in {"O", "B-PER", "B-ORG", "B-LOC"}  # WikiAnn as MetaXL ships it
    assert first_line("sentiment").startswith('{"id": "0", "text": ')
