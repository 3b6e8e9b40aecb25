"""``run.json``: what a run trained, on what and how, as a typed ``RunInfo``.

On disk (format 2; ``RunInfo.to_dict`` writes it, ``read_run_info`` reads it back)::

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

Example:
    >>> from tf_transformer.config import TransformerConfig
    >>> info = RunInfo(
    ...     model=TransformerConfig.from_preset("tiny", input_vocab_size=90, target_vocab_size=80),
    ...     data={"name": "embedded", "source_language": "pt", "target_language": "en"},
    ...     vocab={"source": "vocab/source.txt", "target": "vocab/target.txt"},
    ...     max_length=32,
    ... )
    >>> info.source_language, info.target_language, info.vocab_verified
    ('pt', 'en', False)
    >>> RunInfo.from_dict(info.to_dict()) == info
    True
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib
import shutil
from typing import Any

from tf_transformer import files
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import EMBEDDED_LANGUAGES, SIDES, SOURCE, TARGET
from tf_transformer.runs.layout import (
    RUN_FILE,
    VOCAB_DIR,
    DamagedRunError,
    restore_advice,
    short_reason,
    train_first,
)

FORMAT = 2
VOCAB_DIGESTS = "vocab_sha256"  # run.json's SHA-256 of each vocabulary copy
PREPARED_CORPUS = "prepared_corpus"  # run.json's name of a local corpus's prepared folder
LANGUAGES = ("source_language", "target_language")  # in run.json's data entry


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """The content of ``run.json``, in format 2 whatever format the file has.

    Attributes:
        model: the model's sizes.
        data: ``DatasetSpec.to_dict()`` plus ``source_language``, ``target_language`` and
            (since SentencePiece) ``tokenizer``; ``spec`` is the ``DatasetSpec``.
        vocab: ``{"source": path, "target": path}``, the vocabulary copies, relative to the run.
        max_length: longest sentence, in tokens, that training kept.
        vocab_sha256: ``{"source": digest, "target": digest}`` of the copies (None: not recorded).
        prepared_corpus: the prepared folder of a local corpus (None: a TFDS dataset, or not recorded).
        train: ``TrainConfig.to_dict()`` (a plain dict: the run directory knows no training).
        tf_transformer_version: the version that wrote the run.
    """

    model: TransformerConfig
    data: dict[str, Any]
    vocab: dict[str, str]
    max_length: int
    vocab_sha256: dict[str, str] | None = None
    prepared_corpus: str | None = None
    train: dict[str, Any] = dataclasses.field(default_factory=dict)
    tf_transformer_version: str | None = None

    @property
    def source_language(self) -> str:
        return self.data["source_language"]

    @property
    def target_language(self) -> str:
        return self.data["target_language"]

    @property
    def tokenizer(self) -> str | None:
        """``"wordpiece"`` or ``"sentencepiece"``; None for runs from before SentencePiece (WordPiece)."""
        return self.data.get("tokenizer")

    @property
    def data_dir(self) -> str | None:
        """Where training found the prepared data (None: the default user data dir)."""
        return self.train.get("data_dir")

    @property
    def spec(self):
        """The ``DatasetSpec`` the run trained on (the language codes beside it are left out)."""
        from tf_transformer.data import DatasetSpec  # the data package loads TensorFlow Text

        return DatasetSpec.from_dict(self.data)

    def vocab_digest(self, side: str) -> str | None:
        """The SHA-256 ``run.json`` recorded for ``side``'s vocabulary copy (None: not recorded)."""
        return (self.vocab_sha256 or {}).get(side)

    @property
    def vocab_verified(self) -> bool:
        """Whether ``run.json`` records its vocabularies' SHA-256 (runs written before it do not)."""
        return all(self.vocab_digest(side) for side in SIDES)

    def to_dict(self) -> dict[str, Any]:
        """The ``run.json`` entries (format 2), as ``write_run_info`` writes them."""
        entries = {
            "format": FORMAT,
            "model": self.model.to_dict(),
            "data": self.data,
            "max_length": self.max_length,
            "vocab": self.vocab,
            VOCAB_DIGESTS: self.vocab_sha256,
            PREPARED_CORPUS: self.prepared_corpus,
            "train": self.train,
            "tf_transformer_version": self.tf_transformer_version,
        }
        return copy.deepcopy({key: value for key, value in entries.items() if value is not None})

    @classmethod
    def from_dict(cls, entries: dict[str, Any]) -> RunInfo:
        """Back from ``to_dict`` (or from a format-1 ``run.json``'s entries).

        Raises ``ValueError`` saying which entry is missing or malformed.
        """
        try:
            return cls._from_checked(_format2(entries, RUN_FILE))
        except _Malformed as err:
            raise ValueError(f"{RUN_FILE} is malformed ({err}).") from None

    @classmethod
    def _from_checked(cls, entries: dict[str, Any]) -> RunInfo:
        model = TransformerConfig.from_dict(entries["model"])
        return cls(
            model=model,
            data=dict(entries["data"]),
            vocab=dict(entries["vocab"]),
            max_length=int(entries.get("max_length", model.max_length)),
            vocab_sha256=dict(entries[VOCAB_DIGESTS]) if entries.get(VOCAB_DIGESTS) else None,
            prepared_corpus=entries.get(PREPARED_CORPUS) or None,
            train=dict(entries.get("train") or {}),
            tf_transformer_version=entries.get("tf_transformer_version"),
        )


