"""The run directory: everything a trained model needs, in one folder.

``tf-transformer train --run-dir DIR`` writes it; ``evaluate``, ``translate``
and ``export`` read it back with ``load_run(DIR)`` and need nothing else.
Training and inference both stand on this module and on nothing of each
other: ``tf_transformer.inference`` never imports ``tf_transformer.training``.

Layout::

    DIR/
      run.json            what was trained, on what, how (see below)
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
      logs/               TensorBoard: loss, accuracy, learning rate, tokens/s

``run.json`` (format 2)::

    {"format": 2,
     "model": TransformerConfig.to_dict(),
     "data": {DatasetSpec.to_dict(), "source_language": "pt", "target_language": "en",
              "tokenizer": "wordpiece"},  # (runs from before SentencePiece: WordPiece, no key)
     "max_length": 64,
     "vocab": {"source": "vocab/source.txt", "target": "vocab/target.txt"},  # relative to DIR
     "vocab_sha256": {"source": "9f2c...", "target": "41ab..."},  # (runs from before: no key)
     "prepared_corpus": "catalogs-1f0e...",  # a local corpus's prepared folder (others: no key)
     "train": TrainConfig.to_dict(),
     "tf_transformer_version": "0.1.0"}

``vocab_sha256`` holds the SHA-256 of each vocabulary copy: a file of the right size but other
content (another run's, reordered) gives other token ids and useless translations, so every
reader compares it (``load_run_tokenizer``), and ``check`` says so. Runs written before it are
read unverified (``vocab_verified`` says which).

``prepared_corpus`` names the folder a local corpus (``tsv:``, ``text:``, ``gettext:``) was
prepared into; its name ends in a hash of the corpus's files and of the rules that cleaned and
carved them, so it is the corpus's identity. When the files change, the same spec prepares into
another folder, with another test split: ``corpus_change`` says so, ``evaluate`` and ``check``
report it, and a resume refuses it (TFDS datasets, the embedded one included, are versioned by
TFDS and record nothing here).

Format 1 (before source/target) had ``"vocab": {"pt": ..., "en": ...}`` and
``"dataset": "embedded"``; ``read_run_info`` still reads it, as a pt->en run.

Damage. Every reader here checks what it reads and raises one-line errors
that name the file and say what to do: ``DamagedRunError`` (a ``ValueError``)
for a file that is unreadable, malformed or inconsistent with ``run.json``
(a vocabulary of the wrong size, weights of another architecture, NaNs),
``FileNotFoundError`` for a missing one. When the chosen weights are
damaged, the error names another weights file of the run that loads
(``load_run(DIR, weights="latest")``, ``--weights latest`` on the command line).
``tf-transformer check --run-dir DIR`` (``tf_transformer.check``) runs every check.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
from typing import Any

from tf_transformer import files
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import EMBEDDED_LANGUAGES, RESERVED_TOKENS, SIDES, SOURCE, TARGET

FORMAT = 2
RUN_FILE = "run.json"
VOCAB_DIGESTS = "vocab_sha256"  # run.json's SHA-256 of each vocabulary copy
PREPARED_CORPUS = "prepared_corpus"  # run.json's name of a local corpus's prepared folder
VOCAB_DIR = "vocab"
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"
CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS = f"{CHECKPOINT_DIR}/best.weights.h5"
LATEST_WEIGHTS = f"{CHECKPOINT_DIR}/latest.weights.h5"
BACKUP_DIR = "backup"
BACKUP_WEIGHTS = f"{BACKUP_DIR}/state.weights.h5"  # written by training.resume.StepBackup
HISTORY_FILE = "history.json"
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


@dataclasses.dataclass
class Run:
    """A trained run, loaded: its model and its tokenizers.

    Attributes:
        path: the run directory.
        info: the parsed ``run.json`` (in format 2, whatever format the file has).
        config: the model's ``TransformerConfig``.
        model: a built ``Transformer`` holding the chosen weights.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
        weights_file: the ``.weights.h5`` file the model's weights came from.
    """

    path: pathlib.Path
    info: dict[str, Any]
    config: TransformerConfig
    model: Any
    source_tokenizer: Any
    target_tokenizer: Any
    weights_file: pathlib.Path | None = None

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


def restore_advice(run_dir) -> str:
    """What to do about a damaged file that nothing in the run can replace."""
    return f"restore it from a copy of {run_dir}, or train a new run into another --run-dir"


def rerun_with(weights_name: str) -> str:
    """``"rerun with --weights latest"`` for ``LATEST_WEIGHTS`` (see ``WEIGHTS_FLAGS``)."""
    flag = WEIGHTS_FLAGS[weights_name]
    return f"rerun with {flag}" if flag else "rerun without --weights"


def read_run_info(run_dir) -> dict[str, Any]:
    """``run.json`` of ``run_dir`` in format 2, checked entry by entry.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: ``run_dir`` is not a run directory, or comes from a newer tf_transformer.
        DamagedRunError: ``run.json`` is not UTF-8 JSON, or an entry is missing or malformed.
    """
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

    def damaged(why: str) -> DamagedRunError:
        return DamagedRunError(f"{info_file} is damaged ({why}); {restore_advice(path)}.")

    try:
        info = json.loads(info_file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise damaged("it is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise damaged(f"not valid JSON: {err}") from None
    except OSError as err:
        raise DamagedRunError(f"cannot read {info_file}: {err.strerror or err}.") from None
    if not isinstance(info, dict):
        raise damaged(f"a JSON {type(info).__name__}, not an object")
    for key in ("model", "vocab"):
        if key not in info:
            raise damaged(f"no {key!r} entry")
    if not isinstance(info.get("format", 1), int):
        raise damaged(f"its format is {info['format']!r}, not a number")
    if info.get("format", 1) > FORMAT:
        raise ValueError(
            f"{info_file} has format {info['format']}, newer than this tf_transformer "
            f"reads ({FORMAT}); upgrade tf_transformer."
        )
    try:
        info = _upgrade(info)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise damaged(f"its format-1 entries are malformed: {short_reason(err)}") from None
    why = _malformed(info)
    if why:
        raise damaged(why)
    return info


def _malformed(info: dict[str, Any]) -> str | None:
    """What is wrong with the entries of a format-2 ``run.json``, or None."""
    if not isinstance(info["model"], dict):
        return "its model entry is not an object"
    try:
        TransformerConfig.from_dict(info["model"])
    except (TypeError, ValueError) as err:
        return f"its model entry is malformed: {short_reason(err)}"
    for key, fields in (("vocab", SIDES), ("data", ("source_language", "target_language"))):
        entry = info.get(key)
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            return f"its {key} entry needs {' and '.join(repr(f) for f in fields)} as strings"
    max_length = info.get("max_length", 1)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        return f"its max_length is {max_length!r}, not a positive whole number"
    return None


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
        name = side + pathlib.Path(vocab_files[side]).suffix  # .txt (WordPiece) or .model (SentencePiece)
        copy = path / VOCAB_DIR / name
        if pathlib.Path(vocab_files[side]).resolve() != copy.resolve():
            with files.atomic_path(copy) as tmp:
                shutil.copyfile(vocab_files[side], tmp)
        vocab[side] = f"{VOCAB_DIR}/{name}"
    info = {
        "format": FORMAT,
        "model": config.to_dict(),
        "data": dict(data),
        "max_length": int(max_length),
        "vocab": vocab,
        VOCAB_DIGESTS: {side: files.sha256(path / vocab[side]) for side in SIDES},
        "train": train,
        "tf_transformer_version": tf_transformer.__version__,
    }
    prepared = prepared_corpus(data, train.get("data_dir"))
    if prepared:
        info[PREPARED_CORPUS] = prepared
    files.write_text(path / RUN_FILE, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def prepared_corpus(data: dict[str, Any], data_dir=None) -> str | None:
    """The name of the folder a local corpus prepares into now (None for a TFDS dataset).

    Hashes the corpus's files; raises ``FileNotFoundError`` when one is gone.
    """
    from tf_transformer.data import DatasetSpec
    from tf_transformer.data.local import prepared_path

    spec = DatasetSpec.from_dict(data)
    return prepared_path(spec, data_dir).name if spec.is_local else None


def corpus_change(info: dict[str, Any], data_dir=None) -> str | None:
    """What changed in the run's corpus since it trained, in one sentence; None when nothing did
    (or when the run records no prepared corpus: TFDS datasets, and runs from before the record).
    """
    recorded = info.get(PREPARED_CORPUS)
    if not recorded:
        return None
    if data_dir is None:
        data_dir = info.get("train", {}).get("data_dir")
    try:
        now = prepared_corpus(info["data"], data_dir)
    except FileNotFoundError as err:
        return f"the corpus it trained on is gone ({err})"
    if now == recorded:
        return None
    return (
        f"the corpus's files changed since this run trained (prepared then as {recorded}, now as "
        f"{now}): its test and validation splits are not the ones this run held out"
    )


# -- weights -------------------------------------------------------------------------------------


def weights_path(run_dir, weights: str | None = None) -> pathlib.Path:
    """The weights file ``load_run`` reads for ``weights``.

    ``None`` (the default): ``model.weights.h5`` of a finished run, else the
    best checkpoint of an unfinished one. ``"best"``: the best checkpoint
    (``model.weights.h5`` if there is none). ``"latest"``: the last epoch's
    checkpoint. ``"backup"``: the state saved every few steps (mid-epoch).
    Anything else is a path to a ``.weights.h5`` file.
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
        hint = f"let training finish at least one epoch: {_train_first(path)}"
    what = "finished or checkpointed" if weights is None else repr(weights)
    raise FileNotFoundError(f"{path} holds no {what} weights (looked for {looked}); {hint}.")


