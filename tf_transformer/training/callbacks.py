"""Callbacks for ``train``: throughput, guards, whole-epoch metrics, checkpoints, history, backups, stops.

Order matters: Keras calls callbacks in list order and appends its progress
bar last. ``train`` passes them as: the guards (NaN, time limit, signals),
``TokenThroughput``, ``EpochLedger`` (whole-epoch metrics), ``AveragedValidation``
(with ``ema_momentum``), ``Checkpoints``,
TensorBoard, ``HistoryFile``, then ``StepBackup``, so an epoch's state is
saved only after the epoch is validated and recorded, and ``QualityStop``
last, so training stops only at an epoch end that is saved.
"""

from __future__ import annotations

import contextlib
import json
import math
import pathlib
import sys
import time

import keras
import tensorflow as tf

from tf_transformer import run_dir as rd

# A history row's key (and state.json's) for an epoch whose metrics cover only the steps after
# this one: its earlier sums were in a backup/state.json that was lost.
COUNTED_FROM = "counted_from_step"


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


class EpochLedger(keras.callbacks.Callback):
    """Keeps an epoch's training metrics whole across interruptions.

    Keras averages ``loss`` and ``masked_accuracy`` over the batches of the
    current ``fit`` call only, so the epoch a run resumed in would report the
    mean of the batches after the resume. The ledger reads the metrics' sums
    (their variables: ``total``/``count``, ``correct``/``count``...), which
    ``StepBackup`` stores next to each saved state, and adds the sums carried
    over from the interrupted session, so an epoch's row in ``history.json``
    always covers the whole epoch.

    Place it after the guards (``TimeLimit`` may stop an epoch early) and
    before the callbacks that read the epoch's logs.
    """

    def __init__(
        self,
        carried: dict | None = None,
        carried_epoch: int | None = None,
        counted_from: int | None = None,
    ):
        super().__init__()
        self.carried = dict(carried or {})
        self.carried_epoch = carried_epoch
        self.epoch = carried_epoch or 0
        self.final = None  # the epoch's training sums, taken at its last batch (before validation)
        # Where the carried epoch's sums begin when its earlier ones were lost (a backup whose
        # state.json was damaged): its row says so ("counted_from_step"), never silently.
        self.counted_from = counted_from

    def counted_from_step(self) -> int | None:
        """The step the running epoch's sums begin after, when they do not cover all of it."""
        return self.counted_from if self.epoch == self.carried_epoch else None

    def metrics(self) -> dict:
        """The model's metric objects by name, compiled metrics unpacked."""
        found = {}
        for metric in self.model.metrics:
            for inner in getattr(metric, "metrics", None) or [metric]:
                found[inner.name] = inner
        return found

    def sums_now(self) -> dict:
        """The current epoch's sums so far: this session's plus the carried ones."""
        sums = {}
        for name, metric in self.metrics().items():
            values = [float(v.numpy()) for v in metric.variables]
            carried = self.carried.get(name) if self.epoch == self.carried_epoch else None
            if carried is not None and len(carried) == len(values):
                values = [a + b for a, b in zip(values, carried)]
            sums[name] = values
        return sums

    def epoch_sums(self) -> dict:
        """The sums to save now: during validation, the ones taken at the epoch's last batch."""
        return self.final if self.final is not None else self.sums_now()

    @staticmethod
    def results(sums: dict) -> dict:
        """Metric values from sums: ``total / count`` for averages, the total for counters."""
        out = {}
        for name, values in sums.items():
            if len(values) == 2:
                out[name] = values[0] / values[1] if values[1] else 0.0
            elif len(values) == 1:
                out[name] = values[0]
        return out

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.final = epoch, None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.params.get("steps") or self.model.stop_training:
            self.final = self.sums_now()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.final is not None:
            logs.update(self.results(self.final))
            if self.counted_from_step() is not None:
                logs[COUNTED_FROM] = self.counted_from_step()


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


class Checkpoints(keras.callbacks.Callback):
    """``checkpoints/latest`` at every epoch end, ``checkpoints/best`` when ``monitor`` improves.

    Both hold the model's weights only (no optimizer state: that is
    ``backup/``'s job), written atomically: with ``ema_momentum``, their
    moving average, which is what validation measured.
    """

    def __init__(self, latest, best, monitor="val_loss", best_value=None, write=True):
        super().__init__()
        self.latest, self.best, self.monitor = pathlib.Path(latest), pathlib.Path(best), monitor
        self.best_value = best_value
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        from tf_transformer import files

        if not self.write:
            return
        value = (logs or {}).get(self.monitor)
        better = (
            value is not None
            and math.isfinite(value)
            and (self.best_value is None or value < self.best_value)
        )
        with averaged_weights(self.model):  # (serialized once for both files)
            files.save_weights(self.model, self.latest, *([self.best] if better else []))
        if better:
            self.best_value = float(value)


