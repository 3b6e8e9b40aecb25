"""A run directory, loaded: its weights and vocabularies checked and read into a ``Run``.

Every reader here checks what it reads and raises one-line errors that name the
file and say what to do: ``DamagedRunError`` (a ``ValueError``) for a file that is
unreadable, malformed or inconsistent with ``run.json`` (a vocabulary of the wrong
size or checksum, weights of another architecture, NaNs), ``FileNotFoundError``
for a missing one. When the chosen weights are damaged, the error names another
weights file of the run that loads.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Any

from tf_transformer import files
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import RESERVED_TOKENS, SIDES, SOURCE
from tf_transformer.runs.info import RunInfo, read_run_info
from tf_transformer.runs.layout import (
    RUN_FILE,
    VOCAB_DIR,
    WEIGHTS_FLAGS,
    DamagedRunError,
    rerun_with,
    restore_advice,
    short_reason,
    weights_path,
)


@dataclasses.dataclass
class Run:
    """A trained run, loaded: its model and its tokenizers.

    Attributes:
        path: the run directory.
        info: its ``run.json``, a ``RunInfo``.
        config: the model's ``TransformerConfig`` (``info.model``).
        model: a built ``Transformer`` holding the chosen weights.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
        weights_file: the ``.weights.h5`` file the model's weights came from.
    """

    path: pathlib.Path
    info: RunInfo
    model: Any
    source_tokenizer: Any
    target_tokenizer: Any
    weights_file: pathlib.Path | None = None

    @property
    def config(self) -> TransformerConfig:
        return self.info.model

    @property
    def max_length(self) -> int:
        """Longest sentence, in tokens, that training kept (at most ``config.max_length``)."""
        return self.info.max_length

    @property
    def source_language(self) -> str:
        return self.info.source_language

    @property
    def target_language(self) -> str:
        return self.info.target_language


# -- weights -------------------------------------------------------------------------------------


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


def load_run_tokenizer(run_dir, info: RunInfo | None, side: str, config: TransformerConfig | None = None):
    """The tokenizer of one side from the run's own vocabulary copy, checked against ``config``.

    ``info`` None (a ``run.json`` that does not read) looks for ``vocab/SIDE.txt``, unverified.

    Raises:
        FileNotFoundError: the vocabulary file is missing.
        DamagedRunError: it is not UTF-8, lacks the reserved tokens, its size
            is not the one the model was trained with, or it is not the file
            whose SHA-256 ``run.json`` recorded.
    """
    path = pathlib.Path(run_dir)
    vocab_file = path / (info.vocab[side] if info is not None else f"{VOCAB_DIR}/{side}.txt")
    digest = info.vocab_digest(side) if info is not None else None

    def fix() -> str:
        return _vocab_fix(info, side, config, vocab_file) or restore_advice(path)

    if not vocab_file.is_file():
        raise FileNotFoundError(f"{vocab_file} is missing; {fix()}.")
    tokenizer = _read_vocab(vocab_file, digest, fix)
    if config is not None:
        size, expected = int(tokenizer.get_vocab_size()), getattr(config, vocab_size_field(side))
        if size != expected:
            raise DamagedRunError(
                f"{vocab_file} has {size} tokens, but the model in {RUN_FILE} was trained with "
                f"{expected} ({vocab_size_field(side)}): it is not the run's vocabulary; {fix()}."
            )
    if digest and files.sha256(vocab_file) != digest:  # whole, the right size, and yet another file
        raise DamagedRunError(
            f"{vocab_file} is not the vocabulary this run was trained with (its SHA-256 is not "
            f"the one {RUN_FILE} recorded: its token ids would give wrong translations); {fix()}."
        )
    return tokenizer


def _read_vocab(vocab_file: pathlib.Path, digest: str | None, fix):
    """A tokenizer of ``vocab_file``, or a ``DamagedRunError`` that says why it does not load."""
    from tf_transformer.data import make_tokenizer  # the data package loads TensorFlow Text

    try:
        return make_tokenizer(vocab_file)
    except UnicodeDecodeError:
        raise DamagedRunError(f"{vocab_file} is damaged (it is not UTF-8 text); {fix()}.") from None
    except ValueError:
        raise DamagedRunError(
            f"{vocab_file} is damaged (it does not start with the reserved tokens "
            f"{' '.join(RESERVED_TOKENS)}); {fix()}."
        ) from None
    except Exception as err:  # noqa: BLE001 (OSError, or TensorFlow Text's own errors)
        if digest and files.sha256(vocab_file) != digest:  # (TensorFlow's own words say less)
            raise DamagedRunError(
                f"{vocab_file} is damaged (cut short or overwritten: it does not load, and its SHA-256 "
                f"is not the one {RUN_FILE} recorded); {fix()}."
            ) from None
        raise DamagedRunError(f"{vocab_file} is unreadable ({short_reason(err)}); {fix()}.") from None


def load_run_tokenizers(run_dir, info: RunInfo | None = None, config: TransformerConfig | None = None):
    """The (source, target) tokenizers built from the run's own vocabulary copies
    (see ``load_run_tokenizer``)."""
    info = info if info is not None else read_run_info(run_dir)
    return tuple(load_run_tokenizer(run_dir, info, side, config) for side in SIDES)


def _vocab_fix(info: RunInfo | None, side, config, vocab_file) -> str | None:
    """Advice "copy X over it" when the prepared dataset's vocabulary is the run's own: the same
    SHA-256 as recorded (for a run that records none, the same size, and said to be unverified)."""
    expected = info.vocab_digest(side) if info is not None else None
    if info is None or (config is None and not expected):
        return None
    try:
        from tf_transformer.data import vocab_files

        original = vocab_files(info.spec, data_dir=info.data_dir)[side]
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
    weights_file = weights_path(path, weights)
    source_tokenizer, target_tokenizer = load_run_tokenizers(path, info, info.model)
    model = Transformer(info.model)
    model.build()
    load_run_weights(model, weights_file, path)
    return Run(
        path=path,
        info=info,
        model=model,
        source_tokenizer=source_tokenizer,
        target_tokenizer=target_tokenizer,
        weights_file=weights_file,
    )