def weights_problem(model, weights_file) -> str | None:
    """What is wrong with loading ``weights_file`` into ``model``, or None (then it is loaded).

    Returns a phrase that follows the file's name: ``"is damaged (...)"``,
    ``"does not fit the model in run.json (...)"`` or ``"holds NaN or infinite values"``.
    A failed load can leave ``model`` half loaded.
    """
    import numpy as np

    try:
        files.load_weights(model, weights_file)
    except Exception as err:  # noqa: BLE001 (h5py raises OSError, KeyError, RuntimeError... for damage)
        reason = short_reason(err)
        if isinstance(err, ValueError) and "could not be loaded" in str(err):
            layers = re.search(r"A total of (\d+) objects", str(err))
            layer = re.search(r"Layer '([^']+)'", str(err))
            detail = f"{layers.group(1) if layers else 'some'} layers differ"
            detail += f", e.g. '{layer.group(1)}'" if layer else ""
            return f"does not fit the model in {RUN_FILE} ({detail}): it holds another run's weights"
        return f"is damaged ({reason})"
    if not all(np.isfinite(w.numpy()).all() for w in model.weights):
        return "holds NaN or infinite values (training diverged, or the file is damaged)"
    return None


def load_run_weights(model, weights_file, run_dir=None) -> None:
    """Load ``weights_file`` into ``model``, or raise a ``DamagedRunError`` that says what to do.

    When it fails and ``run_dir`` is given, the message names another weights
    file of the run that does load (it is tried into ``model``) and how to ask for it.
    """
    weights_file = pathlib.Path(weights_file)
    problem = weights_problem(model, weights_file)
    if problem is None:
        return
    hint = None
    if run_dir is not None:
        run_dir = pathlib.Path(run_dir)
        for name in WEIGHTS_FLAGS:
            other = run_dir / name
            if other.is_file() and other.resolve() != weights_file.resolve():
                if weights_problem(model, other) is None:
                    hint = f"{name} looks intact: {rerun_with(name)}"
                    break
        hint = hint or f"no other weights file of {run_dir} loads either; {restore_advice(run_dir)}"
    raise DamagedRunError(f"{weights_file} {problem}; {hint or 'restore it from a copy'}.")