class StepBackup(keras.callbacks.Callback):
    """Saves the whole training state every ``every`` steps and at each epoch's end.

    The state is the model's and the optimizer's variables (including the
    step counter ``optimizer.iterations``) in ``backup/state.weights.h5``,
    and, in ``backup/state.json``, the running epoch's metric sums
    (``EpochLedger``) and the dropout layers' random-stream states (which
    weights files leave out). ``train`` restores it before ``fit`` and skips the
    batches that were already used, so a resumed run continues mid-epoch
    and makes exactly the optimizer steps an uninterrupted run would. Unlike
    ``keras.callbacks.BackupAndRestore``, which restarts the interrupted
    epoch from its first batch, no step is repeated.

    An epoch's last step is saved at the epoch's end, after validation, the
    checkpoints and the history row (put this callback after those), never
    before: a state saved between the two would resume in the next epoch and
    the finished epoch would never be validated or recorded.

    Writes are atomic (temporary file, then rename), so a kill during a save
    leaves the previous state intact.

    Args:
        backup_dir: where the state lives.
        every: save every this many optimizer steps (0: only at epoch ends).
        guard: a ``TerminateOnNaN``; nothing is saved once it has fired.
        write: False on non-chief workers of a multi-worker run.
        ledger: the ``EpochLedger`` whose sums are saved with the state.
    """

    FILE = pathlib.PurePath(rd.BACKUP_WEIGHTS).name  # state.weights.h5
    INFO = "state.json"

    def __init__(self, backup_dir, every=100, guard=None, write=True, ledger=None):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.every = int(every)
        self.guard = guard
        self.write = write
        self.ledger = ledger

    @classmethod
    def restore(cls, model, backup_dir) -> int:
        """Load a saved state into ``model`` (compiled, built); return its optimizer step (0 if none)."""
        from tf_transformer import files

        path = pathlib.Path(backup_dir) / cls.FILE
        if not path.is_file():
            return 0
        model.optimizer.build(model.trainable_variables)
        try:
            files.load_weights(model, path)
        except Exception as err:  # noqa: BLE001 (h5py and Keras raise many kinds)
            raise ValueError(
                f"{path} is damaged and cannot be resumed from ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}). Move it away to restart "
                f"training from step 0 (checkpoints/ keeps the finished epochs' weights)."
            ) from err
        step = int(model.optimizer.iterations.numpy())
        info = cls.read_info(backup_dir)
        seeds = _seed_states(model)
        if info.get("step") == step and len(info.get("seeds", [])) == len(seeds):
            for variable, value in zip(seeds, info["seeds"]):
                variable.assign(value)
        elif seeds:
            print(
                f"warning: {path.parent / cls.INFO} does not match the saved state; dropout "
                f"continues with other random masks than an uninterrupted run would."
            )
        return step

    @classmethod
    def read_info(cls, backup_dir) -> dict:
        """``state.json``: the saved step, its epoch's metric sums and when it was saved ({} if none)."""
        return cls.check_info(backup_dir)[0]

    @classmethod
    def check_info(cls, backup_dir, step: int | None = None) -> tuple[dict, str | None]:
        """``(state.json's content or {}, what is wrong with it or None)``; with ``step``, the
        saved state's step, which it must name."""
        path = pathlib.Path(backup_dir) / cls.INFO
        try:
            info = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return {}, "is missing"
        except OSError as err:
            return {}, f"cannot be read ({err.strerror or err})"
        except ValueError as err:  # (not UTF-8, not JSON: cut short, overwritten)
            return {}, f"is damaged ({rd.short_reason(err)})"
        if not isinstance(info, dict) or not isinstance(info.get("step"), int):
            return {}, "is damaged (no step in it)"
        if step is not None and info["step"] != step:
            return {}, f"is from step {info['step']}, not the saved state's {step} (a save cut short)"
        return info, None

    def save(self):
        from tf_transformer import files

        if not self.write or (self.guard is not None and self.guard.diverged):
            return
        step = int(self.model.optimizer.iterations.numpy())
        info = {
            "step": step,
            "epoch": self.ledger.epoch if self.ledger else None,
            "sums": self.ledger.epoch_sums() if self.ledger else {},
            COUNTED_FROM: self.ledger.counted_from_step() if self.ledger else None,
            "seeds": [[int(x) for x in v.numpy()] for v in _seed_states(self.model)],
            "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        files.save_weights(self.model, self.backup_dir / self.FILE, optimizer=True)
        files.write_text(self.backup_dir / self.INFO, json.dumps(info) + "\n")

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.params.get("steps"):
            return  # the epoch's last step: saved at the epoch's end, once it is recorded
        if self.every and int(self.model.optimizer.iterations.numpy()) % self.every == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()


def _seed_states(model) -> list:
    """The dropout layers' random-stream states, which Keras's weights files leave out.

    Each ``keras.random.SeedGenerator`` advances its state at every call;
    a resumed run must continue the stream where it stopped to draw the
    masks an uninterrupted run would draw.
    """
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class HistoryFile(keras.callbacks.Callback):
    """Records each epoch's logs (with its epoch number and optimizer step) in ``history.json``.

    Unlike ``model.fit``'s ``History``, it survives interruptions: a resumed
    run's epochs are added to the earlier ones. One row per epoch: an epoch
    that a time limit cut short gets a row marked ``"partial": true``, which
    the rest of that epoch replaces when the run is continued.

    Args:
        path: the ``history.json`` file.
        steps_per_epoch: to tell a whole epoch from a cut one.
        write: False on non-chief workers.
    """

    def __init__(self, path, steps_per_epoch=None, write=True):
        super().__init__()
        self.path = pathlib.Path(path)
        self.steps_per_epoch = steps_per_epoch
        self.write = write
        self.epochs = read_history(self.path)

    def record(self, epoch: int, step: int, logs: dict) -> None:
        entry = {"epoch": epoch + 1, "step": step}
        if self.steps_per_epoch and step % self.steps_per_epoch:
            entry["partial"] = True
        entry.update({k: int(v) if k == COUNTED_FROM else float(v) for k, v in (logs or {}).items()})
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch + 1 and e["step"] < step] + [entry]
        if self.write:
            from tf_transformer import files

            files.write_text(self.path, json.dumps(self.epochs, indent=1) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        self.record(epoch, int(self.model.optimizer.iterations.numpy()), logs)


def read_history(path):
    """The epochs recorded in a ``history.json`` (an empty list if there is none yet)."""
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else []


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT or SIGTERM, after saving its state at ``step``."""

    def __init__(self, step: int, signum: int, chief: bool = True):
        self.step, self.signum = step, signum
        if chief:
            message = f"interrupted at step {step}; state saved; run the same command to resume"
        else:
            message = (
                f"interrupted at step {step}; the chief saved the state; run the same command "
                f"on every worker to resume"
            )
        super().__init__(message)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it (130, 143, 129)."""
        return 128 + self.signum


class Interrupts(keras.callbacks.Callback):
    """Turns SIGINT (Ctrl-C), SIGTERM and SIGHUP (its terminal closed) into a clean stop that
    saves the state first.

    Used as a context manager around training, it installs handlers that only
    note the signal; at the end of the current step (or validation batch)
    the callback saves the backup at that step and raises
    ``TrainingInterrupted``. A second signal ends the process at once (the
    default action is restored after the first), leaving the last backup.
    Outside the main thread, where Python cannot install handlers, it does nothing.

    Args:
        backup: the ``StepBackup`` that saves the state.
        agree: for a multi-worker run, ``strategy.signal_agreement(strategy)``:
            after every step the workers agree whether any of them got a
            signal, so that all stop and save at the same step (the chief
            into the run directory). A signal during validation then stops
            them at the next step.
        chief: False on the other workers (their saves go to a scratch directory).
    """

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, backup: StepBackup, agree=None, chief: bool = True):
        super().__init__()
        self.backup = backup
        self.agree = agree
        self.chief = chief
        self.signum = None
        self._previous = {}

    def __enter__(self) -> Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _note(self, signum, frame):
        import signal

        self.signum = signum
        for other in self._previous:
            signal.signal(other, signal.SIG_DFL)  # a second signal ends the process at once
        with contextlib.suppress(OSError):  # (after SIGHUP the terminal may be gone)
            print(
                f"\n{signal.Signals(signum).name} received: stopping after this step and saving the "
                f"state (press Ctrl-C again to abort at once).",
                file=sys.stderr,
                flush=True,
            )

    def stop_if_signalled(self):
        """Save at the current step and raise ``TrainingInterrupted`` if a signal came.

        Every worker of a multi-worker run must call this at the same steps.
        """
        signum = self.agree(self.signum) if self.agree is not None else self.signum
        if signum is None:
            return
        step = int(self.model.optimizer.iterations.numpy())
        self.backup.save()  # on every worker: saving reads distributed variables, a collective
        raise TrainingInterrupted(step, signum, chief=self.chief)

    def on_train_batch_end(self, batch, logs=None):
        self.stop_if_signalled()

    def on_test_batch_end(self, batch, logs=None):
        if self.agree is None:  # (workers may see different numbers of validation batches)
            self.stop_if_signalled()


