"""The run directory: everything a trained model needs, in one folder.

``tf-transformer train --run-dir DIR`` writes it; ``evaluate``, ``translate``
and ``export`` read it back with ``load_run(DIR)`` and need nothing else.

Layout::

    DIR/
      run.json            what was trained, on what, how (see below)
      vocab/pt.txt        copies of the tokenizer vocabularies, so the run
      vocab/en.txt        stays usable if data/ changes
      model.keras         the finished model (best validation loss), whole
      model.weights.h5    the same weights alone (what load_run reads)
      checkpoints/
        best.weights.h5   lowest validation loss so far (written each epoch)
        latest.weights.h5 end of the last finished epoch
      backup/             BackupAndRestore state; a rerun of the same
                          command resumes from it, mid-epoch included
      history.json        per-epoch metrics of the whole run (all sessions)
      logs/               TensorBoard: loss, accuracy, learning rate, tokens/s

``run.json``::

    {"model": TransformerConfig.to_dict(),
     "dataset": "embedded", "max_length": 64,
     "vocab": {"pt": "vocab/pt.txt", "en": "vocab/en.txt"},   # relative to DIR
     "train": {the train() arguments},
     "tf_transformer_version": "0.1.0"}
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
from typing import Any

from tf_transformer.config import TransformerConfig

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
LANGUAGES = ("pt", "en")


@dataclasses.dataclass
class Run:
    """A trained run, loaded: its model and its tokenizers.

    Attributes:
        path: the run directory.
        info: the parsed ``run.json``.
        config: the model's ``TransformerConfig``.
        model: a built ``Transformer`` holding the chosen weights.
        pt_tokenizer, en_tokenizer: the tokenizers the model was trained with.
    """

    path: pathlib.Path
    info: dict[str, Any]
    config: TransformerConfig
    model: Any
    pt_tokenizer: Any
    en_tokenizer: Any

    @property
    def max_length(self) -> int:
        return int(self.info.get("max_length", self.config.max_length))


def _train_first(run_dir) -> str:
    return f"run `tf-transformer train --run-dir {run_dir}` first"


def read_run_info(run_dir) -> dict[str, Any]:
    """``run.json`` of ``run_dir``, with clear errors for a missing or foreign directory."""
    path = pathlib.Path(run_dir)
    if not path.exists():
        raise FileNotFoundError(f"Run directory {path} does not exist; {_train_first(path)}.")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a run directory.")
    info_file = path / RUN_FILE
    if not info_file.is_file():
        raise ValueError(
            f"{path} is not a run directory (it has no {RUN_FILE}); pass the --run-dir that "
            f"`tf-transformer train` wrote, or {_train_first(path)}.")
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{info_file} is not valid JSON ({err}); the run directory is damaged.") from err
    for key in ("model", "vocab"):
        if key not in info:
            raise ValueError(f"{info_file} has no {key!r} entry; the run directory is damaged.")
    return info


def write_run_info(run_dir, *, config: TransformerConfig, dataset: str, max_length: int,
                   vocab_files: dict[str, str | pathlib.Path], train_args: dict[str, Any]) -> dict:
    """Start a run directory: copy the vocabularies into ``vocab/`` and write ``run.json``."""
    import tf_transformer

    path = pathlib.Path(run_dir)
    (path / VOCAB_DIR).mkdir(parents=True, exist_ok=True)
    vocab = {}
    for lang in LANGUAGES:
        target = path / VOCAB_DIR / f"{lang}.txt"
        if pathlib.Path(vocab_files[lang]).resolve() != target.resolve():
            shutil.copyfile(vocab_files[lang], target)
        vocab[lang] = f"{VOCAB_DIR}/{lang}.txt"
    info = {"model": config.to_dict(), "dataset": dataset, "max_length": int(max_length),
            "vocab": vocab, "train": train_args,
            "tf_transformer_version": tf_transformer.__version__}
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
        f"{_train_first(path)}.")


def load_tokenizers(run_dir, info: dict[str, Any] | None = None):
    """The (pt, en) tokenizers built from the run's own vocabulary copies."""
    from tf_transformer.data import Tokenizer  # noqa: WPS433  (the data package is heavy)

    path = pathlib.Path(run_dir)
    info = info if info is not None else read_run_info(path)
    tokenizers = []
    for lang in LANGUAGES:
        vocab_file = path / info["vocab"][lang]
        if not vocab_file.is_file():
            raise FileNotFoundError(f"{vocab_file} is missing; the run directory is incomplete.")
        tokenizers.append(Tokenizer(str(vocab_file)))
    return tuple(tokenizers)


def load_run(run_dir, weights: str = "best") -> Run:
    """Load a trained run: config, model with weights, tokenizers.

    Args:
        run_dir: a directory written by ``tf-transformer train``.
        weights: ``"best"`` (default), ``"latest"``, or a ``.weights.h5`` path.

    Raises:
        FileNotFoundError: ``run_dir`` (or its weights) does not exist.
        ValueError: ``run_dir`` is not a run directory, or the weights do not
            fit the recorded architecture.

    Example:
        >>> run = load_run("runs/tutorial")
        >>> logits = run.model((pt_ids, en_ids))
    """
    from tf_transformer.model import Transformer

    path = pathlib.Path(run_dir)
    info = read_run_info(path)
    config = TransformerConfig.from_dict(info["model"])
    weights_file = weights_path(path, weights)
    pt_tokenizer, en_tokenizer = load_tokenizers(path, info)
    model = Transformer(config)
    model.build()
    model.load_weights(str(weights_file))
    return Run(path=path, info=info, config=config, model=model,
               pt_tokenizer=pt_tokenizer, en_tokenizer=en_tokenizer)
