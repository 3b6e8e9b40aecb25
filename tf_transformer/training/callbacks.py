"""Callbacks for ``train``: throughput, resumable backups, NaN and time guards, checkpoints.

Order matters: Keras calls callbacks in list order and appends its progress
bar last, so what ``TokenThroughput`` writes into ``logs`` shows in the bar,
in TensorBoard and in the history.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import time

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_transformer")
class RealTokens(keras.metrics.Metric):
    """How many real (non-padding) target tokens the epoch has processed so far."""

    def __init__(self, name="tokens", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(tf.reduce_sum(tf.cast(tf.not_equal(y_true, 0), tf.float32)))

    def result(self):
        return self.total

    def reset_state(self):
        self.total.assign(0.0)


class TokenThroughput(keras.callbacks.Callback):
    """Adds ``tokens_per_sec`` (real target tokens per second) to the batch and epoch logs.

    Reads the ``tokens`` metric (``RealTokens``). The clock starts after the
    epoch's first batch, so tracing and compilation do not count.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._tokens0, self._rate, self._tokens = time.perf_counter(), 0.0, 0.0, 0.0
        self._first = True

    def on_train_batch_end(self, batch, logs=None):
        if logs is None or "tokens" not in logs:
            return
        now, tokens = time.perf_counter(), float(logs.pop("tokens"))  # the count itself is noise in the bar
        if now > self._start:
            self._rate = (tokens - self._tokens0) / (now - self._start)
        if self._first:  # restart the clock: the first batch paid for tracing
            self._start, self._tokens0, self._first = now, tokens, False
        logs["tokens_per_sec"] = self._rate
        self._tokens = tokens

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["tokens_per_sec"] = self._rate
            logs["tokens"] = self._tokens


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class TerminateOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and says what to try.

    ``train`` raises ``TrainingDiverged`` with ``message`` afterwards; the
    backups and checkpoints written before the divergence are kept, and no
    NaN weights are saved over them (``StepBackup`` checks ``diverged``).
    """

    def __init__(self):
        super().__init__()
        self.message = None

    @property
    def diverged(self):
        return self.message is not None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and not self.diverged:
            step = int(self.model.optimizer.iterations.numpy())
            self.message = (
                f"training diverged: the loss became {float(loss)} at optimizer step {step}. "
                f"Lower the learning rate (--lr-scale 0.5), lengthen the warm-up (--warmup-steps), "
                f"or train in float32/bf16 instead of fp16. The last good state is kept in "
                f"backup/ and checkpoints/ (rerunning the same command resumes from it)."
            )
            print(f"\n{self.message}", flush=True)
            self.model.stop_training = True


class TimeLimit(keras.callbacks.Callback):
    """Stops training (after the current batch) once ``minutes`` of wall time have passed."""

    def __init__(self, minutes, start=None):
        super().__init__()
        self.seconds = 60.0 * minutes
        self.start = time.monotonic() if start is None else start
        self.reached = False

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            self.reached = True
            self.model.stop_training = True


class StepBackup(keras.callbacks.Callback):
    """Saves the whole training state every ``every`` steps and at each epoch end.

    The state is the model's and the optimizer's variables (including the
    step counter ``optimizer.iterations``) in ``backup/state.weights.h5``.
    ``train`` restores it before ``fit`` and skips the batches that were
    already used, so a resumed run continues mid-epoch and makes exactly the
    optimizer steps an uninterrupted run would. Unlike
    ``keras.callbacks.BackupAndRestore``, which restarts the interrupted
    epoch from its first batch, no step is repeated.

    Writes are atomic (temporary file, then rename), so a kill during a save
    leaves the previous state intact.

    Args:
        backup_dir: where the state lives.
        every: save every this many optimizer steps (0: only at epoch ends).
        guard: a ``TerminateOnNaN``; nothing is saved once it has fired.
        write: False on non-chief workers of a multi-worker run.
    """

    FILE = "state.weights.h5"

    def __init__(self, backup_dir, every=100, guard=None, write=True):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.every = int(every)
        self.guard = guard
        self.write = write

    @classmethod
    def restore(cls, model, backup_dir) -> int:
        """Load a saved state into ``model`` (compiled, built); return its optimizer step (0 if none)."""
        path = pathlib.Path(backup_dir) / cls.FILE
        if not path.is_file():
            return 0
        model.optimizer.build(model.trainable_variables)
        model.load_weights(str(path))
        return int(model.optimizer.iterations.numpy())

    def save(self):
        if not self.write or (self.guard is not None and self.guard.diverged):
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.backup_dir / f"tmp-{os.getpid()}.weights.h5"
        self.model.save_weights(str(tmp))
        tmp.replace(self.backup_dir / self.FILE)

    def on_train_batch_end(self, batch, logs=None):
        if self.every and int(self.model.optimizer.iterations.numpy()) % self.every == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()


class HistoryFile(keras.callbacks.Callback):
    """Appends each epoch's logs (with its epoch number and optimizer step) to ``history.json``.

    Unlike ``model.fit``'s ``History``, it survives interruptions: a resumed
    run's epochs are added to the earlier ones.
    """

    def __init__(self, path, write=True):
        super().__init__()
        self.path = pathlib.Path(path)
        self.write = write
        self.epochs = read_history(self.path)

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy())}
        entry.update({k: float(v) for k, v in (logs or {}).items()})
        self.epochs.append(entry)
        if self.write:
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.epochs, indent=1) + "\n")
            tmp.replace(self.path)


def read_history(path):
    """The epochs recorded in a ``history.json`` (an empty list if there is none yet)."""
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else []