class LineProgress(keras.callbacks.Callback):
    """Progress as plain lines, for logs that are not a terminal (CI, ``nohup``, a pipe).

    Keras's progress bar redraws itself with carriage returns and escape
    codes, which fill a log file; this prints one line every ``every`` steps
    and one per epoch (``every=None``: one per epoch only, what ``--verbose 2``
    shows instead of Keras's raw epoch lines). With the run's ``EpochLedger``, a line within an
    epoch shows the whole epoch's averages so far, a resumed session's earlier steps included.
    """

    def __init__(self, total_steps: int, every: int | None, ledger: EpochLedger | None = None):
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
                logs.update(EpochLedger.results(self.ledger.sums_now()))
            self._line(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._line(int(self.model.optimizer.iterations.numpy()), logs or {}, prefix=f"epoch {epoch + 1}: ")


class QualityStop(keras.callbacks.Callback):
    """Stops training at an epoch end once the model is good enough, or has stopped improving.

    It judges the run's whole history (``HistoryFile``'s rows, resumed parts
    included) at each epoch end, after the epoch is validated, checkpointed,
    recorded and backed up (put it after ``StepBackup``), so the stopped run's
    last state is complete. Judging the recorded history, not a count kept in
    memory, makes a rerun agree with the run it continues: ``train`` asks
    ``judge`` before training, so a run that stopped stays stopped, and one
    interrupted while waiting for an improvement keeps its count.

    Args:
        history: the run's ``HistoryFile``.
        accuracy: stop once the last epoch's ``{prefix}masked_accuracy`` is at
            least this (None: never).
        patience: stop once this many epoch ends in a row have brought no new
            lowest ``{prefix}loss`` (None: never).
        prefix: ``"val_"`` to judge the validation metrics, ``""`` for the
            training ones (a run without validation).
    """

    QUALITY, NO_IMPROVEMENT = "quality reached", "no improvement"

    def __init__(self, history: HistoryFile, accuracy=None, patience=None, prefix="val_"):
        super().__init__()
        self.history, self.accuracy, self.patience, self.prefix = history, accuracy, patience, prefix
        self.reason = None  # QUALITY or NO_IMPROVEMENT once it has stopped training
        self.message = None  # the numbers behind the reason

    def judge(self) -> str | None:
        """Why the history says to stop (``QUALITY``, ``NO_IMPROVEMENT``), or None; sets ``reason``."""
        rows, accuracy, loss = self.history.epochs, self.prefix + "masked_accuracy", self.prefix + "loss"
        if self.accuracy is not None and rows and rows[-1].get(accuracy, -1.0) >= self.accuracy:
            last = rows[-1]
            self.reason = self.QUALITY
            self.message = (
                f"{accuracy} {last[accuracy]:.4f} reached the target {self.accuracy:g} at epoch "
                f"{last['epoch']} (step {last['step']})"
            )
        elif self.patience is not None:
            judged = [row for row in rows if math.isfinite(row.get(loss, math.nan))]
            # The first lowest value: a tie is no improvement.
            best = min(range(len(judged)), key=lambda i: judged[i][loss], default=None)
            if best is not None and len(judged) - 1 - best >= self.patience:
                self.reason = self.NO_IMPROVEMENT
                self.message = (
                    f"{loss} has not improved on {judged[best][loss]:.4f} (epoch {judged[best]['epoch']}) "
                    f"in {len(judged) - 1 - best} epoch ends (patience {self.patience})"
                )
        return self.reason

    def on_epoch_end(self, epoch, logs=None):
        if self.judge() is not None:
            self.model.stop_training = True
