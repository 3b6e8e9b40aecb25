"""Distribution: the ``tf.distribute`` strategy, who writes, and two Keras work-arounds.

``train`` runs the same code on one device, on several local devices
(``MirroredStrategy``) and on several machines (``MultiWorkerMirroredStrategy``,
described by ``TF_CONFIG``). What differs between them lives here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import tensorflow as tf

STRATEGIES = ("auto", "mirrored", "multiworker")


class ClusterTimeout(RuntimeError):
    """The workers of a multi-worker run did not all answer in time."""


class ClusterInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (``signum``) while waiting for the cluster's workers: nothing was trained."""

    def __init__(self, signum: int):
        super().__init__(
            f"{signal.Signals(signum).name} while waiting for the cluster's workers; stopped "
            f"(nothing was trained or written)"
        )
        self.signum = signum


def make_strategy(name: str, timeout: float = 300.0) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy that ``--strategy NAME`` asks for.

    ``auto``: ``TF_CONFIG`` with several workers gives ``multiworker``,
    several GPUs give ``mirrored``, else the default one-device strategy.
    ``mirrored``: all local GPUs, else all logical CPUs. ``multiworker``: the
    cluster that ``TF_CONFIG`` describes, waiting at most ``timeout`` seconds
    for every worker to start (``ClusterTimeout`` names the ones that did
    not). Create it before any other TensorFlow op runs: a multi-worker
    strategy configures the runtime.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    if name == "auto":
        if len(read_tf_config(name).get("cluster", {}).get("worker", [])) > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "multiworker":
        if not read_tf_config(name):
            raise ValueError(
                "--strategy multiworker needs TF_CONFIG describing the cluster, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\' on the first machine.'
            )
        return _start_multiworker(timeout)
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
)


def read_tf_config(strategy: str = "auto") -> dict:
    """``TF_CONFIG`` parsed and checked ({} when unset), with errors that name it and the fix."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    unset = (
        f"--strategy {strategy} read it to look for a cluster. To train on this machine alone, "
        f"unset it (`unset TF_CONFIG`); for several machines, set it like {_TF_CONFIG_EXAMPLE}"
    )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err.msg}, character {err.pos}); {unset}.") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    workers = cluster.get("worker", []) if isinstance(cluster, dict) else None
    if not isinstance(workers, list) or not all(isinstance(w, str) and ":" in w for w in workers):
        raise ValueError(
            f"TF_CONFIG must be a JSON object whose cluster.worker is a list of 'host:port' "
            f"strings, got {raw[:80]!r}; {unset}."
        )
    task = config.get("task", {})
    if len(workers) > 1 and not (
        isinstance(task, dict)
        and task.get("type") in ("worker", "chief")
        and isinstance(task.get("index"), int)
        and 0 <= task["index"] < len(cluster.get(task.get("type"), []))
    ):
        raise ValueError(
            f"TF_CONFIG's task must name this machine's place in the cluster, e.g. "
            f'"task": {{"type": "worker", "index": 0}} (index below {len(workers)}), got {task!r}; {unset}.'
        )
    return config


def _start_multiworker(timeout: float) -> tf.distribute.Strategy:
    """``MultiWorkerMirroredStrategy()`` once every worker of ``TF_CONFIG`` is there, or ``ClusterTimeout``.

    TensorFlow waits for missing workers without limit, inside C++ that holds
    the interpreter, where neither SIGINT nor SIGTERM reaches Python. So the
    workers first find each other here, in Python (``_wait_for_workers``),
    within ``timeout`` seconds and answering signals; the strategy is built
    only when all of them are up.
    """
    _wait_for_workers(read_tf_config("multiworker"), timeout)
    return tf.distribute.MultiWorkerMirroredStrategy()


def _wait_for_workers(config: dict, timeout: float) -> None:
    """Wait until every other worker accepts a connection, while this one accepts theirs.

    Each worker listens on its own ``TF_CONFIG`` address until it has reached
    all the others (TensorFlow's server takes the port over afterwards), so
    workers started in any order find each other. SIGINT and SIGTERM end the
    wait (``ClusterInterrupted``: exit 130 / 143).
    """
    task = config.get("task", {})
    me = config["cluster"][task["type"]][task["index"]]
    others = [
        (kind, index, address)
        for kind, addresses in config["cluster"].items()
        for index, address in enumerate(addresses)
        if address != me
    ]
    listener = _listen(me)
    accepted, pending = [], list(others)

    def leave(signum, frame):
        raise ClusterInterrupted(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, leave) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        deadline = time.monotonic() + timeout
        pending = [peer for peer in pending if not _answers(peer[2])]
        if pending:
            names = ", ".join(f"{kind} {index} ({address})" for kind, index, address in pending)
            print(f"waiting up to {timeout:g} s for the cluster's other workers: {names}", flush=True)
        while pending and time.monotonic() < deadline:
            pending = [peer for peer in pending if not _answers(peer[2])]
            if listener is not None:
                try:
                    accepted.append(listener.accept()[0])
                except OSError:  # (a timeout: nobody knocked)
                    pass
            else:
                time.sleep(0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for connection in accepted + ([listener] if listener is not None else []):
            connection.close()
    if pending:
        silent = "; ".join(f"{kind} {index} ({address}) does not answer" for kind, index, address in pending)
        raise ClusterTimeout(
            f"the multi-worker cluster did not start within {timeout:g} s (--cluster-timeout): "
            f"{silent}. Start the same command on every machine in TF_CONFIG's cluster (each "
            f"with its own task index), or raise --cluster-timeout."
        )


def _listen(address: str) -> socket.socket | None:
    """A listening socket on this worker's port, so the others see it is up (None if the port is taken)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", int(address.rpartition(":")[2])))
        listener.listen(16)
    except (OSError, ValueError):
        listener.close()
        return None
    listener.settimeout(0.2)
    return listener


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
        return True
    except (OSError, ValueError):
        return False


def is_multiworker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_count(strategy) -> int:
    """Machines that train together (1 unless the strategy is multi-worker)."""
    if not is_multiworker(strategy):
        return 1
    return strategy.cluster_resolver.cluster_spec().num_tasks("worker")


def signal_agreement(strategy):
    """A function every worker calls at the same step: which signal, if any, stops them all.

    Multi-worker training can stop cleanly only at a step that every worker
    reaches, and a signal may reach one worker alone (a Ctrl-C in one
    terminal) or all of them (a cluster's SIGTERM). Each worker passes the
    signal it has received (``None`` if none); a collective sum of the
    counts gives all of them the same answer: ``SIGTERM`` if any worker got
    one, else ``SIGINT`` if any got that, else ``None``. One small all-reduce.
    """
    import signal

    @tf.function
    def total(counts):
        per_replica = strategy.run(lambda: counts)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def agree(signum):
        counts = tf.constant([signum == signal.SIGINT, signum == signal.SIGTERM], tf.int32)
        sigint, sigterm = (int(x) for x in total(counts).numpy())
        # (one replica per worker: a local count can only be 0 or the replica count)
        return signal.SIGTERM if sigterm else signal.SIGINT if sigint else None

    return agree


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
    ``tests/training/test_training_distributed.py`` shows when).

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
