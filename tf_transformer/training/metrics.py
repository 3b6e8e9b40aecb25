"""What ``train`` measures and shows: real tokens and tokens/s, validation of the averaged weights, progress.

- ``RealTokens`` counts the real (non-padding) target tokens; ``TokenThroughput``
  turns that count into ``tokens_per_sec`` on the progress bar and in the history.
- ``averaged_weights`` swaps the optimizer's moving average of the weights
  (``ema_momentum``, ``AveragingAdam``) into the model for a block;
  ``AveragedValidation`` validates that average, which the checkpoints keep.
- ``results_from_sums`` turns metric sums (a metric's variables) into values.
- ``LineProgress`` prints progress as plain lines, for logs that are not a terminal.
"""

from __future__ import annotations

import contextlib
import sys
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


def results_from_sums(sums: dict) -> dict:
    """Metric values from their sums (a metric's variables): ``total / count`` for averages, the
    total for counters.

    >>> results_from_sums({"loss": [12.0, 4.0], "tokens": [350.0], "masked_accuracy": [0.0, 0.0]})
    {'loss': 3.0, 'tokens': 350.0, 'masked_accuracy': 0.0}
    """
    out = {}
    for name, values in sums.items():
        if len(values) == 2:
            out[name] = values[0] / values[1] if values[1] else 0.0
        elif len(values) == 1:
            out[name] = values[0]
    return out


def _moving_averages(model) -> list:
    """``(weight, average)`` pairs of the optimizer's moving averages (``AveragingAdam``); [] if none."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # (a LossScaleOptimizer's Adam)
    if not getattr(optimizer, "use_ema", False) or not getattr(optimizer, "built", False):
        return []
    # Keras's own SwapEMAWeights pairs them the same way; it swaps by adding and subtracting,
    # which rounds, where a copy through NumPy gives the weights back bit for bit.
    return list(zip(optimizer._trainable_variables, optimizer._model_variables_moving_average))


def _swap(pairs) -> None:
    for weight, average in pairs:
        value = weight.numpy()
        weight.assign(average)
        average.assign(value)


@contextlib.contextmanager
def averaged_weights(model):
    """Inside the block, ``model`` holds the moving average of its weights (if its optimizer keeps one).

    On leaving, the weights are exactly what they were. Without a moving
    average (``ema_momentum=0``) the block changes nothing.
    """
    pairs = _moving_averages(model)
    _swap(pairs)
    try:
        yield model
    finally:
        _swap(pairs)


class AveragedValidation(keras.callbacks.Callback):
    """Validates the moving average of the weights (``ema_momentum``), not the weights themselves."""

    def __init__(self):
        super().__init__()
        self._block = None

    def on_test_begin(self, logs=None):
        self._block = averaged_weights(self.model)
        self._block.__enter__()

    def on_test_end(self, logs=None):
        if self._block is not None:
            self._block, block = None, self._block
            block.__exit__(None, None, None)


class LineProgress(keras.callbacks.Callback):
    """Progress as plain lines, for logs that are not a terminal (CI, ``nohup``, a pipe).

    Keras's progress bar redraws itself with carriage returns and escape
    codes, which fill a log file; this prints one line every ``every`` steps
    and one per epoch (``every=None``: one per epoch only, what ``--verbose 2``
    shows instead of Keras's raw epoch lines). With the run's ``EpochLedger`` (``ledger``, anything
    with its ``sums_now``), a line within an epoch shows the whole epoch's averages so far, a
    resumed session's earlier steps included.
    """

    def __init__(self, total_steps: int, every: int | None, ledger=None):
        super().__init__()
        self.total_steps, self.every = total_steps, None if every is None else max(1, int(every))
        self.ledger = ledger
        self._start = time.monotonic()

    def _line(self, step, logs, prefix=""):
        shown = [
            f"{name} {logs[name]:.4f}"
            for name in ("loss", "masked_accuracy", "val_loss", "val_masked_accuracy")
            if name in logs
        ]
        if logs.get("tokens_per_sec"):
            shown.append(f"{logs['tokens_per_sec']:,.0f} tokens/s")
        minutes = (time.monotonic() - self._start) / 60
        print(f"{prefix}step {step}/{self.total_steps}  " + "  ".join(shown) + f"  ({minutes:.1f} min)")
        sys.stdout.flush()

    def on_train_batch_end(self, batch, logs=None):
        if self.every is None:
            return
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0:
            logs = dict(logs or {})
            if self.ledger is not None:  # (Keras averages this session's batches only)
                logs.update(results_from_sums(self.ledger.sums_now()))
            self._line(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._line(int(self.model.optimizer.iterations.numpy()), logs or {}, prefix=f"epoch {epoch + 1}: ")
