"""The run directory: everything a trained model needs, in one folder.

``tf-transformer train --run-dir DIR`` writes it; ``evaluate``, ``translate``
and ``export`` read it back with ``load_run(DIR)`` and need nothing else.
Training and inference both stand on this module and on nothing of each
other: ``tf_transformer.inference`` never imports ``tf_transformer.training``.

Layout::

    DIR/
      run.json            what was trained, on what, how (see below)
      vocab/source.txt    copies of the tokenizer vocabularies, so the run
      vocab/target.txt    stays usable if the prepared data changes or moves
      model.keras         the finished model (best validation loss), whole
      model.weights.h5    the same weights alone (what load_run reads)
      checkpoints/
        best.weights.h5   lowest validation loss so far (written each epoch)
        latest.weights.h5 end of the last finished epoch
      backup/             the model and optimizer state every few steps
                          (``training.callbacks.StepBackup``); a rerun of
                          the same command resumes from it, mid-epoch included
      history.json        per-epoch metrics of the whole run (all sessions)
      logs/               TensorBoard: loss, accuracy, learning rate, tokens/s

``run.json`` (format 2)::

    {"format": 2,
     "model": TransformerConfig.to_dict(),
     "data": {DatasetSpec.to_dict(), "source_language": "pt", "target_language": "en"},
     "max_length": 64,
     "vocab": {"source": "vocab/source.txt", "target": "vocab/target.txt"},  # relative to DIR
     "train": TrainConfig.to_dict(),
     "tf_transformer_version": "0.1.0"}

Format 1 (before source/target) had ``"vocab": {"pt": ..., "en": ...}`` and
``"dataset": "embedded"``; ``read_run_info`` still reads it, as a pt->en run.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
from typing import Any

from tf_transformer.config import TransformerConfig
from tf_transformer.constants import EMBEDDED_LANGUAGES, SIDES, SOURCE, TARGET

FORMAT = 2
RUN_FILE = "run.json"
VOCAB_DIR = "vocab"
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"
CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = f"{CHECKPOINT_DIR}/best.weights.h5"
LATEST_WEIGHTS = f"{CHECKPOINT_DIR}/latest.weights.h5"
BACKUP_DIR = "backup"
HISTORY_FILE = "history.json"
LOG_DIR = "logs"


@dataclasses.dataclass
class Run:
    """A trained run, loaded: its model and its tokenizers.

    Attributes:
        path: the run directory.
        info: the parsed ``run.json`` (in format 2, whatever format the file has).
        config: the model's ``TransformerConfig``.
        model: a built ``Transformer`` holding the chosen weights.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
    """

    path: pathlib.Path
    info: dict[str, Any]
    config: TransformerConfig
    model: Any
    source_tokenizer: Any
    target_tokenizer: Any

    @property
    def max_length(self) -> int:
        """Longest sentence, in tokens, that training kept (at most ``config.max_length``)."""
        return int(self.info.get("max_length", self.config.max_length))

    @property
    def source_language(self) -> str:
        return self.info["data"]["source_language"]

    @property
    def target_language(self) -> str:
        return self.info["data"]["target_language"]


def _train_first(run_dir) -> str:
    return f"run `tf-transformer train --run-dir {run_dir}` first"


def read_run_info(run_dir) -> dict[str, Any]:
    """``run.json`` of ``run_dir`` in format 2, with clear errors for a missing or foreign directory."""
    path = pathlib.Path(run_dir)
    if not path.exists():
        raise FileNotFoundError(f"Run directory {path} does not exist; {_train_first(path)}.")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a run directory.")
    info_file = path / RUN_FILE
    if not info_file.is_file():
        raise ValueError(
            f"{path} is not a run directory (it has no {RUN_FILE}); pass the --run-dir that "
            f"`tf-transformer train` wrote, or {_train_first(path)}."
        )
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{info_file} is not valid JSON ({err}); the run directory is damaged.") from err
    for key in ("model", "vocab"):
        if key not in info:
            raise ValueError(f"{info_file} has no {key!r} entry; the run directory is damaged.")
    info = _upgrade(info)
    if info["format"] > FORMAT:
        raise ValueError(
            f"{info_file} has format {info['format']}, newer than this tf_transformer "
            f"reads ({FORMAT}); upgrade tf_transformer."
        )
    return info


def _upgrade(info: dict[str, Any]) -> dict[str, Any]:
    """A format-1 ``run.json`` (pt/en vocabularies, a dataset name) read as format 2."""
    if info.get("format", 1) != 1:
        return info
    from tf_transformer.data import DatasetSpec

    source, target = EMBEDDED_LANGUAGES  # format 1 only ever translated pt -> en
    info = dict(info, format=FORMAT)
    info["vocab"] = {SOURCE: info["vocab"][source], TARGET: info["vocab"][target]}
    spec = DatasetSpec.parse(info.pop("dataset", "embedded"))
    info["data"] = {**spec.to_dict(), "source_language": source, "target_language": target}
    return info


def write_run_info(
    run_dir,
    *,
    config: TransformerConfig,
    data: dict[str, Any],
    max_length: int,
    vocab_files: dict[str, str | pathlib.Path],
    train: dict[str, Any],
) -> dict:
    """Start a run directory: copy the vocabularies into ``vocab/`` and write ``run.json``.

    Args:
        run_dir: the directory (created if needed).
        config: the model's sizes.
        data: ``DatasetSpec.to_dict()`` plus ``source_language`` and ``target_language``.
        max_length: longest sentence, in tokens, that training keeps.
        vocab_files: ``{"source": path, "target": path}``, the vocabularies to copy.
        train: ``TrainConfig.to_dict()``.

    Returns the ``run.json`` content.
    """
    import tf_transformer

    missing = {"source_language", "target_language"} - set(data)
    if missing:
        raise ValueError(f"The run's data entry needs {', '.join(sorted(missing))}.")
    path = pathlib.Path(run_dir)
    (path / VOCAB_DIR).mkdir(parents=True, exist_ok=True)
    vocab = {}
    for side in SIDES:
        copy = path / VOCAB_DIR / f"{side}.txt"
        if pathlib.Path(vocab_files[side]).resolve() != copy.resolve():
            shutil.copyfile(vocab_files[side], copy)
        vocab[side] = f"{VOCAB_DIR}/{side}.txt"
    info = {
        "format": FORMAT,
        "model": config.to_dict(),
        "data": dict(data),
        "max_length": int(max_length),
        "vocab": vocab,
        "train": train,
        "tf_transformer_version": tf_transformer.__version__,
    }
    tmp = path / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    tmp.replace(path / RUN_FILE)  # atomic: a run dir never holds half a run.json
    return info


def weights_path(run_dir, weights: str = "best") -> pathlib.Path:
    """The weights file ``load_run`` reads for ``weights``.

    ``"best"``: ``model.weights.h5`` of a finished run, else the best
    checkpoint of an interrupted one. ``"latest"``: the last epoch's
    checkpoint. Anything else is taken as a path to a ``.weights.h5`` file.
    """
    path = pathlib.Path(run_dir)
    if weights == "best":
        candidates = [path / WEIGHTS_FILE, path / BEST_WEIGHTS, path / LATEST_WEIGHTS]
    elif weights == "latest":
        candidates = [path / LATEST_WEIGHTS]
    else:
        candidates = [pathlib.Path(weights)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{path} holds no {weights!r} weights yet (looked for "
        f"{', '.join(str(c) for c in candidates)}); let training finish at least one epoch: "
        f"{_train_first(path)}."
    )


def load_tokenizers(run_dir, info: dict[str, Any] | None = None):
    """The (source, target) tokenizers built from the run's own vocabulary copies."""
    from tf_transformer.data import Tokenizer  # the data package loads TensorFlow Text

    path = pathlib.Path(run_dir)
    info = info if info is not None else read_run_info(path)
    tokenizers = []
    for side in SIDES:
        vocab_file = path / info["vocab"][side]
        if not vocab_file.is_file():
            raise FileNotFoundError(f"{vocab_file} is missing; the run directory is incomplete.")
        tokenizers.append(Tokenizer(vocab_file))
    return tuple(tokenizers)


def load_run(run_dir, weights: str = "best") -> Run:
    """Load a trained run: config, model with weights, tokenizers.

    Args:
        run_dir: a directory written by ``tf-transformer train``.
        weights: ``"best"`` (default), ``"latest"``, or a ``.weights.h5`` path.

    Returns a ``Run``.

    Raises:
        FileNotFoundError: ``run_dir`` (or its weights) does not exist.
        ValueError: ``run_dir`` is not a run directory, or the weights do not
            fit the recorded architecture.

    Example:
        >>> run = load_run("runs/tutorial")  # doctest: +SKIP
        >>> run.source_language, run.target_language, run.max_length  # doctest: +SKIP
        ('pt', 'en', 64)
    """
    from tf_transformer.model import Transformer

    path = pathlib.Path(run_dir)
    info = read_run_info(path)
    config = TransformerConfig.from_dict(info["model"])
    weights_file = weights_path(path, weights)
    source_tokenizer, target_tokenizer = load_tokenizers(path, info)
    model = Transformer(config)
    model.build()
    model.load_weights(str(weights_file))
    return Run(
        path=path,
        info=info,
        config=config,
        model=model,
        source_tokenizer=source_tokenizer,
        target_tokenizer=target_tokenizer,
    )
