"""Exact resume: what a run keeps in its directory so that rerunning the same command continues it.

A rerun continues a run as if it had never stopped: the same optimizer
steps on the same batches, the same dropout masks, the same history.

- *The run already there.* ``previous_run`` reads its ``run.json``;
  ``check_same_run`` refuses other settings (they would make another run).
- *The backup.* ``StepBackup`` saves the whole training state (weights,
  optimizer, step counter, dropout's random streams) every ``backup_every``
  steps and at each epoch's end, and restores it before training;
  ``restored_state`` reads what came with it (``state.json``).
- *The epoch ledger.* ``EpochLedger`` keeps an epoch's metric sums across
  interruptions, so the epoch a run resumed in reports the whole epoch.
- *The history.* ``HistoryFile`` keeps one row per epoch in ``history.json``,
  resumed parts included.
- *The checkpoints.* ``Checkpoints`` keeps the latest and the best weights,
  the best judged over the whole history.

Their order among the callbacks matters (Keras calls them in list order):
the ledger before the callbacks that read an epoch's logs, and the backup
after the checkpoints and the history, so an epoch's state is saved only once
the epoch is validated and recorded.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

import keras

from tf_transformer import files
from tf_transformer import runs as rd
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import SIDES
from tf_transformer.training.metrics import averaged_weights, results_from_sums

# A history row's key (and state.json's) for an epoch whose metrics cover only the steps after
# this one: its earlier sums were in a backup/state.json that was lost.
COUNTED_FROM = "counted_from_step"


# -- the run already in the directory ----------------------------------------------------------


def previous_run(path: pathlib.Path, chief: bool) -> rd.RunInfo | None:
    """The run.json already in ``path`` (None for a new or empty directory)."""
    if not chief:  # the chief checks the directory (and may be writing it right now)
        return rd.read_run_info(path) if (path / rd.RUN_FILE).is_file() else None
    if path.exists() and (not path.is_dir() or any(p.name != rd.RunLock.NAME for p in path.iterdir())):
        return rd.read_run_info(path)  # raises for a foreign directory
    return None


def has_trained(path: pathlib.Path) -> bool:
    """Whether the run in ``path`` has taken a step (else its settings may still change)."""
    written = [rd.BACKUP_WEIGHTS, rd.HISTORY_FILE, rd.WEIGHTS_FILE]
    written += [rd.BEST_WEIGHTS, rd.LATEST_WEIGHTS]
    return any((path / name).exists() for name in written)


def check_same_run(path, previous: rd.RunInfo, config, model_config: TransformerConfig, vocab_files) -> None:
    """Refuse to continue the run in ``path`` (its ``run.json``: ``previous``) with other settings
    (a ``TrainConfig``), other model sizes or another prepared vocabulary."""
    changed = config.differences(previous.train)
    if previous.model != model_config:  # (fields added later: defaults)
        changed.append("other model sizes")
    for side in SIDES:  # the same sizes, other tokens: the prepared vocabulary was learned again
        recorded = previous.vocab_digest(side)
        own = path / previous.vocab[side]
        if not recorded and own.is_file():  # (a run from before the digests: its own copy)
            recorded = files.sha256(own)
        if recorded and files.sha256(vocab_files[side]) != recorded:
            changed.append(
                f"the prepared {side} vocabulary {vocab_files[side]} is not the one it trained with"
            )
    if changed:
        raise _different_run(path, changed)


def check_same_corpus(path, previous: rd.RunInfo, data_dir) -> None:
    """Refuse to continue the run in ``path`` on a local corpus whose files changed since it began
    (checked first: the changed corpus may not even have vocabularies yet)."""
    change = rd.corpus_change(previous, data_dir)
    if change:
        raise _different_run(path, [change])


def _different_run(path, changed: list[str]) -> ValueError:
    return ValueError(
        f"{path} holds a different run ({'; '.join(changed)}). To resume it, repeat its "
        f"arguments (see {path / rd.RUN_FILE}); to start a new run, pass another --run-dir."
    )


# -- the backup --------------------------------------------------------------------------------


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

    @classmethod
    def saved_at(cls, backup_dir, info: dict) -> str:
        """When the restored state was saved: its ``state.json``'s time (``info``), else its file's."""
        if info.get("saved_at"):
            return info["saved_at"]
        mtime = (pathlib.Path(backup_dir) / cls.FILE).stat().st_mtime
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mtime))

    def save(self):
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


def restored_state(backup_dir, step: int, steps_per_epoch: int, total_steps: int) -> dict:
    """What came with the state restored at ``step``: its ``state.json`` ({} for a new run).

    A ``state.json`` that is missing, damaged or from another step loses
    the running epoch's sums before ``step``. Mid-epoch, the state then says
    where that epoch's sums begin (``counted_from_step``, which its history row
    will carry), and a warning says so.
    """
    state, problem = StepBackup.check_info(backup_dir, step) if step else ({}, None)
    if problem and step % steps_per_epoch and step < total_steps:  # (mid-epoch: its sums are lost)
        epoch = step // steps_per_epoch
        state = {"epoch": epoch, COUNTED_FROM: step}
        print(
            f"warning: {pathlib.Path(backup_dir) / StepBackup.INFO} {problem}: epoch {epoch + 1}'s "
            f"metrics before step {step} are lost. Training resumes from the saved state; that "
            f"epoch's row in {rd.HISTORY_FILE} counts its steps after {step} only, and says so "
            f'("{COUNTED_FROM}": {step}).',
            file=sys.stderr,
        )
    return state


# -- the epoch ledger --------------------------------------------------------------------------


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

    Args:
        saved: the restored state's ``state.json`` (``restored_state``; {} for a
            new run): the epoch it stopped in and that epoch's sums so far.
    """

    def __init__(self, saved: dict | None = None):
        super().__init__()
        saved = saved or {}
        self.carried = dict(saved.get("sums") or {})
        self.carried_epoch = saved.get("epoch")
        self.epoch = self.carried_epoch or 0
        self.final = None  # the epoch's training sums, taken at its last batch (before validation)
        # Where the carried epoch's sums begin when its earlier ones were lost (a backup whose
        # state.json was damaged): its row says so ("counted_from_step"), never silently.
        self.counted_from = saved.get(COUNTED_FROM)

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

    def end_carried_epoch(self, epoch: int) -> dict:
        """The restored state is at ``epoch``'s last step, but the epoch was never validated or
        recorded (a signal during its validation): take the carried sums as the epoch's final
        ones, which the backup saves again, and return its training metrics ({} if they are lost)."""
        logs = results_from_sums(self.carried) if self.carried_epoch == epoch else {}
        self.epoch, self.final = epoch, self.carried
        return logs

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.final = epoch, None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.params.get("steps") or self.model.stop_training:
            self.final = self.sums_now()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.final is not None:
            logs.update(results_from_sums(self.final))
            if self.counted_from_step() is not None:
                logs[COUNTED_FROM] = self.counted_from_step()


