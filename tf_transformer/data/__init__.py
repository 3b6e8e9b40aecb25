"""Data: corpora, tokenizers and batches, for any language pair in either direction.

- :class:`DatasetSpec` names a corpus: ``embedded`` (the default, pt→en,
  ships with the package), a TFDS translation dataset, ``tsv:PATH``,
  ``text:SRC_PATH,TGT_PATH`` or ``gettext:LANG`` (the machine's own
  translation catalogs); ``reverse`` swaps the sides.
- :func:`load_dataset` gives ``(source, target)`` string pairs.
- :func:`prepare` (``tf-transformer prepare``) prepares a corpus and its
  vocabularies, and reports sizes, skipped lines and round-trip rates.
- :class:`Tokenizer` (WordPiece) and :class:`SentencePieceTokenizer`;
  :func:`load_tokenizers` and :func:`make_tokenizer` build either;
  :func:`vocab_files`: where a spec's vocabularies are.
- :func:`make_batches`: bucketed, token-budgeted batches for ``model.fit``.

The corpus side (:func:`load_dataset`, :func:`prepare`, :func:`make_batches`
and the rest of :mod:`~tf_transformer.data.datasets`) is imported on first
use, and with it TensorFlow Datasets, which registers the TFDS builder
``embedded_pt_en``: translating with a trained run needs only the
tokenizers, and starts faster without TFDS. The generator that wrote the
embedded corpus lives apart, in :mod:`tf_transformer.corpus`.
"""

import importlib

from tf_transformer.constants import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID
from tf_transformer.data.sentencepiece_tokenizer import SentencePieceTokenizer
from tf_transformer.data.spec import EMBEDDED, DatasetSpec, DatasetUnavailableError
from tf_transformer.data.tokenizer import (
    TOKENIZERS,
    Tokenizer,
    Tokenizers,
    build_vocab,
    build_vocab_files,
    default_tokenizer,
    load_tokenizers,
    make_tokenizer,
    tokenizer_kind,
    vocab_files,
)

__all__ = [
    "EMBEDDED",
    "TED",
    "DatasetSpec",
    "DatasetUnavailableError",
    "load_dataset",
    "manual_dir",
    "make_batches",
    "prepare",
    "END_ID",
    "PAD_ID",
    "RESERVED_TOKENS",
    "START_ID",
    "UNK_ID",
    "TOKENIZERS",
    "SentencePieceTokenizer",
    "Tokenizer",
    "Tokenizers",
    "build_vocab",
    "build_vocab_files",
    "default_tokenizer",
    "load_tokenizers",
    "make_tokenizer",
    "tokenizer_kind",
    "vocab_files",
]

# Imported on first use: name -> the submodule that defines it.
_ON_FIRST_USE = {
    "TED": "_tfds",
    "load_dataset": "datasets",
    "manual_dir": "datasets",
    "make_batches": "pipeline",
    "prepare": "prepare",
}


def __getattr__(name):
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_ON_FIRST_USE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
