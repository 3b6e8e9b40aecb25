"""``train``: fit a Transformer on a translation corpus into a run directory.

Used by ``tf-transformer train`` and by the training notebook. Built on
``model.fit``; what ``fit`` does not do by itself is here, one named step
each, in the order ``train`` calls them:

1. ``prepare_run`` (``training.plan``): the strategy, the tokenizers, the model's sizes, the
   "same run?" check, ``run.json``: everything decided before training.
2. ``build_model``: the compiled model, restored from the run's backup.
3. ``make_callbacks``: checkpoints, backups, history, guards, TensorBoard.
4. ``fit_in_windows``: ``model.fit`` on the training stream, epoch by epoch.
5. ``finish``: the final (best) weights and the whole model.

Three ideas hold it together:

- *Steps, not passes.* The training batches are one endless, seeded stream
  (the bucketed batches of the training split, reshuffled every pass), and an
  epoch is ``steps_per_epoch`` consecutive batches of it (by default one pass
  over the split). Optimizer step ``s`` always trains on batch ``s`` of the
  stream, so a resumed run skips the ``s`` batches it already used and ends
  with exactly the optimizer steps, and the batches, of an uninterrupted run.
- *Resume.* ``backup/`` holds the model and optimizer state every
  ``backup_every`` steps; rerunning the same command continues from it
  (mid-epoch included; ``resume`` keeps what makes that exact). Raising
  ``--epochs`` / ``--max-steps`` later trains on from where the run ended.
- *Distribution.* ``strategy`` picks a ``tf.distribute`` strategy; the loss
  is normalised by the global number of real tokens (see ``masked_loss``),
  so N replicas follow one device's trajectory on the same global batch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import shutil
import sys
import time
import zipfile
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from tf_transformer import files
from tf_transformer import runs as rd
from tf_transformer.constants import TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.model import Transformer
from tf_transformer.training import metrics, resume, stops
from tf_transformer.training.config import MIXED_PRECISION, TrainConfig
from tf_transformer.training.losses import MaskedAccuracy, masked_loss
from tf_transformer.training.plan import Plan, count_batches, prepare_run
from tf_transformer.training.schedule import make_optimizer
from tf_transformer.training.strategy import (
    keras_workarounds,
    shard_by_batch,
    signal_agreement,
    worker_count,
)


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns.

    Attributes:
        run_dir: the run directory (load it with ``tf_transformer.runs.load_run``).
        model: the trained model, holding the final (best) weights.
        history: one dict per epoch of the whole run, resumed parts included
            (``loss``, ``masked_accuracy``, ``val_*``, ``tokens_per_sec``, ``step``...).
        steps: optimizer steps done in total.
        stopped: why training ended: ``"done"``, ``"time limit"``, ``"already done"``, or
            (``stop_at_accuracy``, ``patience``) ``"quality reached"`` or ``"no improvement"``.
    """

    run_dir: pathlib.Path
    model: Any
    history: list
    steps: int
    stopped: str


def train(
    config: TrainConfig | str = "tutorial",
    run_dir: str | os.PathLike = "runs/tutorial",
    *,
    callbacks: list | None = None,
    **settings,
) -> TrainResult:
    """Train a Transformer into ``run_dir``, resuming the run it holds if there is one.

    Args:
        config: a ``TrainConfig``, or a preset name (``tiny``, ``tutorial``,
            ``base``, ``big``) for ``TrainConfig(preset=...)``.
        run_dir: the run directory to create or resume (see ``tf_transformer.runs``).
        callbacks: extra Keras callbacks (run after ours, before the progress bar).
        **settings: ``TrainConfig`` fields (``max_steps=50``, ``seed=0``...),
            which override the config's.

    Returns a ``TrainResult``.

    Raises:
        ValueError: a setting out of range, a ``run_dir`` that is not a run
            directory or that holds a different run; nothing is written then.
        FileNotFoundError: the dataset's vocabularies are not prepared.
        TrainingDiverged: the loss became NaN.

    Example:
        >>> result = train("tiny", "runs/tiny", max_steps=50, seed=0)  # doctest: +SKIP
        >>> result = train(TrainConfig(preset="tiny", max_steps=50), "runs/tiny")  # doctest: +SKIP
    """
    started = time.monotonic()
    if isinstance(config, str):
        settings = {"preset": config, **settings}
        config = TrainConfig()
    config = dataclasses.replace(config, **settings)  # validates every setting
    plan = prepare_run(config, run_dir)
    try:
        return train_plan(plan, started, callbacks)
    finally:
        plan.lock.release()