# -- the history -------------------------------------------------------------------------------


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
        up_to_step: the restored state's step: rows after it (recorded by a
            later state that was lost) are dropped, to be trained again.
    """

    def __init__(self, path, steps_per_epoch=None, write=True, up_to_step: int | None = None):
        super().__init__()
        self.path = pathlib.Path(path)
        self.steps_per_epoch = steps_per_epoch
        self.write = write
        self.epochs = [e for e in read_history(self.path) if up_to_step is None or e["step"] <= up_to_step]

    def lowest(self, name: str) -> float | None:
        """The lowest ``name`` (``val_loss``...) of the recorded epochs (None if none has it)."""
        return min((e[name] for e in self.epochs if name in e), default=None)

    def ends_unrecorded_epoch(self, step: int, total_steps: int) -> bool:
        """Whether a state restored at ``step`` ends an epoch that has no row: saved at the
        epoch's end, but before the epoch was validated and recorded (a signal during validation)."""
        if not step or any(e["step"] == step for e in self.epochs):
            return False
        return step % self.steps_per_epoch == 0 or step >= total_steps

    def record(self, epoch: int, step: int, logs: dict) -> None:
        entry = {"epoch": epoch + 1, "step": step}
        if self.steps_per_epoch and step % self.steps_per_epoch:
            entry["partial"] = True
        entry.update({k: int(v) if k == COUNTED_FROM else float(v) for k, v in (logs or {}).items()})
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch + 1 and e["step"] < step] + [entry]
        if self.write:
            files.write_text(self.path, json.dumps(self.epochs, indent=1) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        self.record(epoch, int(self.model.optimizer.iterations.numpy()), logs)


def read_history(path):
    """The epochs recorded in a ``history.json`` (an empty list if there is none yet)."""
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else []


# -- the checkpoints ---------------------------------------------------------------------------


class Checkpoints(keras.callbacks.Callback):
    """``checkpoints/latest`` at every epoch end, ``checkpoints/best`` when ``monitor`` improves.

    Both hold the model's weights only (no optimizer state: that is
    ``backup/``'s job), written atomically: with ``ema_momentum``, their
    moving average, which is what validation measured. A resumed run passes
    the best value its history holds (``HistoryFile.lowest``) as ``best_value``.
    """

    def __init__(self, latest, best, monitor="val_loss", best_value=None, write=True):
        super().__init__()
        self.latest, self.best, self.monitor = pathlib.Path(latest), pathlib.Path(best), monitor
        self.best_value = best_value
        self.write = write

    def save(self, logs: dict | None) -> None:
        """Write ``latest``, and ``best`` too if ``logs`` (an epoch's) improve on ``best_value``."""
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

    def on_epoch_end(self, epoch, logs=None):
        self.save(logs)
