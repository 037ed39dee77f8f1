"""The synthetic benchmark: ``languages`` prints a family, ``export-synthetic`` writes the data in real formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xlsweep.cli.common import fail, load

__all__ = ["export_synthetic", "languages"]


def _synthetic(task: str, **options: object):  # type: ignore[no-untyped-def]
    """The synthetic benchmark built from a config's ``data.synthetic`` (its defaults; the given options override)."""
    import re

    from xlsweep.config import ConfigError
    from xlsweep.data.benchmark import load_benchmark
    from xlsweep.plan import synthetic_data

    try:
        return load_benchmark(synthetic_data(task, {k: v for k, v in options.items() if v is not None}))
    except ConfigError as err:  # name the option, not the config key
        fail(re.sub(r"data\.synthetic\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), str(err)))


def languages(
    config: Annotated[Path | None, typer.Argument(help="A sweep config: print its data.synthetic family.")] = None,
    seed: Annotated[int, typer.Option(help="Benchmark seed.")] = 0,
    n: Annotated[int | None, typer.Option("--languages", help="A random family of N languages instead of the "
                                                              "default one.")] = None,
    family_seed: Annotated[int, typer.Option(help="The random family's seed.")] = 0,
) -> None:
    """A synthetic family's languages and their planted relatedness (share of cognate words)."""
    from xlsweep.config.schema import SyntheticDataConfig
    from xlsweep.data.benchmark import synthetic_benchmark
    from xlsweep.data.families import family_lines

    if config is not None:
        if n is not None:
            fail("--languages: give a config or --languages, not both")
        data = load(config).trial.data
        if data.benchmark != "synthetic":
            fail(f"{config}: data.benchmark is {data.benchmark!r}; only the synthetic benchmark has a planted family")
        synthetic = data.synthetic
    else:
        synthetic = SyntheticDataConfig(seed=seed, languages=() if n is None else n, family_seed=family_seed)
    try:
        bench = synthetic_benchmark(synthetic)
    except ValueError as err:
        fail(f"--languages: {err}")
    for line in family_lines(bench.family, bench.relatedness):
        typer.echo(line)


SyntheticOpt = "default: as data.synthetic in a sweep config (xlsweep/config/schema.py)"


def export_synthetic(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the files.")],
    task: Annotated[str, typer.Option(help="nli, qa, ner or sentiment.")] = "nli",
    seed: Annotated[int | None, typer.Option(help=f"Benchmark seed; {SyntheticOpt}.")] = None,
    train_size: Annotated[int | None, typer.Option(help=f"Examples per language in train; {SyntheticOpt}.")] = None,
    dev_size: Annotated[int | None, typer.Option(help=f"Examples per language in dev; {SyntheticOpt}.")] = None,
    test_size: Annotated[int | None, typer.Option(help=f"Examples per language in test; {SyntheticOpt}.")] = None,
    purity: Annotated[float | None, typer.Option(help=f"Share of topic words (lower is harder); {SyntheticOpt}.")]
    = None,
    n_topics: Annotated[int | None, typer.Option(help=f"Topics, a multiple of 3; {SyntheticOpt}.")] = None,
    words_per_pool: Annotated[int | None, typer.Option(help=f"Words per pool, at least 4; {SyntheticOpt}.")] = None,
) -> None:
    """Write the synthetic benchmark in the real formats (XNLI TSV, SQuAD JSON, WikiAnn text, JSON lines).

    The benchmark is the one a sweep builds from ``data.synthetic`` with the same values, so its numbers compare.
    """
    from xlsweep.data.export import export_synthetic as export
    from xlsweep.data.schema import TASKS

    if task not in TASKS:
        fail(f"--task: got {task!r}; expected one of {', '.join(TASKS)}")
    bench = _synthetic(task, seed=seed, train_size=train_size, dev_size=dev_size, test_size=test_size, purity=purity,
                       n_topics=n_topics, words_per_pool=words_per_pool)
    try:
        sources = export(bench, out_dir)
    except OSError as err:
        fail(f"{out_dir}: cannot write the files ({err}); expected a writable directory")
    langs = ", ".join(bench.languages)
    qa = f"  doc_stride: 24\n  qa_whitespace_languages: [{langs}]  # invented languages: whitespace tokens\n"
    typer.echo(f"wrote the synthetic {task} benchmark ({langs}; purity {bench.purity}, {bench.n_topics} topics, "
               f"{bench.words_per_pool} words per pool, seed {bench.seed}) to {out_dir.resolve()}")
    typer.echo("use it as a custom benchmark:\n\ndata:\n  benchmark: custom\n"
               f"  task: {task}\n  source: {bench.languages[0]}\n  languages: [{langs}]\n"
               f"{qa if task == 'qa' else ''}  sources: {{'*': '{sources['*']}'}}")

