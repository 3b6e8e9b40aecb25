"""The run directory: everything a trained model needs, in one folder.

``tf-transformer train --run-dir DIR`` writes it; ``evaluate``, ``translate``
and ``export`` read it back with ``load_run(DIR)`` and need nothing else.
Training and inference both stand on this package and on nothing of each
other: ``tf_transformer.inference`` never imports ``tf_transformer.training``.

Layout (``layout``: the names; ``info``: ``run.json``; ``loading``: ``load_run``;
``lock``: one training at a time)::

    DIR/
      run.json            what was trained, on what, how: a RunInfo (see ``info``)
      vocab/source.txt    copies of the tokenizer vocabularies (.txt: WordPiece,
      vocab/target.txt    .model: SentencePiece), so the run stays usable if
                          the prepared data changes or moves
      model.keras         the finished model (best validation loss), whole
      model.weights.h5    the same weights alone (what load_run reads)
      checkpoints/
        best.weights.h5   lowest validation loss so far (written each epoch)
        latest.weights.h5 end of the last finished epoch
      backup/             the model and optimizer state every few steps
        state.weights.h5  (``training.resume.StepBackup``); a rerun of
                          the same command resumes from it, mid-epoch included
      history.json        per-epoch metrics of the whole run (all sessions)
      metrics.json        evaluate's scores, one entry per split and search
      logs/               TensorBoard: loss, accuracy, learning rate, tokens/s
      .lock               held while a training writes here (``RunLock``)

Damage. Every reader checks what it reads and raises one-line errors that name
the file and say what to do: ``DamagedRunError`` (a ``ValueError``) for a file
that is unreadable, malformed or inconsistent with ``run.json``,
``FileNotFoundError`` for a missing one. When the chosen weights are damaged,
the error names another weights file of the run that loads
(``load_run(DIR, weights="latest")``, ``--weights latest`` on the command line).
``tf-transformer check --run-dir DIR`` (``tf_transformer.check``) runs every check.

Example:
    >>> run = load_run("runs/tutorial")  # doctest: +SKIP
    >>> run.info.source_language, run.info.model.d_model, run.weights_file.name  # doctest: +SKIP
    ('pt', 128, 'model.weights.h5')
"""

from tf_transformer.runs.info import (
    FORMAT,
    PREPARED_CORPUS,
    VOCAB_DIGESTS,
    RunInfo,
    corpus_change,
    prepared_corpus,
    read_run_info,
    write_run_info,
)
from tf_transformer.runs.layout import (
    BACKUP_DIR,
    BACKUP_WEIGHTS,
    BEST_WEIGHTS,
    CHECKPOINT_DIR,
    HISTORY_FILE,
    LATEST_WEIGHTS,
    LOG_DIR,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILE,
    VOCAB_DIR,
    WEIGHTS_CHOICES,
    WEIGHTS_FILE,
    WEIGHTS_FLAGS,
    DamagedRunError,
    rerun_with,
    restore_advice,
    short_reason,
    train_first,
    weights_path,
)
from tf_transformer.runs.loading import (
    Run,
    load_run,
    load_run_tokenizer,
    load_run_tokenizers,
    load_run_weights,
    vocab_size_field,
    weights_problem,
)
from tf_transformer.runs.lock import LockedError, RunLock

__all__ = [
    "BACKUP_DIR",
    "BACKUP_WEIGHTS",
    "BEST_WEIGHTS",
    "CHECKPOINT_DIR",
    "FORMAT",
    "HISTORY_FILE",
    "LATEST_WEIGHTS",
    "LOG_DIR",
    "METRICS_FILE",
    "MODEL_FILE",
    "PREPARED_CORPUS",
    "RUN_FILE",
    "VOCAB_DIGESTS",
    "VOCAB_DIR",
    "WEIGHTS_CHOICES",
    "WEIGHTS_FILE",
    "WEIGHTS_FLAGS",
    "DamagedRunError",
    "LockedError",
    "Run",
    "RunInfo",
    "RunLock",
    "corpus_change",
    "load_run",
    "load_run_tokenizer",
    "load_run_tokenizers",
    "load_run_weights",
    "prepared_corpus",
    "read_run_info",
    "rerun_with",
    "restore_advice",
    "short_reason",
    "train_first",
    "vocab_size_field",
    "weights_path",
    "weights_problem",
    "write_run_info",
]