def read_run_info(run_dir) -> RunInfo:
    """``run.json`` of ``run_dir``, checked entry by entry, as a ``RunInfo``.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: ``run_dir`` is not a run directory, or comes from a newer tf_transformer.
        DamagedRunError: ``run.json`` is not UTF-8 JSON, or an entry is missing or malformed.
    """
    path = pathlib.Path(run_dir)
    info_file = _info_file(path)
    try:
        text = info_file.read_bytes()
    except OSError as err:
        raise DamagedRunError(f"cannot read {info_file}: {err.strerror or err}.") from None
    try:
        return RunInfo._from_checked(_format2(_json(text), info_file))
    except _Malformed as err:
        raise DamagedRunError(f"{info_file} is damaged ({err}); {restore_advice(path)}.") from None


def _json(text: bytes) -> Any:
    try:
        return json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Malformed("it is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise _Malformed(f"not valid JSON: {err}") from None


class _Malformed(ValueError):
    """What is wrong with ``run.json``'s entries (a phrase: ``"no 'model' entry"``)."""


def _format2(entries: Any, where) -> dict[str, Any]:
    """``run.json``'s entries in format 2, checked entry by entry.

    Raises ``_Malformed``, or a ``ValueError`` naming ``where`` for a newer format.
    """
    why = _unreadable(entries)
    if why:
        raise _Malformed(why)
    if entries.get("format", 1) > FORMAT:
        raise ValueError(
            f"{where} has format {entries['format']}, newer than this tf_transformer "
            f"reads ({FORMAT}); upgrade tf_transformer."
        )
    try:
        entries = _upgrade(entries)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _Malformed(f"its format-1 entries are malformed: {short_reason(err)}") from None
    why = _malformed(entries)
    if why:
        raise _Malformed(why)
    return entries


def _info_file(path: pathlib.Path) -> pathlib.Path:
    """``path/run.json``, or the error that says why ``path`` is no run directory."""
    if not path.exists():
        raise FileNotFoundError(f"Run directory {path} does not exist; {train_first(path)}.")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a run directory.")
    if not (path / RUN_FILE).is_file():
        raise ValueError(
            f"{path} is not a run directory (it has no {RUN_FILE}); pass the --run-dir that "
            f"`tf-transformer train` wrote, or {train_first(path)}."
        )
    return path / RUN_FILE


def _unreadable(entries: Any) -> str | None:
    """What keeps ``run.json``'s entries from being read in any format, or None."""
    if not isinstance(entries, dict):
        return f"a JSON {type(entries).__name__}, not an object"
    for key in ("model", "vocab"):
        if key not in entries:
            return f"no {key!r} entry"
    if not isinstance(entries.get("format", 1), int):
        return f"its format is {entries['format']!r}, not a number"
    return None


def _malformed(entries: dict[str, Any]) -> str | None:
    """What is wrong with the entries of a format-2 ``run.json``, or None."""
    if not isinstance(entries["model"], dict):
        return "its model entry is not an object"
    try:
        TransformerConfig.from_dict(entries["model"])
    except (TypeError, ValueError) as err:
        return f"its model entry is malformed: {short_reason(err)}"
    for key, fields in (("vocab", SIDES), ("data", LANGUAGES)):
        entry = entries.get(key)
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            return f"its {key} entry needs {' and '.join(repr(f) for f in fields)} as strings"
    max_length = entries.get("max_length", 1)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        return f"its max_length is {max_length!r}, not a positive whole number"
    for key in (VOCAB_DIGESTS, "train"):
        if not isinstance(entries.get(key) or {}, dict):
            return f"its {key} entry is not an object"
    return None


def _upgrade(entries: dict[str, Any]) -> dict[str, Any]:
    """A format-1 ``run.json`` (pt/en vocabularies, a dataset name) read as format 2."""
    if entries.get("format", 1) != 1:
        return entries
    from tf_transformer.data import DatasetSpec

    source, target = EMBEDDED_LANGUAGES  # format 1 only ever translated pt -> en
    entries = dict(entries, format=FORMAT)
    entries["vocab"] = {SOURCE: entries["vocab"][source], TARGET: entries["vocab"][target]}
    spec = DatasetSpec.parse(entries.pop("dataset", "embedded"))
    entries["data"] = {**spec.to_dict(), "source_language": source, "target_language": target}
    return entries


def write_run_info(
    run_dir,
    *,
    config: TransformerConfig,
    data: dict[str, Any],
    max_length: int,
    vocab_files: dict[str, str | pathlib.Path],
    train: dict[str, Any],
) -> RunInfo:
    """Start a run directory: copy the vocabularies into ``vocab/`` and write ``run.json``.

    Args:
        run_dir: the directory (created if needed).
        config: the model's sizes.
        data: ``DatasetSpec.to_dict()`` plus ``source_language`` and ``target_language``.
        max_length: longest sentence, in tokens, that training keeps.
        vocab_files: ``{"source": path, "target": path}``, the vocabularies to copy.
        train: ``TrainConfig.to_dict()``.

    Returns what it wrote, as a ``RunInfo``.
    """
    import tf_transformer

    missing = set(LANGUAGES) - set(data)
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
    info = RunInfo(
        model=config,
        data=dict(data),
        vocab=vocab,
        max_length=int(max_length),
        vocab_sha256={side: files.sha256(path / vocab[side]) for side in SIDES},
        prepared_corpus=prepared_corpus(data, train.get("data_dir")),
        train=dict(train),
        tf_transformer_version=tf_transformer.__version__,
    )
    files.write_text(path / RUN_FILE, json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n")
    return info


def prepared_corpus(data: dict[str, Any], data_dir=None) -> str | None:
    """The name of the folder a local corpus prepares into now (None for a TFDS dataset).

    ``data`` is ``run.json``'s data entry (``RunInfo.data``). Hashes the corpus's files;
    raises ``FileNotFoundError`` when one is gone.
    """
    from tf_transformer.data import DatasetSpec
    from tf_transformer.data.local import prepared_path

    spec = DatasetSpec.from_dict(data)
    return prepared_path(spec, data_dir).name if spec.is_local else None


def corpus_change(info: RunInfo, data_dir=None) -> str | None:
    """What changed in the run's corpus since it trained, in one sentence; None when nothing did
    (or when the run records no prepared corpus: TFDS datasets, and runs from before the record).
    """
    recorded = info.prepared_corpus
    if not recorded:
        return None
    if data_dir is None:
        data_dir = info.data_dir
    try:
        now = prepared_corpus(info.data, data_dir)
    except FileNotFoundError as err:
        return f"the corpus it trained on is gone ({err})"
    if now == recorded:
        return None
    return (
        f"the corpus's files changed since this run trained (prepared then as {recorded}, now as "
        f"{now}): its test and validation splits are not the ones this run held out"
    )
