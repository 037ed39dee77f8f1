"""Ray for a sweep: a local instance or a cluster, its resources checked against a trial's, its storage shared.

Checked before stage 1 is trained or any trial starts: a trial that asks for more CPUs than the
largest node has, or for GPUs the cluster lacks, and nodes that do not see the sweep's cache and
output directories, are one :class:`~xlsweep.sweep.errors.SweepError` each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from xlsweep.config import SweepConfig
from xlsweep.sweep.errors import SweepError

__all__ = ["check_shared_storage", "start_ray"]

Log = Callable[[str], None]


def start_ray(address: str | None, sweep: SweepConfig, log: Log) -> None:
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune warns on every frequent checkpoint of short trials; the snapshots are cheap here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # A diverged trial's last report has its reason, not the objective; that must not fail the sweep.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if address:
        log(f"connecting to the Ray cluster at {address} ...")
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise SweepError(f"--address: cannot connect to a Ray cluster at {address!r} ({err}); start one with "
                             "`ray start --head` or pass its HOST:PORT") from None
    else:
        cpus = os.cpu_count() or 1
        log(f"starting a local Ray instance with {cpus} CPUs ...")
        ray.init(address="local", num_cpus=cpus, **kwargs)
    have = ray.cluster_resources()
    cpu, gpu = sweep.resources.cpu, sweep.resources.gpu
    biggest = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
    if cpu > biggest:
        ray.shutdown()
        raise SweepError(f"resources.cpu: each trial asks for {cpu} CPUs but the largest node has {biggest} "
                         f"(the cluster: {have.get('CPU', 0)}); a trial runs on one node: lower resources.cpu "
                         "or add bigger nodes")
    if gpu > have.get("GPU", 0):
        ray.shutdown()
        raise SweepError(f"resources.gpu: each trial asks for {gpu} GPUs but the cluster has {have.get('GPU', 0)}; "
                         "set resources.gpu: 0 to run on CPUs, or connect to a cluster with GPUs (--address)")


def check_shared_storage(paths: list[str], log: Log) -> None:
    """On a multi-node cluster, every node sees the sweep's cache (stage 1, features) and output directories."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    log(f"checking that the {len(nodes)} nodes share {', '.join(paths)} ...")

    @ray.remote(num_cpus=0)
    def missing(paths: list[str]) -> list[str]:
        return [p for p in paths if not os.path.isdir(p)]

    checks = {n["NodeManagerAddress"]: missing.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(paths) for n in nodes}
    problems = {node: gone for node, ref in checks.items() if (gone := ray.get(ref, timeout=120))}
    if problems:
        ray.shutdown()
        listed = "; ".join(f"node {node} lacks {', '.join(gone)}" for node, gone in problems.items())
        raise SweepError(f"storage: {listed}. Trials run on every node and read the stage-1 model and write "
                         "checkpoints there: put cache_dir and output_dir on storage all nodes share (e.g. NFS)")
