"""``train``: fit a Transformer on a translation corpus into a run directory.

Used by ``tf-transformer train`` and by the training notebook. Built on
``model.fit``; what ``fit`` does not do by itself is here:

- *Steps, not passes.* The training batches are one endless, seeded stream
  (the bucketed batches of the training split, reshuffled every pass), and an
  epoch is ``steps_per_epoch`` consecutive batches of it (by default one pass
  over the split). Optimizer step ``s`` always trains on batch ``s`` of the
  stream, so a resumed run skips the ``s`` batches it already used and ends
  with exactly the optimizer steps, and the batches, of an uninterrupted run.
- *Resume.* ``backup/`` holds the model and optimizer state every
  ``backup_every`` steps; rerunning the same command continues from it
  (mid-epoch included). Raising ``--epochs`` / ``--max-steps`` later trains
  on from where the run ended.
- *Distribution.* ``strategy`` picks a ``tf.distribute`` strategy; the loss
  is normalised by the global number of real tokens (see ``masked_loss``),
  so N replicas follow one device's trajectory on the same global batch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import pathlib
import shutil
import tempfile
import time
from typing import Any

from tf_transformer import _quiet  # noqa: F401  (before TensorFlow loads)

import keras
import tensorflow as tf

from tf_transformer.config import PRESETS, TransformerConfig
from tf_transformer.model import Transformer
from tf_transformer.training import callbacks as cb
from tf_transformer.training import run_dir as rd
from tf_transformer.training.losses import MaskedAccuracy, masked_loss
from tf_transformer.training.schedule import make_optimizer

STRATEGIES = ("auto", "mirrored", "multiworker")
MIXED_PRECISION = {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
# Arguments that define what is trained on what: a resumed run must keep them.
_FIXED_ARGS = ("preset", "dataset", "max_length", "batch_tokens", "seed", "steps_per_epoch",
               "train_examples", "warmup_steps", "lr_scale", "label_smoothing", "dropout_rate",
               "norm_first")


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns.

    Attributes:
        run_dir: the run directory (load it with ``load_run``).
        model: the trained model, holding the final (best) weights.
        history: one dict per epoch of the whole run, resumed parts included
            (``loss``, ``masked_accuracy``, ``val_*``, ``tokens_per_sec``, ``step``...).
        steps: optimizer steps done in total.
        stopped: why training ended: ``"done"``, ``"time limit"`` or ``"already done"``.
    """

    run_dir: pathlib.Path
    model: Any
    history: list
    steps: int
    stopped: str


