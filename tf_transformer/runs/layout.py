"""Where each file of a run directory lives, which weights file each ``--weights`` picks, and
what to say when one is missing or damaged.

Example:
    >>> BEST_WEIGHTS, WEIGHTS_FLAGS[BEST_WEIGHTS]
    ('checkpoints/best.weights.h5', '--weights best')
    >>> rerun_with(LATEST_WEIGHTS)
    'rerun with --weights latest'
"""

from __future__ import annotations

import pathlib
import re

RUN_FILE = "run.json"
VOCAB_DIR = "vocab"
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"
CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = f"{CHECKPOINT_DIR}/best.weights.h5"
LATEST_WEIGHTS = f"{CHECKPOINT_DIR}/latest.weights.h5"
BACKUP_DIR = "backup"
BACKUP_WEIGHTS = f"{BACKUP_DIR}/state.weights.h5"  # written by training.resume.StepBackup
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"  # written by inference.evaluate
LOG_DIR = "logs"

# ``load_run``'s ``weights`` (``--weights``): the files each name means, first present one wins.
# None, the default, is the finished run's file, else the best checkpoint of an unfinished run.
WEIGHTS_CHOICES = {
    None: (WEIGHTS_FILE, BEST_WEIGHTS, LATEST_WEIGHTS),
    "best": (BEST_WEIGHTS, WEIGHTS_FILE),  # (a finished run's model.weights.h5 is its best checkpoint)
    "latest": (LATEST_WEIGHTS,),
    "backup": (BACKUP_WEIGHTS,),
}
# The weights files a run may hold, and the command-line flag that picks each ("": the default).
WEIGHTS_FLAGS = {
    WEIGHTS_FILE: "",
    BEST_WEIGHTS: "--weights best",
    LATEST_WEIGHTS: "--weights latest",
    BACKUP_WEIGHTS: "--weights backup",
}


class DamagedRunError(ValueError):
    """A file of a run directory is unreadable, malformed or inconsistent; the message names it."""


def train_first(run_dir) -> str:
    """What to do about a run directory that does not exist (yet)."""
    return f"run `tf-transformer train --run-dir {run_dir}` first"


def restore_advice(run_dir) -> str:
    """What to do about a damaged file that nothing in the run can replace."""
    return f"restore it from a copy of {run_dir}, or train a new run into another --run-dir"


def rerun_with(weights_name: str) -> str:
    """``"rerun with --weights latest"`` for ``LATEST_WEIGHTS`` (see ``WEIGHTS_FLAGS``)."""
    flag = WEIGHTS_FLAGS[weights_name]
    return f"rerun with {flag}" if flag else "rerun without --weights"


def weights_path(run_dir, weights: str | None = None) -> pathlib.Path:
    """The weights file ``load_run`` reads for ``weights``.

    ``None`` (the default): ``model.weights.h5`` of a finished run, else the
    best checkpoint of an unfinished one. ``"best"``: the best checkpoint
    (``model.weights.h5`` if there is none). ``"latest"``: the last epoch's
    checkpoint. ``"backup"``: the state saved every few steps (mid-epoch).
    Anything else is a path to a ``.weights.h5`` file.

    Raises:
        FileNotFoundError: no such file; the message names a weights file the run does hold.
    """
    path = pathlib.Path(run_dir)
    if weights in WEIGHTS_CHOICES:
        candidates = [path / name for name in WEIGHTS_CHOICES[weights]]
    else:
        if not str(weights).endswith(".weights.h5"):
            raise ValueError(
                f"--weights takes best, latest, backup or the path of a .weights.h5 file, got {weights!r}."
            )
        candidates = [pathlib.Path(weights)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    if weights not in WEIGHTS_CHOICES:
        raise FileNotFoundError(f"{looked} does not exist.")
    others = [name for name in WEIGHTS_FLAGS if (path / name).is_file()]
    if others:
        hint = f"{others[0]} exists: {rerun_with(others[0])}"
        if others[0] == BACKUP_WEIGHTS:
            hint += " (the state of an unfinished epoch), or let training finish an epoch"
    else:
        hint = f"let training finish at least one epoch: {train_first(path)}"
    what = "finished or checkpointed" if weights is None else repr(weights)
    raise FileNotFoundError(f"{path} holds no {what} weights (looked for {looked}); {hint}.")


def short_reason(err: BaseException) -> str:
    """An exception as a short phrase on one line (h5py's and Keras's messages are long)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = text.split("List of objects that could not be loaded")[0]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip()).rstrip(".")
    opened = re.fullmatch(r"Unable to (?:synchronously )?open \w+ \((.*)\)", text)
    text = opened.group(1) if opened else text or type(err).__name__
    truncated = re.fullmatch(r"truncated file: eof = (\d+), .*stored_eof = (\d+)", text)
    if truncated:
        text = f"truncated: {truncated.group(1)} of {truncated.group(2)} bytes"
    elif text == "file signature not found":
        text = "not an HDF5 file"
    return text if len(text) <= 200 else text[:197] + "..."
