"""Write the synthetic benchmark to disk in the real data sets' released formats.

The files are what :mod:`xlsweep.data.files` reads: XNLI's TSV (every language in
one file per split), SQuAD/MLQA JSON, WikiAnn's ``lang:token<TAB>tag`` text and
JSON-lines text+label records. Two uses: a ``custom`` benchmark that runs offline
(``xlsweep export-synthetic``, then point ``data.sources`` at the files), and
tests that check that reading the real formats gives back exactly the rows the
synthetic benchmark made.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import datasets

from xlsweep.data.schema import NER_TAGS, NLI_LABELS, SENTIMENT_LABELS
from xlsweep.data.synthetic import SPLITS, SyntheticBenchmark

__all__ = ["export_synthetic"]


def export_synthetic(bench: SyntheticBenchmark, out_dir: str | Path) -> dict[str, str]:
    """Write every language's splits of ``bench`` (its task) under ``out_dir``; return the ``data.sources``.

    The returned mapping (``{"*": "<out_dir>/..."}``, absolute paths with ``{lang}``
    and ``{split}`` placeholders) configures a ``custom`` benchmark over the files.
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if bench.task == "nli":  # XNLI: one TSV per split holding every language
        for split in SPLITS:
            _write_xnli(out / f"xnli.{split}.tsv", {lang: bench.load(lang, split) for lang in bench.languages})
        return {"*": str(out / "xnli.{split}.tsv")}
    writers: dict[str, tuple[str, Callable[[Path, str, datasets.Dataset], None]]] = {
        "qa": ("{lang}/{split}.json", _write_squad),
        "ner": ("{lang}/{split}.txt", _write_wikiann),
        "sentiment": ("{lang}/{split}.jsonl", _write_jsonl),
    }
    template, write = writers[bench.task]
    for lang in bench.languages:
        for split in SPLITS:
            path = out / template.format(lang=lang, split=split)
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, lang, bench.load(lang, split))
    return {"*": str(out / template)}


def _write_xnli(path: Path, by_language: dict[str, datasets.Dataset]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(["language", "gold_label", "sentence1", "sentence2", "pairID"])
        for lang, ds in by_language.items():
            for row in ds:
                writer.writerow([lang, NLI_LABELS[row["label"]], row["premise"], row["hypothesis"], row["id"]])


def _write_squad(path: Path, language: str, ds: datasets.Dataset) -> None:
    paragraphs = [
        {"context": row["context"],
         "qas": [{"id": row["id"], "question": row["question"],
                  "answers": [{"text": t, "answer_start": s}
                              for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True)]}]}
        for row in ds
    ]
    data = {"version": "1.1", "data": [{"title": f"synthetic-{language}", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _write_wikiann(path: Path, language: str, ds: datasets.Dataset) -> None:
    sentences = ("\n".join(f"{language}:{token}\t{NER_TAGS[tag]}" for token, tag in
                           zip(row["tokens"], row["ner_tags"], strict=True)) for row in ds)
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, language: str, ds: datasets.Dataset) -> None:
    lines = (json.dumps({"id": row["id"], "text": row["text"], "label": SENTIMENT_LABELS[row["label"]]},
                        ensure_ascii=False) for row in ds)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
