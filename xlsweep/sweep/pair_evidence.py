"""What earlier sweeps in the same tracking store ran on a pair search's cells: recalled, kept, handed to the search.

Every trial run carries :data:`~xlsweep.tracking.tags.EVIDENCE_TAG`, a hash of its stage-1 model and of every
cell setting but the auxiliary languages and the seed (:func:`~xlsweep.plan.pair_search.evidence_key`). Before a
pair search starts, the runs of *other* sweeps with its cells' hash are read from the store — their dev scores at
every checkpoint, and the test deltas of those that finished — and kept in the sweep directory
(``pair_search_evidence.json``), so a resumed sweep and the final report use the very evidence the search started
from. The search takes the dev scores free of charge (:class:`~xlsweep.pairsearch.search.PairSearch`); the
completed heatmap takes the finished runs' test deltas as observed cells.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xlsweep.config import SweepConfig, to_dict
from xlsweep.plan import Cells, cell_key
from xlsweep.plan.pair_search import Evidence, SearchSetup, evidence_key, search_setup
from xlsweep.prepare import stage1_fingerprint, stage1_seed
from xlsweep.tracking.reader import StoreReader
from xlsweep.tracking.tags import AUX_TAG, EVIDENCE_TAG, PARENT_SWEEP_ID_TAG, SEED_TAG

__all__ = ["EVIDENCE_FILE", "Recalled", "evidence_keys", "load_evidence", "recall_evidence", "trial_scores"]

EVIDENCE_FILE = "pair_search_evidence.json"
Log = Callable[[str], None]
History = Callable[[str, str], list[tuple[int, float]]]  # (run id, metric key) -> (step, value)


class Recalled:
    """The runs an earlier sweep left on the search's cells, as read from the store (``runs``: JSON-able)."""

    def __init__(self, key: str, runs: Sequence[Mapping[str, Any]]) -> None:
        self.key, self.runs = key, list(runs)

    def evidence(self, setup: SearchSetup) -> Evidence:
        """(pair, seed) -> step -> target -> dev score, for the runs of the setup's pairs, seeds and checkpoints
        (of several runs of one cell, the one that reached furthest)."""
        best: dict[tuple[int, int], dict[int, dict[str, float]]] = {}
        labels = [p.label for p in setup.pairs]
        for run in self.runs:
            if run["aux"] not in labels or run["seed"] not in setup.seeds:
                continue
            history = {int(step): scores for step, scores in run["dev"].items()
                       if int(step) in setup.checkpoints and all(t in scores for t in setup.targets)}
            key = (labels.index(run["aux"]), int(run["seed"]))
            if history and max(history) > max(best.get(key, {0: {}})):
                best[key] = {step: {t: float(scores[t]) for t in setup.targets} for step, scores in history.items()}
        return best

    def deltas(self, setup: SearchSetup) -> dict[int, dict[int, np.ndarray]]:
        """pair -> seed -> test deltas per target, of the recalled runs that finished."""
        labels = [p.label for p in setup.pairs]
        out: dict[int, dict[int, np.ndarray]] = {}
        for run in self.runs:
            delta = run.get("delta") or {}
            if run["aux"] in labels and run["seed"] in setup.seeds and all(t in delta for t in setup.targets):
                out.setdefault(labels.index(run["aux"]), {})[int(run["seed"])] = \
                    np.array([float(delta[t]) for t in setup.targets])
        return out

    def describe(self, setup: SearchSetup) -> str:
        evidence = self.evidence(setup)
        pairs = {pair for pair, _ in evidence}
        full = {pair for (pair, _), history in evidence.items() if max(history) >= setup.steps}
        return (f"pair search: recalled {len(evidence)} run(s) of {len(pairs)} pair(s) from earlier sweeps in the "
                f"store ({len(full)} pair(s) with a run to full length), free of charge")

    def save(self, out_dir: Path) -> Path:
        path = out_dir / EVIDENCE_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"key": self.key, "runs": self.runs}, ensure_ascii=False))
        os.replace(tmp, path)
        return path


def evidence_keys(cells: Cells, cache_dir: str) -> dict[str, str]:
    """Each cell's evidence key, by :func:`~xlsweep.plan.cell_key`; the stage-1 fingerprint (which may hash a
    local model's files) once per distinct stage 1 (model, data and stage-1 settings)."""
    stage1: dict[str, str] = {}
    keys = {}
    for cell, cfg in cells:
        ident = json.dumps([to_dict(cfg.model), to_dict(cfg.data), to_dict(cfg.stage1), stage1_seed(cfg)],
                           sort_keys=True, default=str)
        if ident not in stage1:
            stage1[ident] = stage1_fingerprint(cfg, cache_dir)
        keys[cell_key(cell)] = evidence_key(cfg, stage1[ident])
    return keys


def load_evidence(out_dir: Path) -> Recalled | None:
    """The evidence the sweep in ``out_dir`` recalled when its search started, or None (it recalled none)."""
    path = out_dir / EVIDENCE_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Recalled(data["key"], data["runs"])


def recall_evidence(sweep: SweepConfig, key: str, *, tracking_uri: str, sweep_id: str, out_dir: Path,
                    log: Log = print) -> Recalled | None:
    """The runs of other sweeps with evidence ``key`` (the search's cells'), read once and kept in ``out_dir``:
    a resumed sweep finds the file and reads the store no more. None when the config says not to recall
    (``pair_search.recall: false``) or nothing matches."""
    if not sweep.pair_search.recall:
        return None
    kept = load_evidence(out_dir)
    if kept is None:
        kept = Recalled(key, _read(sweep, key, tracking_uri, sweep_id))
        kept.save(out_dir)
    setup = search_setup(sweep)
    if not kept.evidence(setup):
        return None
    log(kept.describe(setup))
    return kept


def trial_scores(run: Any, targets: Sequence[str], history: History) -> dict[str, Any]:
    """A trial run's pair (``aux``), ``seed``, ``dev`` scores (meta-step -> target -> score) and, if it finished,
    its test ``delta`` per target; ``history(run_id, key)`` reads a metric's (step, value) history."""
    tags = run.data.tags
    dev: dict[int, dict[str, float]] = {}
    for target in targets:
        for step, value in history(run.info.run_id, f"dev/{target}"):
            dev.setdefault(int(step), {})[target] = value
    finished = run.info.status == "FINISHED"
    delta = {t: run.data.metrics[f"delta/{t}"] for t in targets if f"delta/{t}" in run.data.metrics}
    return {"run_id": run.info.run_id, "aux": tags[AUX_TAG], "seed": int(tags[SEED_TAG]), "dev": dev,
            "delta": delta if finished else {}}


def _read(sweep: SweepConfig, key: str, tracking_uri: str, sweep_id: str) -> list[dict[str, Any]]:
    store = StoreReader(tracking_uri)
    targets = search_setup(sweep).targets
    return [trial_scores(run, targets, store.history) for run in store.tagged(EVIDENCE_TAG, key)
            if run.data.tags.get(PARENT_SWEEP_ID_TAG) != sweep_id  # this sweep's own trials are the search's
            and AUX_TAG in run.data.tags and SEED_TAG in run.data.tags]
