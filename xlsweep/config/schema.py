"""The typed, frozen configuration of a sweep and of one trial.

Every section owns its defaults. A YAML file maps one to one onto these classes
(see :mod:`xlsweep.config.read`); unknown keys and wrong types are errors. What the
values mean together is checked by :mod:`xlsweep.plan` and each method's rules
(:mod:`xlsweep.methods`). The methods and :mod:`xlsweep.prepare` read the sections they
need; a method turns its section into its learner's settings, so the training loops
below them see no config object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AshaConfig",
    "AuxChoice",
    "CheckpointsConfig",
    "DataConfig",
    "Distribution",
    "EvalConfig",
    "FewShotConfig",
    "Grid",
    "LanguageSpec",
    "MetaConfig",
    "MetaXLConfig",
    "XMamlConfig",
    "ModelConfig",
    "PairSearchConfig",
    "ResourcesConfig",
    "SearchConfig",
    "SelectOnDevConfig",
    "Stage1Config",
    "SweepConfig",
    "SyntheticDataConfig",
    "TinyEncoderConfig",
    "TrackingConfig",
    "TrialConfig",
]


@dataclass(frozen=True)
class LanguageSpec:
    """One node of an explicit synthetic family (``data.synthetic.languages: [{code: ana, ...}, ...]``)."""

    code: str
    parent: str = ""  # "": a root (a proto-language, or an isolate)
    inherit: float = 0.0  # probability that a concept keeps the parent's word
    order: Literal["SVO", "SOV", "VSO"] = "SVO"
    script: Literal["latin", "other"] = "latin"
    spoken: bool = True  # false: a proto-language, which has no data of its own


@dataclass(frozen=True)
class SyntheticDataConfig:
    """The embedded synthetic benchmark (see :class:`xlsweep.data.synthetic.SyntheticBenchmark`).

    ``languages`` chooses the family (:mod:`xlsweep.data.families`): empty for the default
    six-language tree, a number N for a random tree of N languages (``family_seed``), or a
    list of :class:`LanguageSpec`.
    """

    seed: int = 0
    train_size: int = 4000
    dev_size: int = 500
    test_size: int = 500
    n_topics: int = 6
    words_per_pool: int = 12
    purity: float = 0.35
    languages: int | tuple[LanguageSpec, ...] = ()
    family_seed: int = 0  # of a random family (languages: N)


@dataclass(frozen=True)
class DataConfig:
    """Which task, on which data: the synthetic benchmark, a preset of real data, or your own files.

    ``sources`` and ``limits`` are keyed by ``<lang>.<split>``, ``<lang>``, ``*.<split>``
    or ``*`` (the most specific key wins); see :mod:`xlsweep.data.sources` for the
    value syntax (a path template with ``{lang}``/``{split}``, or ``hub:NAME[:CONFIG][@SPLIT]``).
    """

    task: Literal["nli", "qa", "ner", "sentiment"] = "nli"
    benchmark: Literal["synthetic", "xnli", "mlqa", "wikiann", "marc", "custom"] = "synthetic"
    source: str = "ana"  # the language stage 1 fine-tunes on (English's role)
    languages: tuple[str, ...] = ()  # real data: the benchmark's languages (empty: the preset's)
    sources: dict[str, str] = field(default_factory=dict)  # real data: where each language/split comes from
    limits: dict[str, int] = field(default_factory=dict)  # low-resource subsets, e.g. {"*.train": 100}
    # first: the first N rows | seeded: N drawn with random.Random(limit_seed) | numpy: N drawn as MetaXL's code
    # draws them (mtrain.py read_data: np.random.seed(limit_seed); np.random.choice(N, n, replace=False))
    limit_mode: Literal["first", "seeded", "numpy"] = "first"
    limit_seed: int = 0
    # released splits (xlsweep.data.split_index): {index: <MetaXL's data/data_index.txt>, <lang>: <its corpus>}; the
    # languages named here read their splits through the index instead of data.sources (empty: none)
    split_index: dict[str, str] = field(default_factory=dict)
    max_length: int = 64  # tokens per row (QA: per window; 384 for MLQA)
    doc_stride: int = 128  # QA: overlap of consecutive windows of a long context
    # QA on real data: languages MLQA's official script does not know (it knows en, es, hi, vi, de, ar, zh), whose
    # answers are to be normalised with whitespace tokens and no articles; any other unknown language is refused
    qa_whitespace_languages: tuple[str, ...] = ()
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)


@dataclass(frozen=True)
class TinyEncoderConfig:
    """The embedded default encoder, built locally when ``model.name`` is ``tiny``."""

    vocab_size: int = 4000
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    mlm_steps: int = 0  # masked-LM pre-training steps over all languages (0: none)
    seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    name: str = "tiny"  # "tiny" (embedded default), a hub name or a local directory
    tiny: TinyEncoderConfig = field(default_factory=TinyEncoderConfig)
    # Mixed precision of stage-2 training steps (meta-steps, MetaXL's): bf16 autocast, float32 weights and
    # optimiser. For GPUs; stage 1 and every evaluation stay in float32, so deltas compare like with like.
    amp: Literal["none", "bf16"] = "none"


@dataclass(frozen=True)
class Stage1Config:
    """Fine-tuning on the source language: one model shared by every trial, or one per trial seed (``per_seed``)."""

    epochs: int = 2
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 0
    # false: one stage-1 model (seed `seed`) shared by every trial | true: one per trial seed, trial seed s starting
    # from the stage-1 model fine-tuned with seed s (the papers' "3 run average" covers stage 1 too), so the
    # baseline row is a mean over seeds and differences are paired by seed; each is cached by content
    per_seed: bool = False
    # Recompute activations in the backward pass: less memory for large encoders, ~30 % more time, the same
    # model. Stage 1 only: HF's checkpointing recomputes with the module's own weights, not a meta-step's
    # fast weights, so meta-steps never use it (their memory options: meta.adapt, row-sparse embeddings).
    gradient_checkpointing: bool = False


@dataclass(frozen=True)
class XMamlConfig:
    """The settings of ``x-maml`` trials when ``own``: X-MAML's public code instead of the ``meta`` section's.

    The XLA-MAML paper (§4.3) ran its X-MAML baseline with "their public finetuning code" (copenlu/X-MAML,
    ``MAML/experiments/maml_bert.py`` ``x_maml_with_aux_langs``, run by ``job.slurm``): one batch of
    ``--per_gpu_train_batch_size=32`` rows per language and meta-iteration, its first half the inner step and
    its second half the meta step (16 / 16); inner ``torch.optim.SGD`` at ``--inner_lr`` (default 1e-4);
    ``optim.Adam`` at ``--learning_rate 1e-5`` with ``--weight_decay`` 0.0 (default) and no scheduler; the
    query losses of every language summed into one Adam step per iteration (one task per language). With
    ``own: false`` x-maml trials use the ``meta`` section like every other method.
    """

    own: bool = False
    support_size: int = 16  # the first half of a batch of 32
    query_size: int = 16  # the second half
    inner_lr: float = 1e-4
    meta_lr: float = 1e-5
    weight_decay: float = 0.0
    optimizer: Literal["adamw", "adam"] = "adam"
    schedule: Literal["linear", "constant"] = "constant"
    meta_batch: int = 0  # tasks per meta-step; 0: one per meta-learning language


@dataclass(frozen=True)
class MetaConfig:
    """Stage 2: X-MAML, XLA-MAML or Reptile over auxiliary languages, or MetaXL and its baselines.

    ``reptile`` (Nichol et al., 2018) runs over XLA-MAML's episodes: ``inner_steps`` SGD steps of
    ``inner_lr`` on the support batch, then one on the query batch, from θ; θ ← θ + ε·mean(θ̃ − θ)
    over the ``meta_batch`` episodes, ε = ``meta_lr`` on the linear schedule (``first_order``,
    ``inner_backend``, ``adapt``, ``weight_decay``, ``optimizer`` and ``schedule`` do not apply: Reptile is first
    order by design and its ε follows the linear schedule; a non-default ``optimizer`` or ``schedule`` is refused
    for a reptile trial, and a reptile cell of a grid over ``meta.algorithm`` takes their defaults).

    For ``metaxl``, ``jt``, ``jt-rtn`` and ``target-only``, ``support`` are the source
    languages (their ``train`` split) and ``query`` the one target language (its
    ``split``, e.g. 100 training sentences via ``data.limits``); the ``metaxl`` section
    holds their settings.
    """

    algorithm: str = "xla-maml"  # a method of xlsweep.methods (its registry checks the name)
    support: tuple[str, ...] = ()  # language set S of the inner (support) step; MetaXL: the source languages
    query: tuple[str, ...] = ()  # language set Q of the meta (query) step; x-maml: leave empty; MetaXL: the target
    split: Literal["train", "dev"] = "dev"  # the auxiliary data, as in the papers: dev
    steps: int = 100  # meta-steps
    meta_batch: int = 4  # episodes per meta-step
    support_size: int = 16  # K
    query_size: int = 16  # N
    inner_lr: float = 1e-3  # alpha (SGD)
    inner_steps: int = 1
    first_order: bool = False
    inner_backend: Literal["functional", "higher"] = "functional"
    adapt: tuple[str, ...] = ()  # regexes of parameter names adapted in the inner loop; empty: all
    meta_lr: float = 1e-4  # beta
    weight_decay: float = 0.01
    # adamw: torch.optim.AdamW (decoupled weight decay) | adam: torch.optim.Adam (weight decay as an L2 term,
    # the XLA-MAML paper's §4.2 "weight decay of 0.01 with Adam")
    optimizer: Literal["adamw", "adam"] = "adamw"
    schedule: Literal["linear", "constant"] = "linear"  # linear: warm-up, then linear decay to 0
    warmup_ratio: float = 0.0  # linear warm-up, then linear decay to 0
    sampling: Literal["random", "cover"] = "random"
    parallel: bool = False  # query = translations of the support examples
    # one: each batch from one language (an episode pairs one support and one query language); union: the
    # support batch from the pooled rows of all support languages, the query batch likewise (the XLA-MAML
    # paper's Algorithm 1 and §3.1: S ⊂ ⋃ D_l over the support languages; batches mix languages)
    episode_languages: Literal["one", "union"] = "one"
    checkpoint_every: int = 25
    x_maml: XMamlConfig = field(default_factory=XMamlConfig)  # x-maml trials: X-MAML's own code's settings


@dataclass(frozen=True)
class MetaXLConfig:
    """MetaXL (an RTN meta-learned between source and target) and its baselines: target-only, JT, JT w/ RTN.

    Training runs ``epochs`` passes over the source data (``target-only``: the target
    data; pooled ``jt``/``jt-rtn``: both, concatenated), scores the target's dev split after
    each epoch and keeps the best model. The RTN is dropped at test time. Which variant the
    MetaXL paper (Xia et al., 2021) and the authors' released code (github.com/microsoft/MetaXL,
    ``mtrain.py``/``mlt.py``) use is said per key; see :mod:`xlsweep.train.transfer`.
    """

    init: Literal["encoder", "stage1"] = "encoder"  # start from the encoder (as the paper) or the stage-1 model
    epochs: int = 3  # the paper: 20 (Appendix A)
    source_batch: int = 16  # the paper: 16 NER, 12 SA (Appendix A); the code's README runs 10
    target_batch: int = 16
    source_size: int = 0  # N source examples (0: all), e.g. 5000 / 10000 / 20000
    target_size: int = 0  # N target examples (0: all), e.g. 100
    # source/target_size: the first N rows, N drawn with random.Random(subset_seed) (seeded), or N drawn as the
    # authors' mtrain.py read_data draws them (numpy: np.random.seed(subset_seed); np.random.choice(..., replace=False))
    subset: Literal["first", "seeded", "numpy"] = "first"
    subset_seed: int = 0  # the authors' code samples its subsets (np.random.choice with --data_seed 42)
    lr: float = 5e-5  # main model (AdamW, linear schedule); also the size of MetaXL's virtual step
    rtn_lr: float = 1e-3  # the RTN (Adam); the paper tunes it in {3e-5, 1e-6, 1e-7} (Appendix A)
    weight_decay: float = 0.01
    # adamw: θ AdamW, φ Adam without weight decay | adam: θ and φ torch.optim.Adam with weight_decay as an L2 term,
    # as the authors' mtrain.py (torch.optim.Adam(..., weight_decay=args.weight_decay), default 5e-4)
    optimizer: Literal["adamw", "adam"] = "adamw"
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0  # clip the main model's gradient norm (0: no clipping); the code's MetaXL step: 10
    rtn_layers: tuple[int, ...] = (0,)  # 0: after the embeddings; i: after encoder layer i
    bottleneck: int = 64  # r < hidden size (the paper: 384 or 192 for a 768-wide encoder)
    # The RTN: paper (Eq. 1, random init, no residual) | authors-code (residual, sigmoid gate, Xavier init, the
    # RTN reads h.detach()) | identity-init (residual, zero output layer: exactly the identity at start).
    rtn: Literal["identity-init", "paper", "authors-code"] = "identity-init"
    # MetaXL's step: authors-code (one target batch split in halves, L_src + L_tgt on the first half, θ' scored
    # on the second, θ's step recomputed after φ's) | paper (Algorithm 1 / Eq. 2-3: θ on the source loss only).
    step: Literal["authors-code", "paper"] = "authors-code"
    # JT and JT w/ RTN: balanced (a source batch + a target batch per step, the stream MetaXL draws, as the
    # authors' joint training) | pooled (batches of the concatenated rows: each target row once per epoch).
    jt_batches: Literal["balanced", "pooled"] = "balanced"
    backoff_epochs: int = 0  # after training: epochs of fine-tuning on source + target concatenated
    select: Literal["best-dev", "last"] = "best-dev"
    analysis_rows: int = 500  # test rows per language for the representation analysis (0: skip it)


@dataclass(frozen=True)
class FewShotConfig:
    """Few-shot evaluation: fine-tune on the target language's dev split, then test (next to zero-shot).

    ``protocol: finetune`` fine-tunes the trial's model (the X-MAML paper's protocol, and xlsweep's
    for every method). ``target-inner`` is the XLA-MAML paper's (§4.3: "we use tgt. lang as the
    inner-step and aux. lang as the meta-step", then fine-tune 1 epoch on the target's dev set) for
    ``xla-maml`` and ``reptile`` trials: per target, meta-learning from the stage-1 model is run again
    with the target's dev split as the support data and the trial's query languages as the query, and
    that model is fine-tuned and tested (X-MAML trials, e.g. in a sweep comparing both, fine-tune
    their own model, as the paper's X-MAML rows). It costs one meta-learning run per target.
    """

    enabled: bool = False
    protocol: Literal["finetune", "target-inner"] = "finetune"
    epochs: int = 1
    lr: float = 1e-4
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0


@dataclass(frozen=True)
class EvalConfig:
    targets: tuple[str, ...] = ()  # empty: every language of the benchmark
    batch_size: int = 256
    few_shot: FewShotConfig = field(default_factory=FewShotConfig)


@dataclass(frozen=True)
class TrialConfig:
    """Everything that determines one trial."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    meta: MetaConfig = field(default_factory=MetaConfig)
    metaxl: MetaXLConfig = field(default_factory=MetaXLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass(frozen=True)
class AuxChoice:
    """One value of the auxiliary-language axis: the support and query language sets."""

    support: tuple[str, ...]
    query: tuple[str, ...] = ()  # empty: the same language as the support (x-maml)

    @property
    def label(self) -> str:
        """Row label in tables and heatmaps: ``bel`` (x-maml), ``ana→bel`` or ``bel+cor→dun``."""
        support = "+".join(self.support)
        return f"{support}→{'+'.join(self.query)}" if self.query else support


@dataclass(frozen=True)
class Grid:
    """The swept axes: auxiliary choices, and other trial keys by dotted path."""

    aux: tuple[AuxChoice, ...] = ()
    axes: tuple[tuple[str, tuple[object, ...]], ...] = ()  # ("seed", (0, 1)), ("meta.inner_lr", (...))


@dataclass(frozen=True)
class Distribution:
    """One sampled dimension of ``search.space``: exactly one of the fields, e.g. ``{loguniform: [1e-5, 1e-3]}``."""

    choice: tuple[object, ...] = ()
    uniform: tuple[float, ...] = ()  # [low, high]
    loguniform: tuple[float, ...] = ()  # [low, high], low > 0

    @property
    def kind(self) -> str:
        return next(name for name in ("choice", "uniform", "loguniform") if getattr(self, name))


@dataclass(frozen=True)
class AshaConfig:
    """ASHA early stopping on meta-steps; it reads ``search.metric`` at every checkpoint."""

    grace_period: int = 0  # meta-steps a trial runs before it may be stopped (0: meta.checkpoint_every)
    reduction_factor: float = 3.0


@dataclass(frozen=True)
class SearchConfig:
    """Sampled hyper-parameters (next to the grid), the objective, early stopping and the searcher.

    ``metric`` is a dev-split score the trials report at every checkpoint and at the
    end: ``dev_avg`` (the primary metric averaged over ``languages``, leaving out the
    languages whose dev split the trial trains on) or ``dev/<lang>``; test scores are
    never an objective.
    """

    space: dict[str, Distribution] = field(default_factory=dict)  # "meta.meta_lr": {loguniform: [1e-5, 1e-3]}
    num_samples: int = 1  # samples of the space; with the random searcher each is crossed with the grid
    metric: str = ""  # "": no objective (a plain grid sweep); dev_avg or dev/<lang>
    mode: Literal["max", "min"] = "max"
    languages: tuple[str, ...] = ()  # dev_avg's languages (empty: eval.targets, or every language)
    scheduler: Literal["none", "asha"] = "none"
    asha: AshaConfig = field(default_factory=AshaConfig)
    searcher: Literal["random", "optuna"] = "random"
    seed: int = 0  # of the random samples / Optuna's sampler

    @property
    def active(self) -> bool:
        return bool(self.metric)


@dataclass(frozen=True)
class PairSearchConfig:
    """Budgeted search of the best auxiliary pair per target over ``grid.aux`` (:mod:`xlsweep.pairsearch`).

    Successive halving over the grid's pairs with meta-steps as the resource, deciding on the dev
    scores of every target, evidence pooled across pairs that share a language; survivors run to the
    full length with every seed of ``grid.seed`` (or its first ``final_seeds``).
    """

    enabled: bool = False
    budget: float = 0.15  # a fraction of the full grid's meta-steps, in (0, 1]
    budget_steps: int = 0  # or a number of meta-steps (overrides budget)
    eta: float = 3.0  # reduction factor between rungs
    first: int = 0  # meta-steps of the first rung (0: meta.checkpoint_every); a multiple of checkpoint_every
    screen: float = 1.0  # share of the pairs screened at the first rung (the prior's favourites first)
    prior: Literal["auto", "planted", "uriel+", "none"] = "auto"  # auto: planted (synthetic), uriel+ (real data)
    prior_distances: tuple[str, ...] = ("genetic", "syntactic", "geographic")  # URIEL+ kinds averaged
    alpha: float = 0.05  # family-wise level of the per-target tied set
    seed: int = 0
    # seeds the survivors run with at full length, the first of grid.seed: N, 0 (all of them) or auto (the most
    # that still leave 1.5 survivors per target: pairsearch.search.auto_final_seeds)
    final_seeds: int | Literal["auto"] = "auto"
    # start from the dev scores that earlier sweeps in the same store reported on these cells (same stage-1 model and
    # settings), free of charge; a pair they ran to full length with the final seeds is not run again
    recall: bool = True


@dataclass(frozen=True)
class SelectOnDevConfig:
    """Grid keys the reports choose on the dev split (:mod:`xlsweep.report.dev_selection`): next to the per-value
    tables, a table of each method's dev-best value's test scores, marked as selected on dev."""

    keys: tuple[str, ...] = ()  # grid axes, e.g. [metaxl.rtn_lr, metaxl.bottleneck]
    per_target: bool = True  # choose per method and target (MetaXL, Appendix A: "for each language"), else per method


@dataclass(frozen=True)
class CheckpointsConfig:
    """Bounded disk use: Tune keeps ``keep`` checkpoints per trial and drops them once a trial has finished."""

    keep: int = 1  # per running trial
    keep_finished: bool = False  # keep the last checkpoint of finished trials (their results are in MLflow)


@dataclass(frozen=True)
class ResourcesConfig:
    cpu: float = 1.0
    gpu: float = 0.0  # fractions share a GPU (bookkeeping only: they do not cap its memory)


@dataclass(frozen=True)
class TrackingConfig:
    uri: str = ""  # empty: sqlite:///<working directory>/mlflow.db
    experiment: str = ""  # empty: the sweep's name


@dataclass(frozen=True)
class SweepConfig:
    name: str
    trial: TrialConfig
    grid: Grid
    search: SearchConfig = field(default_factory=SearchConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    checkpoints: CheckpointsConfig = field(default_factory=CheckpointsConfig)
    pair_search: PairSearchConfig = field(default_factory=PairSearchConfig)
    select_on_dev: SelectOnDevConfig = field(default_factory=SelectOnDevConfig)
    max_failures: int = 1  # retries of a trial whose worker died, each from its last checkpoint
    output_dir: str = "runs"  # the sweep writes to <output_dir>/<name>/
    cache_dir: str = ".xlsweep-cache"  # encoder, features and stage-1 checkpoints, by content hash
    max_concurrent: int = 0  # 0: as many trials as the resources allow
