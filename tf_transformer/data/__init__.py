"""Data: the embedded pt→en corpus, its TFDS builder, tokenizers and batches.

- :mod:`~tf_transformer.data.corpus` generates ``data/embedded_pt_en`` from
  :mod:`~tf_transformer.data.lexicon` and :mod:`~tf_transformer.data.grammar`.
- :mod:`~tf_transformer.data.tfds_embedded` registers the TFDS builder
  ``embedded_pt_en`` (importing this package is enough).
- :func:`load_dataset` gives ``(pt, en)`` string pairs.
- :class:`Tokenizer` / :func:`load_tokenizers`: WordPiece tokenizers.
- :func:`make_batches`: bucketed, token-budgeted batches for ``model.fit``.
- :func:`prepare`: what ``python -m tf_transformer prepare`` runs.
"""

from tf_transformer.data import tfds_embedded  # noqa: F401  (registers embedded_pt_en)
from tf_transformer.data.datasets import (
    DATASETS, EMBEDDED, TED, DatasetUnavailableError, load_dataset, manual_dir)
from tf_transformer.data.pipeline import make_batches
from tf_transformer.data.prepare import prepare
from tf_transformer.data.tokenizer import (
    END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID, Tokenizer, Tokenizers, build_vocab,
    build_vocab_files, load_tokenizers)

__all__ = [
    "DATASETS", "EMBEDDED", "TED", "DatasetUnavailableError", "load_dataset", "manual_dir",
    "make_batches", "prepare", "END_ID", "PAD_ID", "RESERVED_TOKENS", "START_ID", "UNK_ID",
    "Tokenizer", "Tokenizers", "build_vocab", "build_vocab_files", "load_tokenizers",
]
