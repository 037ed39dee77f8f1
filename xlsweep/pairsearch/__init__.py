"""Budgeted auxiliary-pair search: the pure parts, importable without Ray or MLflow.

* :mod:`~xlsweep.pairsearch.schedule` — successive halving over pairs, meta-steps as the resource;
* :mod:`~xlsweep.pairsearch.model` (on :mod:`~xlsweep.pairsearch.blr`) — the pooled
  additive-plus-interaction model over support and query languages, with predictive intervals;
* :mod:`~xlsweep.pairsearch.prior` — planted relatedness or URIEL+ distances;
* :mod:`~xlsweep.pairsearch.search` — the search itself, as a state machine;
* :mod:`~xlsweep.pairsearch.completion` — the completed aux × target heatmap with intervals;
* :mod:`~xlsweep.pairsearch.pair` — an auxiliary choice (support and query language sets).

The replay benchmark that chose its rules (recorded grids, strategies replayed on them) lives with its
worlds in ``benchmarks/`` (``benchmarks/replay.py``, ``benchmarks/worlds.py``; ``scripts/bench_pair_search.py``).
"""
