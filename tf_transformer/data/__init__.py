"""Data: corpora, tokenizers and batches, for any language pair in either direction.

- :class:`DatasetSpec` names a corpus: ``embedded`` (the default, pt→en,
  ships with the package), a TFDS translation dataset, ``tsv:PATH`` or
  ``text:SRC_PATH,TGT_PATH``; ``reverse`` swaps the sides.
- :func:`load_dataset` gives ``(source, target)`` string pairs.
- :func:`prepare` (``tf-transformer prepare``) prepares a corpus and its
  vocabularies, and reports sizes, skipped lines and round-trip rates.
- :class:`Tokenizer` / :func:`load_tokenizers`: WordPiece tokenizers;
  :func:`vocab_files`: where a spec's vocabularies are.
- :func:`make_batches`: bucketed, token-budgeted batches for ``model.fit``.

Importing this package registers the TFDS builder ``embedded_pt_en``. The
generator that wrote the embedded corpus lives apart, in
:mod:`tf_transformer.data.generator`.
"""

from tf_transformer.constants import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID
from tf_transformer.data import tfds_embedded  # noqa: F401  (registers embedded_pt_en)
from tf_transformer.data.datasets import TED, DatasetUnavailableError, load_dataset, manual_dir
from tf_transformer.data.pipeline import make_batches
from tf_transformer.data.prepare import prepare
from tf_transformer.data.spec import EMBEDDED, DatasetSpec
from tf_transformer.data.tokenizer import (
    Tokenizer,
    Tokenizers,
    build_vocab,
    build_vocab_files,
    load_tokenizers,
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
    "Tokenizer",
    "Tokenizers",
    "build_vocab",
    "build_vocab_files",
    "load_tokenizers",
    "vocab_files",
]