# -- vocabularies --------------------------------------------------------------------------------


def vocab_size_field(side: str) -> str:
    """The ``TransformerConfig`` field that must equal ``side``'s vocabulary size."""
    return "input_vocab_size" if side == SOURCE else "target_vocab_size"


def load_run_tokenizer(run_dir, info: dict[str, Any], side: str, config: TransformerConfig | None = None):
    """The tokenizer of one side from the run's own vocabulary copy, checked against ``config``.

    Raises:
        FileNotFoundError: the vocabulary file is missing.
        DamagedRunError: it is not UTF-8, lacks the reserved tokens, its size
            is not the one the model was trained with, or it is not the file
            whose SHA-256 ``run.json`` recorded.
    """
    from tf_transformer.data import make_tokenizer  # the data package loads TensorFlow Text

    path = pathlib.Path(run_dir)
    vocab_file = path / info["vocab"][side]

    def fix() -> str:
        return _vocab_fix(info, side, config, vocab_file) or restore_advice(path)

    if not vocab_file.is_file():
        raise FileNotFoundError(f"{vocab_file} is missing; {fix()}.")
    try:
        tokenizer = make_tokenizer(vocab_file)
    except UnicodeDecodeError:
        raise DamagedRunError(f"{vocab_file} is damaged (it is not UTF-8 text); {fix()}.") from None
    except ValueError:
        raise DamagedRunError(
            f"{vocab_file} is damaged (it does not start with the reserved tokens "
            f"{' '.join(RESERVED_TOKENS)}); {fix()}."
        ) from None
    except Exception as err:  # noqa: BLE001 (OSError, or TensorFlow Text's own errors)
        digest = (info.get(VOCAB_DIGESTS) or {}).get(side)
        if digest and files.sha256(vocab_file) != digest:  # (TensorFlow's own words say less)
            raise DamagedRunError(
                f"{vocab_file} is damaged (cut short or overwritten: it does not load, and its SHA-256 "
                f"is not the one {RUN_FILE} recorded); {fix()}."
            ) from None
        raise DamagedRunError(f"{vocab_file} is unreadable ({short_reason(err)}); {fix()}.") from None
    if config is not None:
        size, expected = int(tokenizer.get_vocab_size()), getattr(config, vocab_size_field(side))
        if size != expected:
            raise DamagedRunError(
                f"{vocab_file} has {size} tokens, but the model in {RUN_FILE} was trained with "
                f"{expected} ({vocab_size_field(side)}): it is not the run's vocabulary; {fix()}."
            )
    digest = (info.get(VOCAB_DIGESTS) or {}).get(side)
    if digest and files.sha256(vocab_file) != digest:  # whole, the right size, and yet another file
        raise DamagedRunError(
            f"{vocab_file} is not the vocabulary this run was trained with (its SHA-256 is not "
            f"the one {RUN_FILE} recorded: its token ids would give wrong translations); {fix()}."
        )
    return tokenizer