def train(preset: str = "tutorial", run_dir: str | os.PathLike = "runs/tutorial", *,
          dataset: str = "embedded", epochs: int | None = None, max_steps: int | None = None,
          max_minutes: float | None = None, batch_tokens: int = 4096, max_length: int = 64,
          steps_per_epoch: int | None = None, train_examples: int | None = None,
          validation_examples: int | None = None, seed: int | None = None,
          strategy: str = "auto", mixed_precision: str = "none", jit_compile: bool = False,
          warmup_steps: int = 4000, lr_scale: float = 1.0, label_smoothing: float = 0.1,
          dropout_rate: float | None = None, norm_first: bool = False, backup_every: int = 100,
          verbose: int | str = "auto", callbacks: list | None = None) -> TrainResult:
    """Train a preset Transformer into ``run_dir`` (resuming it if it holds a run).

    Args:
        preset: model size, a key of ``PRESETS`` (``tiny``, ``tutorial``, ``base``, ``big``).
        run_dir: the run directory to create or resume (see ``run_dir``).
        dataset: ``"embedded"`` or a TFDS name (see ``tf_transformer.data.load_dataset``).
        epochs: epochs to train (default 20 unless ``max_steps`` is given).
        max_steps: stop after this many optimizer steps in total.
        max_minutes: stop after this much wall time in this session; the
            finished part is validated, checkpointed and saved.
        batch_tokens: token budget of one (global) batch, padding included.
        max_length: longest sentence, in tokens, on either side; longer ones are truncated.
        steps_per_epoch: batches per epoch; default: one pass over the training split.
        train_examples, validation_examples: use only the first N sentence pairs
            (quick experiments, tests).
        seed: seeds Python, NumPy, TensorFlow and the data order, and turns on
            TensorFlow's op determinism: two runs then give identical losses.
        strategy: ``auto`` (``TF_CONFIG`` with several workers: multiworker;
            several GPUs: mirrored; else one device), ``mirrored`` (all local
            GPUs, else all logical CPUs), ``multiworker`` (``TF_CONFIG``).
        mixed_precision: ``none``, ``bf16`` or ``fp16`` (with loss scaling);
            logits, softmax and loss stay float32.
        jit_compile: compile the train step with XLA.
        warmup_steps, lr_scale: the ``WarmupSchedule``.
        label_smoothing: for ``masked_loss`` (0.1 as in the paper).
        dropout_rate: override the preset's dropout.
        norm_first: pre-norm layers instead of the paper's post-norm. With a
            short warm-up they learn far faster: on the embedded corpus, the
            tutorial preset reached 0.81 validation accuracy after 300 steps
            pre-norm and plateaued near 0.5 post-norm.
        backup_every: save the resumable state every this many steps.
        verbose: ``model.fit``'s verbosity (the bar shows ``tokens_per_sec``).
        callbacks: extra Keras callbacks (run after ours, before the bar).

    Returns a ``TrainResult``.

    Raises:
        ValueError: unknown preset / strategy / precision, a batch budget that
            cannot hold one ``max_length`` sentence, a ``run_dir`` that is not
            a run directory, or one that holds a different run.
        TrainingDiverged: the loss became NaN.
    """
    started = time.monotonic()
    args = dict(preset=preset, dataset=dataset, epochs=epochs, max_steps=max_steps,
                max_minutes=max_minutes, batch_tokens=batch_tokens, max_length=max_length,
                steps_per_epoch=steps_per_epoch, train_examples=train_examples,
                validation_examples=validation_examples, seed=seed, strategy=strategy,
                mixed_precision=mixed_precision, jit_compile=jit_compile,
                warmup_steps=warmup_steps, lr_scale=lr_scale, label_smoothing=label_smoothing,
                dropout_rate=dropout_rate, norm_first=norm_first)
    _check_arguments(args)
    run_path = pathlib.Path(run_dir)
    # A multi-worker strategy must exist before any other TensorFlow op runs.
    distribution = make_strategy(strategy)
    chief = is_chief(distribution)
    if chief:
        previous = _previous_run(run_path)
    else:  # the chief checks the directory (and may be writing it right now)
        previous = rd.read_run_info(run_path) if (run_path / rd.RUN_FILE).is_file() else None

    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()

    from tf_transformer import data

    pt_tokenizer, en_tokenizer, vocab_files = data_tokenizers(dataset)
    overrides = dict(input_vocab_size=int(pt_tokenizer.get_vocab_size()),
                     target_vocab_size=int(en_tokenizer.get_vocab_size()),
                     max_length=max(max_length, PRESETS[preset].get("max_length", 0)) or max_length)
    if dropout_rate is not None:
        overrides["dropout_rate"] = dropout_rate
    if norm_first:
        overrides["norm_first"] = True
    config = TransformerConfig.from_preset(preset, **overrides)

    def batches(split, examples, shuffle, budget, shard=None, repeat=False):
        pairs = data.load_dataset(dataset, split)
        if examples:
            pairs = pairs.take(examples)
        if shard is not None:
            pairs = pairs.shard(*shard)
        return make_batches(pairs, pt_tokenizer, en_tokenizer, max_length, budget,
                            shuffle=shuffle, seed=seed, repeat=repeat)

    if steps_per_epoch is None:
        steps_per_epoch = (previous or {}).get("train", {}).get("steps_per_epoch") or \
            count_batches(batches("train", train_examples, False, batch_tokens))
    args["steps_per_epoch"] = steps_per_epoch
    if previous is not None:
        _check_same_run(run_path, previous, args, config)
    total_steps = _total_steps(epochs, max_steps, steps_per_epoch)

    if chief:
        rd.write_run_info(run_path, config=config, dataset=dataset, max_length=max_length,
                          vocab_files=vocab_files, train_args=args)

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(MIXED_PRECISION[mixed_precision])
    try:
        with distribution.scope():
            model = Transformer(config)
            model.build()
            optimizer = make_optimizer(config.d_model, warmup_steps, lr_scale)
            if mixed_precision == "fp16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)

            def loss(labels, logits):
                return masked_loss(labels, logits, label_smoothing)

            model.compile(optimizer=optimizer, loss=loss,
                          metrics=[MaskedAccuracy(), cb.RealTokens()], jit_compile=jit_compile)
            step = cb.StepBackup.restore(model, run_path / rd.BACKUP_DIR)
            if isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy):
                # Keras 3.15 averages a first int batch across workers before fit
                # ("_maybe_symbolic_build") and fails on it; without a remembered strategy
                # it skips that, and takes the strategy from the scope fit runs in.
                model._distribute_strategy = None
                # Its mean of the step's metrics across workers reduces axis 0, which a
                # scalar lacks: hand it each metric as a 1-vector.
                _vector_metrics(model)
    finally:
        keras.mixed_precision.set_global_policy(policy)

    history_file = run_path / rd.HISTORY_FILE
    history = [e for e in cb.read_history(history_file) if e["step"] <= step]
    if step >= total_steps:
        print(f"{run_path} already holds {step} steps (asked for {total_steps}); nothing to train. "
              f"Raise --epochs or --max-steps to train on.")
        return TrainResult(run_path, model, history, step, "already done")

    validation = None
    if validation_examples != 0:
        validation = batches("validation", validation_examples, False, batch_tokens)
        # A known length spares Keras a "ran out of data" warning after every validation.
        validation = validation.apply(tf.data.experimental.assert_cardinality(count_batches(validation)))
        options = tf.data.Options()  # several workers: each validates every k-th batch
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        validation = validation.with_options(options)
    # Saving reads distributed variables, a collective step every worker must take: the
    # other workers save too, into a scratch directory that is thrown away.
    out = run_path if chief else pathlib.Path(tempfile.mkdtemp(prefix="tf_transformer_worker_"))
    guard = cb.TerminateOnNaN()
    timer = cb.TimeLimit(max_minutes, start=started) if max_minutes else None
    history_cb = cb.HistoryFile(history_file, write=chief)
    history_cb.epochs = history
    monitor = "val_loss" if validation is not None else "loss"
    best = min((e[monitor] for e in history if monitor in e), default=None)
    our_callbacks = [guard, cb.TokenThroughput()] + ([timer] if timer else []) + [
        cb.StepBackup(out / rd.BACKUP_DIR, backup_every, guard)]
    (out / rd.CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
    our_callbacks += [
        keras.callbacks.ModelCheckpoint(str(out / rd.BEST_WEIGHTS), monitor=monitor,
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=best),
        keras.callbacks.ModelCheckpoint(str(out / rd.LATEST_WEIGHTS), save_weights_only=True),
    ]
    if importlib.util.find_spec("tensorboard") is not None:  # tf.summary needs the package
        our_callbacks.append(keras.callbacks.TensorBoard(str(out / rd.LOG_DIR),
                                                         update_freq=max(1, backup_every // 4)))
    else:
        print("TensorBoard is not installed (pip install tensorboard): no logs/ for this run.")
    our_callbacks += [history_cb] + list(callbacks or [])

    stopped = "done"
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        # Fit whole epochs in one call; a resumed epoch's rest or a last short epoch alone.
        if offset or total_steps - step < steps_per_epoch:
            count, length = 1, min(steps_per_epoch - offset, total_steps - step)
        else:
            count, length = (total_steps - step) // steps_per_epoch, steps_per_epoch
        stream = _training_stream(distribution, batches, train_examples, batch_tokens, step)
        with distribution.scope():
            model.fit(stream, initial_epoch=epoch, epochs=epoch + count, steps_per_epoch=length,
                      validation_data=validation, callbacks=our_callbacks, verbose=verbose,
                      shuffle=False)  # the stream is shuffled already
        step = int(model.optimizer.iterations.numpy())
        if guard.diverged:
            raise cb.TrainingDiverged(guard.message)
        if timer is not None and timer.reached:
            stopped = "time limit"
            break
    _finish(model, out)
    if not chief:
        shutil.rmtree(out, ignore_errors=True)
    return TrainResult(run_path, model, history_cb.epochs, step, stopped)


def _training_stream(distribution, batches, train_examples, batch_tokens, skip):
    """The endless stream of training batches from batch ``skip`` on.

    On one machine Keras splits each global batch among the local replicas.
    With several workers, tf.data's DATA auto-sharding gives each worker
    every k-th batch of the same seeded stream.
    """
    stream = batches("train", train_examples, True, batch_tokens, repeat=True)
    if not isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy):
        stream = stream.skip(skip)
    else:  # each step consumed one batch per worker
        stream = stream.skip(skip * distribution.cluster_resolver.cluster_spec().num_tasks("worker"))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        stream = stream.with_options(options)
    return stream


def _vector_metrics(model):
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: {k: tf.reshape(v, [1]) for k, v in step(data).items()})


def _finish(model, run_path):
    """Save the final model: the best checkpoint's weights if there is one, else the current ones."""
    best = run_path / rd.BEST_WEIGHTS
    if best.is_file():
        model.load_weights(str(best))
    model.save_weights(str(run_path / rd.WEIGHTS_FILE))
    model.save(str(run_path / rd.MODEL_FILE))


def make_batches(pairs, pt_tokenizer, en_tokenizer, max_length, batch_tokens, *, shuffle, seed,
                 repeat=False):
    """The data helper's bucketed, token-budgeted batches (``tf_transformer.data.make_batches``)."""
    from tf_transformer.data import make_batches as data_make_batches

    return data_make_batches(pairs, pt_tokenizer, en_tokenizer, max_length=max_length,
                             batch_tokens=batch_tokens, shuffle=shuffle, seed=seed, repeat=repeat)


def data_tokenizers(dataset):
    """The (pt, en) tokenizers for ``dataset`` and their vocabulary files."""
    from tf_transformer.data import Tokenizer
    from tf_transformer.data.prepare import default_vocab_dir

    vocab_dir = default_vocab_dir(dataset)
    vocab_files = {lang: vocab_dir / f"{lang}.txt" for lang in rd.LANGUAGES}
    for lang, path in vocab_files.items():
        if not path.is_file():
            raise FileNotFoundError(
                f"No {lang} vocabulary at {path}; run `tf-transformer prepare --dataset {dataset}` first.")
    return Tokenizer(vocab_files["pt"]), Tokenizer(vocab_files["en"]), vocab_files


def count_batches(batches) -> int:
    """Batches in one pass over a (finite) dataset."""
    return int(batches.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy that ``--strategy NAME`` asks for (see ``train``)."""
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
                "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                "\"task\": {\"type\": \"worker\", \"index\": 0}}' on the first machine.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def is_chief(strategy) -> bool:
    """Only the chief (worker 0, or a chief task) writes the run directory."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _check_arguments(args):
    if args["preset"] not in PRESETS:
        raise ValueError(f"Unknown preset {args['preset']!r}; choose one of {', '.join(PRESETS)}.")
    if args["strategy"] not in STRATEGIES:
        raise ValueError(f"Unknown strategy {args['strategy']!r}; choose one of {', '.join(STRATEGIES)}.")
    if args["mixed_precision"] not in MIXED_PRECISION:
        raise ValueError(f"Unknown mixed precision {args['mixed_precision']!r}; "
                         f"choose one of {', '.join(MIXED_PRECISION)}.")
    for name in ("epochs", "max_steps", "steps_per_epoch", "train_examples"):
        if args[name] is not None and args[name] <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {args[name]}.")
    if args["max_minutes"] is not None and args["max_minutes"] <= 0:
        raise ValueError(f"--max-minutes must be positive, got {args['max_minutes']}.")
    if args["max_minutes"] is not None and args["strategy"] == "multiworker":
        raise ValueError("--max-minutes cannot stop several workers at the same step; "
                         "use --max-steps with --strategy multiworker.")
    if args["max_length"] < 3:
        raise ValueError(f"--max-length must be at least 3 ([START] word [END]), got {args['max_length']}.")
    if args["batch_tokens"] < args["max_length"]:
        raise ValueError(
            f"--batch-tokens {args['batch_tokens']} cannot hold one sentence of --max-length "
            f"{args['max_length']} tokens; use --batch-tokens {args['max_length']} or more "
            f"(a few thousand is typical), or a smaller --max-length.")


def _previous_run(path: pathlib.Path):
    """The run.json already in ``path`` (None for a new or empty directory)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        return rd.read_run_info(path)  # raises for a foreign directory
    return None


def _check_same_run(path, previous, args, config):
    old = previous.get("train", {})
    changed = [k for k in _FIXED_ARGS if k in old and old[k] != args[k]]
    if previous["model"] != config.to_dict():
        changed.append("model")
    if changed:
        raise ValueError(
            f"{path} holds a different run ({', '.join(f'{k}: {old.get(k)!r} -> {args.get(k)!r}' for k in changed if k != 'model')}"
            f"{'; other model sizes' if 'model' in changed else ''}). To resume it, repeat its "
            f"arguments (see {path / rd.RUN_FILE}); to start a new run, pass another --run-dir.")


def _total_steps(epochs, max_steps, steps_per_epoch):
    if epochs is None and max_steps is None:
        epochs = 20
    limits = [n for n in (max_steps, epochs and epochs * steps_per_epoch) if n]
    return min(limits)
