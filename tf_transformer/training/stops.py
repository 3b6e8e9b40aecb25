"""Why ``train`` stops before its last step: a NaN loss, a time limit, a signal, a quality target.

- ``TerminateOnNaN`` stops at the first non-finite loss (``train`` then raises
  ``TrainingDiverged``), before a NaN state is saved.
- ``TimeLimit`` stops after ``max_minutes`` of wall time.
- ``Interrupts`` turns SIGINT, SIGTERM and SIGHUP into a stop that saves the
  state first (``TrainingInterrupted``).
- ``QualityStop`` stops at an epoch end once the recorded history reaches
  ``stop_at_accuracy`` or has not improved for ``patience`` epoch ends.

Each stop ends training at a step whose state is saved (``resume``), so
rerunning the same command continues from there.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from tf_transformer.training.resume import HistoryFile, StepBackup


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
