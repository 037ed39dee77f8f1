"""The names a sweep's runs carry in MLflow: tags, params and metrics written in one module and read in another.

Every module that writes or reads one of these names uses the constant, so the vocabulary is in one place.
"""

from __future__ import annotations

__all__ = [
    "ALGORITHM_TAG", "AUX_PARAM", "AUX_TAG", "BENCHMARK_TAG", "BEST_PAIR_TAG", "CELL_TAG", "DATASET_CONTEXT_TAG",
    "DEGENERATE_TAG",
    "EVIDENCE_TAG", "EXPERIMENT_KIND_TAG", "FAILED_TRIALS_TAG", "FAILURE_TAG", "GIT_COMMIT_TAG", "GRID_TAG",
    "LOGGED_ARTIFACTS_TAG", "MODEL_TRAINING", "NOTE_TAG", "SOURCE_NAME_TAG", "SOURCE_TYPE_TAG",
    "UNIT_TAG", "VERSION_TAG",
    "PARENT_SWEEP_ID_TAG", "PARENT_TAG", "PRIMARY_TAG", "QUERY_TAG", "RUNG_TAG", "SEARCH_METRIC", "SEED_PARAM",
    "SELECT_ON_DEV_TAG",
    "SEED_TAG", "SOURCE_PARAM", "STOPPED_TAG", "SUPPORT_TAG", "SWEEP_ID_TAG", "SWEEP_TAG", "TASK_TAG",
    "TIED_PAIRS_TAG", "TRIAL_TAG", "VIEW_TAG", "XLSWEEP",
]

# ------------------------------------------------------------------- MLflow's own
PARENT_TAG = "mlflow.parentRunId"  # a child (trial) run's parent (sweep) run
NOTE_TAG = "mlflow.note.content"  # the run's (or experiment's) description, Markdown, shown by the UI
VIEW_TAG = "mlflow.sharedViewState."  # + key: an experiment page view the UI opens with ?viewStateShareKey=key
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # what marks a JSON artifact as a table for the UI's viewer
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # an experiment's kind: the UI opens it in that mode
MODEL_TRAINING = "custom_model_development"  # its value for the UI's model-training mode (not GenAI)
SOURCE_NAME_TAG = "mlflow.source.name"  # what started the run (the UI's Source column)
SOURCE_TYPE_TAG = "mlflow.source.type"  # LOCAL (a command line)
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # the commit of the working tree the run started in
VERSION_TAG = "xlsweep.version"  # the xlsweep version that ran it
UNIT_TAG = "xlsweep.unit"  # "points": the run's scores are logged ×100 (runs without it: fractions)
DATASET_CONTEXT_TAG = "mlflow.data.context"  # a dataset input's role: the split (train, dev, test)

# ------------------------------------------------------------------- a sweep's parent run
XLSWEEP = "xlsweep."  # the prefix of every tag below
SWEEP_ID_TAG = "xlsweep.sweep_id"  # the sweep's id: only parent runs carry it
SWEEP_TAG = "xlsweep.sweep"  # the sweep's name (parent and child runs)
GRID_TAG = "xlsweep.grid"  # the swept axes as JSON
TASK_TAG = "xlsweep.task"  # nli, qa, ner or sentiment (parent and child runs)
SELECT_ON_DEV_TAG = "xlsweep.select_on_dev"  # parent run: grid keys chosen on dev, "k1,k2" (+target: per target)
PRIMARY_TAG = "xlsweep.primary"  # the task's primary metric (parent and child runs)
FAILED_TRIALS_TAG = "xlsweep.failed_trials"  # how many trials failed, once the sweep ran to its end
BEST_PAIR_TAG = "xlsweep.pair_search.best."  # + target: the pair search's choice for the target
TIED_PAIRS_TAG = "xlsweep.pair_search.tied."  # + target: the pairs tied with it
DEGENERATE_TAG = "xlsweep.degenerate"  # why a trial's (or, on a parent run, stage 1's) model learnt nothing

# ------------------------------------------------------------------- a trial's child run
TRIAL_TAG = "xlsweep.trial_id"  # Ray Tune's trial id: a retried or resumed trial finds its run by it
PARENT_SWEEP_ID_TAG = "xlsweep.parent_sweep_id"  # the parent's SWEEP_ID_TAG: filters one sweep's trials
ALGORITHM_TAG = "xlsweep.algorithm"  # the method (meta.algorithm)
BENCHMARK_TAG = "xlsweep.benchmark"  # data.benchmark
AUX_TAG = "xlsweep.aux"  # the auxiliary choice's label, e.g. ana→bel
SUPPORT_TAG = "xlsweep.support"  # support languages, comma-separated
QUERY_TAG = "xlsweep.query"  # query languages, comma-separated
SEED_TAG = "xlsweep.seed"  # the trial's seed
CELL_TAG = "xlsweep.cell"  # the grid cell's overrides as JSON
EVIDENCE_TAG = "xlsweep.evidence"  # a hash of the stage-1 model and every cell setting but aux and seed: trials
#                                    with equal ones are the same cells, whose dev scores a pair search may recall
RUNG_TAG = "xlsweep.rung"  # the pair search's rung (and meta-step) the trial reached
STOPPED_TAG = "xlsweep.stopped"  # why a scheduler (ASHA, the pair search) stopped the trial
FAILURE_TAG = "xlsweep.failure"  # why the trial failed

# ------------------------------------------------------------------- params and metrics
SOURCE_PARAM = "data.source"  # the stage-1 source language: a child's param, else the parent's
SEED_PARAM = "seed"  # the trial's seed, as a param
AUX_PARAM = "aux"  # the auxiliary choice (ana→cor); aux.support and aux.query beside it
SEARCH_METRIC = "pair_search/"  # + spent_steps, compute_fraction, grid_steps: the pair search's compute
