"""Distribution: the ``tf.distribute`` strategy, who writes, and two Keras work-arounds.

``train`` runs the same code on one device, on several local devices
(``MirroredStrategy``) and on several machines (``MultiWorkerMirroredStrategy``,
described by ``TF_CONFIG``). What differs between them lives here.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy that ``--strategy NAME`` asks for.

    ``auto``: ``TF_CONFIG`` with several workers gives ``multiworker``,
    several GPUs give ``mirrored``, else the default one-device strategy.
    ``mirrored``: all local GPUs, else all logical CPUs. ``multiworker``: the
    cluster that ``TF_CONFIG`` describes. Create it before any other
    TensorFlow op runs: a multi-worker strategy configures the runtime.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    if name == "auto":
        workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker", [])
        if len(workers) > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--strategy multiworker needs TF_CONFIG describing the cluster, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\' on the first machine.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def is_multiworker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_count(strategy) -> int:
    """Machines that train together (1 unless the strategy is multi-worker)."""
    if not is_multiworker(strategy):
        return 1
    return strategy.cluster_resolver.cluster_spec().num_tasks("worker")


def is_chief(strategy) -> bool:
    """Only the chief (worker 0, or a chief task) writes the run directory."""
    if not is_multiworker(strategy):
        return True
    resolver = strategy.cluster_resolver
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def shard_by_batch(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """With several workers, each reads every k-th *batch* of the same stream (tf.data's DATA sharding).

    On one machine Keras splits each global batch among the local replicas
    and this changes nothing.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def keras_workarounds(model, strategy) -> None:
    """Two work-arounds for Keras 3.15 under ``MultiWorkerMirroredStrategy`` (nothing otherwise).

    Both are in ``keras/src/backend/tensorflow/trainer.py``; drop them once
    Keras handles these cases itself (the two-worker test in
    ``tests/test_training_distributed.py`` shows when).

    1. ``TensorFlowTrainer._maybe_symbolic_build`` runs before ``fit``'s first
       step when the model remembers the strategy it was created under: it
       takes the first batch and averages it across workers
       (``strategy.reduce("MEAN", batch)``), which fails on our int token ids.
       Forgetting the strategy skips that build (the model is built
       already); ``fit`` then takes the strategy from the scope it runs in.
    2. ``reduce_per_replica`` averages each step's metrics across workers
       with ``strategy.reduce("MEAN", value, axis=0)``, and a scalar metric
       has no axis 0: each step hands its metrics over as 1-vectors instead.
    """
    if not is_multiworker(strategy):
        return
    model._distribute_strategy = None  # 1.
    for name in ("train_step", "test_step"):  # 2.
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: {k: tf.reshape(v, [1]) for k, v in step(data).items()})
