"""MLflow stores written to the sweep data contract: a parent run per sweep, a child run per trial.

``demo``: an XLA-MAML sweep (task nli, primary ``acc``, source ``ana``: a param of the parent
and of the XLA-MAML children, not of the X-MAML one) of two auxiliary choices × 3 seeds,
an X-MAML row with one seed, a failed and a running trial, few-shot scores, and an older
sweep in the same experiment. ``mx``: a MetaXL-family sweep (task ner, primary ``f1``).
The numbers are chosen so the paired tests come out both ways (see the tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

DEMO_BASELINE = {"bel": 0.50, "cor": 0.60, "dun": 0.40}
FEW_SHOT_GAIN = 0.05  # fs_acc = acc + 0.05, for scores and baselines alike

# (algorithm, aux, support, query) -> seed -> acc per target
DEMO_SCORES: dict[tuple[str, str, str, str], dict[int, dict[str, float]]] = {
    ("xla-maml", "ana→bel", "ana", "bel"): {
        0: {"bel": 0.56, "cor": 0.61, "dun": 0.42},
        1: {"bel": 0.55, "cor": 0.59, "dun": 0.43},
        2: {"bel": 0.57, "cor": 0.63, "dun": 0.44},
    },
    ("xla-maml", "ana→cor", "ana", "cor"): {
        0: {"bel": 0.52, "cor": 0.66, "dun": 0.45},
        1: {"bel": 0.47, "cor": 0.64, "dun": 0.37},
        2: {"bel": 0.51, "cor": 0.65, "dun": 0.41},
    },
    ("x-maml", "bel", "bel", "bel"): {0: {"bel": 0.53, "cor": 0.62, "dun": 0.41}},
}

MX_BASELINE = {"qu": 0.30, "mi": 0.20}
# method -> target -> f1 per seed 0, 1, 2
MX_SCORES = {
    "target-only": {"qu": [0.45, 0.44, 0.46], "mi": [0.35, 0.36, 0.34]},
    "jt": {"qu": [0.50, 0.52, 0.48], "mi": [0.40, 0.42, 0.41]},
    "metaxl": {"qu": [0.55, 0.58, 0.54], "mi": [0.43, 0.40, 0.42]},
}


@dataclass(frozen=True)
class Store:
    uri: str
    parent: str
    older_parent: str = ""
    failed_child: str = ""


def _metrics(values: Mapping[str, float], step: int) -> list[Metric]:
    return [Metric(k, float(v), 0, step) for k, v in values.items()]


def make_parent(client: MlflowClient, experiment_id: str, sweep_id: str, *, name: str, task: str, primary: str,
                baseline: Mapping[str, float], start_time: int, status: str = "FINISHED",
                params: Mapping[str, str] | None = None) -> str:
    run = client.create_run(experiment_id, start_time=start_time, run_name=name, tags={
        "xlsweep.sweep_id": sweep_id, "xlsweep.sweep": name, "xlsweep.task": task, "xlsweep.primary": primary})
    client.log_batch(run.info.run_id, metrics=_metrics(baseline, 0),
                     params=[Param(k, v) for k, v in (params or {}).items()])
    client.set_terminated(run.info.run_id, status)
    return str(run.info.run_id)


def make_child(client: MlflowClient, experiment_id: str, parent: str, trial_id: str, *, sweep: str, algorithm: str,
               aux: str, support: str, query: str, seed: int, task: str, primary: str,
               scores: Mapping[str, Mapping[str, float]], baseline: Mapping[str, Mapping[str, float]] | None,
               start_time: int, status: str = "FINISHED", failure: str | None = None,
               cell: Mapping[str, Any] | None = None, params: Mapping[str, str] | None = None) -> str:
    tags = {"mlflow.parentRunId": parent, "xlsweep.trial_id": trial_id, "xlsweep.sweep": sweep,
            "xlsweep.algorithm": algorithm, "xlsweep.task": task, "xlsweep.primary": primary, "xlsweep.aux": aux,
            "xlsweep.support": support, "xlsweep.query": query, "xlsweep.seed": str(seed),
            "xlsweep.cell": json.dumps(dict(cell or {"aux": aux, "seed": seed}), ensure_ascii=False)}
    if failure is not None:
        tags["xlsweep.failure"] = failure
    run_id = str(client.create_run(experiment_id, start_time=start_time, tags=tags,
                                   run_name=f"{aux} seed{seed}").info.run_id)
    client.log_batch(run_id, params=[Param(k, v) for k, v in (params or {}).items()],
                     metrics=_metrics({"meta_loss": 2.0}, 0) + _metrics({"meta_loss": 1.0}, 50))
    if scores:
        final: dict[str, float] = {"meta_loss": 0.5}
        for metric, per in scores.items():
            final |= {f"{metric}/{lang}": v for lang, v in per.items()}
            final[f"{metric}_avg"] = sum(per.values()) / len(per)
            if baseline is not None:
                final |= {f"baseline/{metric}/{lang}": v for lang, v in baseline[metric].items()}
        base = baseline or {}
        if primary in base:
            deltas = {lang: v - base[primary][lang] for lang, v in scores[primary].items()}
            final |= {f"delta/{lang}": d for lang, d in deltas.items()}
            final["delta_avg"] = sum(deltas.values()) / len(deltas)
        final |= {f"dev/{lang}": 0.9 for lang in scores[primary]} | {"dev_avg": 0.9}
        client.log_batch(run_id, metrics=_metrics(final, 100))
    if status != "RUNNING":
        client.set_terminated(run_id, status)
    return run_id


def _few_shot(values: Mapping[str, float]) -> dict[str, float]:
    return {lang: v + FEW_SHOT_GAIN for lang, v in values.items()}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    uri = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("demo")
    common = {"sweep": "demo", "task": "nli", "primary": "acc"}
    older = make_parent(client, exp, "demo-old", name="demo", task="nli", primary="acc",
                        baseline={f"baseline/acc/{k}": v for k, v in DEMO_BASELINE.items()}, start_time=1000)
    make_child(client, exp, older, "old_0", algorithm="xla-maml", aux="ana→bel", support="ana", query="bel", seed=0,
               scores={"acc": {"bel": 0.99, "cor": 0.99, "dun": 0.99}}, baseline={"acc": DEMO_BASELINE},
               start_time=1001, **common)
    parent_baseline = {f"baseline/acc/{k}": v for k, v in DEMO_BASELINE.items()}
    parent_baseline |= {f"baseline/fs_acc/{k}": v for k, v in _few_shot(DEMO_BASELINE).items()}
    parent = make_parent(client, exp, "demo-new", name="demo", task="nli", primary="acc", baseline=parent_baseline,
                         start_time=2000, params={"data.source": "ana"})
    clock = 2001
    for (algorithm, aux, support, query), seeds in DEMO_SCORES.items():
        for seed, acc in seeds.items():
            own = None if algorithm == "x-maml" else {"acc": DEMO_BASELINE, "fs_acc": _few_shot(DEMO_BASELINE)}
            make_child(client, exp, parent, f"{aux}_{seed}", algorithm=algorithm, aux=aux, support=support,
                       query=query, seed=seed, scores={"acc": acc, "fs_acc": _few_shot(acc)}, baseline=own,
                       start_time=clock, params={"data.source": "ana"} if algorithm == "xla-maml" else None,
                       **common)
            clock += 1
    failed = make_child(client, exp, parent, "ana→cor_3", algorithm="xla-maml", aux="ana→cor", support="ana",
                        query="cor", seed=3, scores={}, baseline=None, start_time=clock, status="FAILED",
                        failure="NonFiniteLoss: meta loss is nan at step 5", **common)
    make_child(client, exp, parent, "ana→bel_3", algorithm="xla-maml", aux="ana→bel", support="ana", query="bel",
               seed=3, scores={}, baseline=None, start_time=clock + 1, status="RUNNING", **common)
    return Store(uri, parent, older, failed)


@pytest.fixture(scope="session")
def mx_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    uri = f"sqlite:///{tmp_path_factory.mktemp('mx') / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("mx")
    common = {"sweep": "mx", "task": "ner", "primary": "f1"}
    parent = make_parent(client, exp, "mx-1", name="mx", task="ner", primary="f1",
                         baseline={f"baseline/f1/{k}": v for k, v in MX_BASELINE.items()}, start_time=1000)
    clock = 1001
    for method, per_target in MX_SCORES.items():
        for target, values in per_target.items():
            for seed, value in enumerate(values):
                other = next(t for t in MX_BASELINE if t != target)  # scored too, but not this trial's target
                make_child(client, exp, parent, f"{method}_{target}_{seed}", algorithm=method, aux=f"en→{target}",
                           support="en", query=target, seed=seed, scores={"f1": {target: value, other: 0.99}},
                           baseline={"f1": MX_BASELINE}, start_time=clock,
                           cell={"aux": f"en→{target}", "seed": seed, "meta.algorithm": method}, **common)
                clock += 1
    return Store(uri, parent)


@pytest.fixture()
def empty_store(tmp_path: Path) -> str:
    """A store with one sweep whose only trial failed."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("broken")
    parent = make_parent(client, exp, "broken-1", name="broken", task="nli", primary="acc", baseline={},
                         start_time=1, status="FAILED")
    make_child(client, exp, parent, "t0", sweep="broken", algorithm="xla-maml", aux="ana→bel", support="ana",
               query="bel", seed=0, task="nli", primary="acc", scores={}, baseline=None, start_time=2,
               status="FAILED", failure="RuntimeError: CUDA out of memory")
    return uri