def train_plan(plan: Plan, started: float, callbacks: list | None) -> TrainResult:
    """Build, resume, fit and finish the run that ``plan`` describes (``train`` holds its lock)."""
    model, step = build_model(plan)
    backup = plan.run_dir / rd.BACKUP_DIR
    state = resume.restored_state(backup, step, plan.config.steps_per_epoch, plan.total_steps)
    fit_callbacks = make_callbacks(plan, step, started, callbacks, state)
    interrupts = fit_callbacks.interrupts
    interrupts.set_model(model)
    with interrupts:  # from the first line the user reads, Ctrl-C stops cleanly
        announce(plan, model, step, state)
        if fit_callbacks.history.ends_unrecorded_epoch(step, plan.total_steps):
            record_unfinished_epoch(model, plan, fit_callbacks, step)
            interrupts.stop_if_signalled()
        if step >= plan.total_steps:
            print(
                f"{plan.run_dir} already holds {step} steps (asked for {plan.total_steps}); nothing "
                f"to train. Raise --epochs or --max-steps to train on."
            )
            ensure_final_files(model, plan)
            return TrainResult(plan.run_dir, model, fit_callbacks.history.epochs, step, "already done")
        step, stopped = fit_in_windows(model, plan, fit_callbacks, step)
    finish(model, plan)
    return TrainResult(plan.run_dir, model, fit_callbacks.history.epochs, step, stopped)


def announce(plan: Plan, model, step: int, state: dict) -> None:
    """Say what this call will do: start or resume, and up to which step."""
    config, total = plan.config, plan.total_steps
    per_epoch = config.steps_per_epoch
    epochs = total / per_epoch
    epochs = f"{epochs:,.0f}" if epochs == int(epochs) else f"{epochs:,.1f}"
    goal = (
        f"training to step {total:,} ({epochs} epochs of {per_epoch:,} steps)"
        if step < total
        else "nothing left to train"
    )
    if step:
        saved = resume.StepBackup.saved_at(plan.run_dir / rd.BACKUP_DIR, state)
        print(f"resuming {plan.run_dir} at step {step} of {total}, saved {saved}; {goal}.")
    else:
        print(
            f"training {plan.run_dir}: preset {config.preset} ({model.count_params():,} parameters), "
            f"{goal}, a backup every {config.backup_every or per_epoch} steps; if it stops, run the "
            f"same command to resume."
        )
    if config.mixed_precision == "auto":
        shown = {"bf16": "bfloat16", "none": "float32"}.get(plan.precision, plan.precision)
        print(f"mixed precision auto: {shown} ({plan.precision_reason}).")
    sys.stdout.flush()


# -- 2. build the model ------------------------------------------------------------------------


def build_model(plan: Plan) -> tuple[keras.Model, int]:
    """The compiled model and the optimizer step it is at (restored from ``backup/`` if there is one)."""
    config = plan.config
    dtype = plan.precision  # ("auto" resolved)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(MIXED_PRECISION[dtype])
    try:  # the policy applies to the layers created here, and to nothing else
        with plan.strategy.scope():
            model = Transformer(plan.model_config)
            model.build()
            optimizer = make_optimizer(
                plan.model_config.d_model,
                config.warmup_steps,
                config.lr_scale,
                config.decay_power,
                config.ema_momentum,
            )
            if dtype == "fp16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)

            def loss(labels, logits):
                return masked_loss(labels, logits, config.label_smoothing)

            model.compile(
                optimizer=optimizer,
                loss=loss,
                jit_compile=config.jit_compile,
                metrics=[MaskedAccuracy(), metrics.RealTokens()],
            )
            # Adam's moments (and the average) created now, eagerly: created inside the first
            # step, they would make TensorFlow trace the whole step twice (27 s of tracing
            # instead of 11 for the tutorial preset on 2 CPU cores).
            model.optimizer.build(model.trainable_variables)
            step = resume.StepBackup.restore(model, plan.run_dir / rd.BACKUP_DIR)
            keras_workarounds(model, plan.strategy)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return model, step


# -- 3. make the callbacks ---------------------------------------------------------------------


class Callbacks(NamedTuple):
    """The callbacks ``fit`` gets (``all``), and the ones ``train`` reads afterwards."""

    all: list
    guard: stops.TerminateOnNaN
    timer: stops.TimeLimit | None
    interrupts: stops.Interrupts
    ledger: resume.EpochLedger
    checkpoints: resume.Checkpoints
    history: resume.HistoryFile
    backup: resume.StepBackup
    verbose: int
    stop: stops.QualityStop | None = None