def load_run_tokenizers(run_dir, info: dict[str, Any] | None = None, config: TransformerConfig | None = None):
    """The (source, target) tokenizers built from the run's own vocabulary copies
    (see ``load_run_tokenizer``)."""
    info = info if info is not None else read_run_info(run_dir)
    return tuple(load_run_tokenizer(run_dir, info, side, config) for side in SIDES)


def vocab_verified(info: dict[str, Any]) -> bool:
    """Whether ``run.json`` records its vocabularies' SHA-256 (runs written before it do not)."""
    return all((info.get(VOCAB_DIGESTS) or {}).get(side) for side in SIDES)


def _vocab_fix(info, side, config, vocab_file) -> str | None:
    """Advice "copy X over it" when the prepared dataset's vocabulary is the run's own: the same
    SHA-256 as recorded (for a run that records none, the same size, and said to be unverified)."""
    expected = (info.get(VOCAB_DIGESTS) or {}).get(side)
    if config is None and not expected:
        return None
    try:
        from tf_transformer.data import DatasetSpec, vocab_files

        spec = DatasetSpec.from_dict(info["data"])
        original = vocab_files(spec, data_dir=(info.get("train") or {}).get("data_dir"))[side]
        if original.resolve() == vocab_file.resolve():
            return None
        if expected:
            same = files.sha256(original) == expected
        else:
            size = len(original.read_text(encoding="utf-8").splitlines())  # (WordPiece: one token a line)
            same = original.suffix == ".txt" and size == getattr(config, vocab_size_field(side))
    except Exception:  # noqa: BLE001 (only a hint: the data may be gone or never prepared here)
        return None
    if not same:
        return None
    if expected:
        return (
            f"the prepared dataset's {original} is the run's own (the same SHA-256): copy it to {vocab_file}"
        )
    return (
        f"the prepared dataset's {original} has the right size (this run's {RUN_FILE} records no "
        f"digest to prove it is the same vocabulary): copy it to {vocab_file}"
    )


# -- the whole run -------------------------------------------------------------------------------


def load_run(run_dir, weights: str | None = None) -> Run:
    """Load a trained run: config, model with weights, tokenizers.

    Args:
        run_dir: a directory written by ``tf-transformer train``.
        weights: None (default: the finished run's weights, else its best
            checkpoint), ``"best"``, ``"latest"``, ``"backup"``, or a
            ``.weights.h5`` path (see ``weights_path``).

    Returns a ``Run``.

    Raises:
        FileNotFoundError: ``run_dir`` (or its weights, or a vocabulary) does not exist.
        ValueError: ``run_dir`` is not a run directory; ``DamagedRunError`` (a
            ``ValueError``) for a damaged or inconsistent file, naming it and,
            for weights, another weights file that loads.

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
    source_tokenizer, target_tokenizer = load_run_tokenizers(path, info, config)
    model = Transformer(config)
    model.build()
    load_run_weights(model, weights_file, path)
    return Run(
        path=path,
        info=info,
        config=config,
        model=model,
        source_tokenizer=source_tokenizer,
        target_tokenizer=target_tokenizer,
        weights_file=weights_file,
    )


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