def make_callbacks(plan: Plan, step: int, started: float, extra: list | None, state: dict) -> Callbacks:
    """Guards, throughput, whole-epoch metrics, checkpoints, TensorBoard, history, backups, ``extra``.

    Keras calls them in this order, and its progress bar last: the guards
    first (the time limit may end an epoch early), the ledger before the
    callbacks that read an epoch's logs, the backup after the epoch is
    validated, checkpointed and recorded, and ``QualityStop`` after the backup,
    so training stops only at an epoch end that is saved. ``step`` is the
    restored state's optimizer step and ``state`` its ``state.json`` (0 and {}
    for a new run).
    """
    config, out = plan.config, plan.out
    guard = stops.TerminateOnNaN()
    timer = stops.TimeLimit(config.max_minutes, start=started) if config.max_minutes else None
    ledger = resume.EpochLedger(state)
    history_file = resume.HistoryFile(
        plan.run_dir / rd.HISTORY_FILE, config.steps_per_epoch, write=plan.chief, up_to_step=step
    )
    monitor = "loss" if config.validation_examples == 0 else "val_loss"
    checkpoints = resume.Checkpoints(
        out / rd.LATEST_WEIGHTS,
        out / rd.BEST_WEIGHTS,
        monitor=monitor,
        best_value=history_file.lowest(monitor),  # over the whole run, resumed parts included
    )
    backup = resume.StepBackup(out / rd.BACKUP_DIR, config.backup_every, guard, ledger=ledger)
    agree = signal_agreement(plan.strategy) if worker_count(plan.strategy) > 1 else None
    interrupts = stops.Interrupts(backup, agree=agree, chief=plan.chief)
    callbacks = [guard] + ([timer] if timer else []) + [interrupts, metrics.TokenThroughput(), ledger]
    if config.ema_momentum:  # validation measures the weights' moving average, which checkpoints keep
        callbacks.append(metrics.AveragedValidation())
    callbacks.append(checkpoints)
    if importlib.util.find_spec("tensorboard") is not None:  # tf.summary needs the package
        callbacks.append(
            keras.callbacks.TensorBoard(str(out / rd.LOG_DIR), update_freq=max(1, config.backup_every // 4))
        )
    else:
        print("TensorBoard is not installed (pip install tensorboard): no logs/ for this run.")
    stop = None
    if config.stop_at_accuracy is not None or config.patience is not None:
        prefix = "" if config.validation_examples == 0 else "val_"
        stop = stops.QualityStop(history_file, config.stop_at_accuracy, config.patience, prefix)
    callbacks += [history_file, backup] + ([stop] if stop else []) + list(extra or [])
    verbose = config.verbose
    if verbose == 1 and not _interactive():  # a log file: plain lines instead of the redrawn bar
        every = config.backup_every or config.steps_per_epoch
        callbacks.append(metrics.LineProgress(plan.total_steps, every, ledger))
        verbose = 0
    elif verbose == 2:  # one line per epoch: ours, not Keras's raw floats of every metric
        callbacks.append(metrics.LineProgress(plan.total_steps, None))
        verbose = 0
    return Callbacks(
        callbacks, guard, timer, interrupts, ledger, checkpoints, history_file, backup, verbose, stop
    )


def _interactive() -> bool:
    """Whether progress can redraw itself: a terminal, or a notebook."""
    return sys.stdout.isatty() or "ipykernel" in sys.modules


# -- 4. fit in windows -------------------------------------------------------------------------


def fit_in_windows(model, plan: Plan, callbacks: Callbacks, step: int) -> tuple[int, str]:
    """``model.fit`` from optimizer step ``step`` to ``plan.total_steps``; returns (step, why it stopped).

    Each call of ``fit`` covers whole epochs; a resumed epoch's rest, or a
    last short epoch, gets a call of its own. Every call starts the training
    stream at batch ``step``.
    """
    per_epoch = plan.config.steps_per_epoch
    stop = callbacks.stop
    if stop is not None and stop.judge():  # a rerun of a run that stopped: it stays stopped
        print(
            f"{plan.run_dir} stopped at step {step}: {stop.message}; nothing to train. Raise or "
            f"leave out --stop-at-accuracy / --patience to train on."
        )
        return step, stop.reason
    validation = validation_batches(plan)
    while step < plan.total_steps:
        epoch, offset = divmod(step, per_epoch)
        if offset or plan.total_steps - step < per_epoch:
            count, length = 1, min(per_epoch - offset, plan.total_steps - step)
        else:
            count, length = (plan.total_steps - step) // per_epoch, per_epoch
        with plan.strategy.scope():
            model.fit(
                training_stream(plan, skip=step),
                initial_epoch=epoch,
                epochs=epoch + count,
                steps_per_epoch=length,
                validation_data=validation,
                callbacks=callbacks.all,
                verbose=callbacks.verbose,
                shuffle=False,
            )  # the stream is shuffled already
        step = int(model.optimizer.iterations.numpy())
        if callbacks.guard.diverged:
            raise stops.TrainingDiverged(callbacks.guard.message)
        if stop is not None and stop.reason:
            print(f"stopped at step {step}: {stop.message}.")
            return step, stop.reason
        if callbacks.timer is not None and callbacks.timer.reached:
            return step, "time limit"
    return step, "done"


def training_stream(plan: Plan, skip: int) -> tf.data.Dataset:
    """The endless, seeded stream of training batches, from batch ``skip`` on.

    ``repeat=True`` reshuffles every pass with its own seed, so the order is
    the same whatever the strategy. With several workers each step consumes
    one batch per worker, and each worker reads every k-th batch.
    """
    stream = plan.batches(TRAIN_SPLIT, shuffle=True, repeat=True)
    stream = stream.skip(skip * worker_count(plan.strategy))
    return shard_by_batch(stream) if worker_count(plan.strategy) > 1 else stream


def validation_batches(plan: Plan) -> tf.data.Dataset | None:
    """The validation split's batches, or None for ``validation_examples=0``."""
    if plan.config.validation_examples == 0:
        return None
    batches = plan.batches(VALIDATION_SPLIT, shuffle=False)
    # A known length spares Keras a "ran out of data" warning after every validation.
    batches = batches.apply(tf.data.experimental.assert_cardinality(count_batches(batches)))
    return shard_by_batch(batches)  # several workers: each validates every k-th batch


# -- 5. finish ---------------------------------------------------------------------------------


def finish(model, plan: Plan) -> None:
    """Save the final model: the best checkpoint's weights if there is one, else the current ones.

    (With ``ema_momentum``, both are the moving average of the weights.)

    ``model.weights.h5`` holds the weights only; ``model.keras`` the whole
    model, uncompiled and in float32, so ``keras.models.load_model`` needs
    nothing but ``import tf_transformer`` (the optimizer's state lives in
    ``backup/`` alone). Both are written atomically.
    """
    best = plan.out / rd.BEST_WEIGHTS
    weights = plan.out / rd.WEIGHTS_FILE
    if best.is_file():
        files.load_weights(model, best)
        files.save_weights(model, weights)
    else:
        with metrics.averaged_weights(model):  # (what the checkpoints would have held)
            files.save_weights(model, weights)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        whole = Transformer(plan.model_config)
        whole.build()
        files.load_weights(whole, weights)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    with files.atomic_path(plan.out / rd.MODEL_FILE) as tmp:
        whole.save(str(tmp))
    if not plan.chief:
        shutil.rmtree(plan.out, ignore_errors=True)


def ensure_final_files(model, plan: Plan) -> None:
    """For a finished run: rewrite ``model.weights.h5`` / ``model.keras`` if they are missing or damaged."""
    if not plan.chief:
        return
    damaged = [name for name in (rd.WEIGHTS_FILE, rd.MODEL_FILE) if not _whole(plan.run_dir / name)]
    if damaged:
        source = rd.BEST_WEIGHTS if (plan.run_dir / rd.BEST_WEIGHTS).is_file() else "the backup"
        print(f"{', '.join(damaged)} missing or damaged: written again from {source}.")
        finish(model, plan)


def _whole(path: pathlib.Path) -> bool:
    """Whether a final file is there and readable to its end (HDF5 or zip)."""
    if not path.is_file():
        return False
    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is None
        except (OSError, zipfile.BadZipFile):
            return False
    import h5py

    def read(name, item):  # every array, to its last byte (returning None continues the visit)
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as weights:
            weights.visititems(read)
        return True
    except Exception:  # noqa: BLE001 (h5py raises OSError, KeyError, RuntimeError...)
        return False


def record_unfinished_epoch(model, plan: Plan, callbacks: Callbacks, step: int) -> None:
    """Validate and record the epoch that ends at ``step``, whose end an interruption cut off.

    A state saved during the epoch-end validation (a signal there) resumes at
    the epoch's last step with the epoch not yet validated, checkpointed or
    in the history: do that first, with the training metrics the backup kept.
    """
    epoch = (step - 1) // plan.config.steps_per_epoch
    print(f"epoch {epoch + 1} ended at step {step} but was not recorded: validating it first.")
    logs = callbacks.ledger.end_carried_epoch(epoch)  # (the sums the backup kept)
    validation = validation_batches(plan)
    if validation is not None:
        with plan.strategy.scope(), metrics.averaged_weights(model):
            scores = model.evaluate(validation, verbose=0, return_dict=True)
        logs.update({f"val_{name}": value for name, value in scores.items()})
    for callback in (callbacks.checkpoints, callbacks.history, callbacks.backup):
        callback.set_model(model)
    callbacks.checkpoints.save(logs)
    callbacks.history.record(epoch, step, logs)
    callbacks.backup.save()
