"""WordPiece tokenizers for Portuguese and English, built locally.

The vocabularies are learned from the training split with
``tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset`` (no
download) and committed as ``data/vocab/pt.txt`` and ``data/vocab/en.txt``.
The reserved tokens come first, so their ids never move::

    [PAD] = 0, [UNK] = 1, [START] = 2, [END] = 3

Casing is kept ("O" and "o" are different tokens) because the corpus is
cased and a translation must come out cased.

:class:`Tokenizer` is a ``tf.Module`` whose methods are ``tf.function``s
with fixed signatures, so it can be saved inside a SavedModel and called
from the serving graph. Its detokenizer is all TensorFlow string ops: it
joins WordPieces, attaches punctuation ("tired ." -> "tired.") and rejoins
contractions ("didn ' t" -> "didn't").

Example::

    tokenizers = load_tokenizers()
    ids = tokenizers.en.tokenize(["The animal didn't cross the street."])
    tokenizers.en.detokenize(ids)   # [b"The animal didn't cross the street."]
"""

from __future__ import annotations

import pathlib

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

from tf_transformer.data._paths import VOCAB_DIR

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]"]
PAD_ID, UNK_ID, START_ID, END_ID = range(4)
LANGUAGES = ("pt", "en")
# The corpus has ~1,800 Portuguese and ~700 English word forms: with this
# target every word that occurs in training becomes one token, and the
# character pieces remain for anything else.
VOCAB_SIZE = 4000
BERT_TOKENIZER_PARAMS = {"lower_case": False}


_STRINGS = tf.TensorSpec([None], tf.string)
_DENSE_IDS = tf.TensorSpec([None, None], tf.int64)
_RAGGED_IDS = tf.RaggedTensorSpec([None, None], tf.int64)


def build_vocab(sentences: tf.data.Dataset, vocab_size: int = VOCAB_SIZE) -> list[str]:
    """Learn a WordPiece vocabulary from a dataset of ``tf.string`` scalars.

    Deterministic: the learner's output is sorted, so the same sentences give
    the same file in any order.
    """
    return bert_vocab.bert_vocab_from_dataset(
        sentences.batch(1000).prefetch(2),
        vocab_size=vocab_size,
        reserved_tokens=RESERVED_TOKENS,
        bert_tokenizer_params=BERT_TOKENIZER_PARAMS,
        learn_params={},
    )


def write_vocab(vocab: list[str], path: pathlib.Path | str) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(token + "\n" for token in vocab), encoding="utf-8")
    return path


def build_vocab_files(pairs: tf.data.Dataset, vocab_dir: pathlib.Path | str = VOCAB_DIR,
                      vocab_size: int = VOCAB_SIZE) -> dict[str, pathlib.Path]:
    """Learn and write ``<vocab_dir>/{pt,en}.txt`` from a dataset of (pt, en) pairs."""
    vocab_dir = pathlib.Path(vocab_dir)
    sentences = {"pt": pairs.map(_source), "en": pairs.map(_target)}
    return {lang: write_vocab(build_vocab(sentences[lang], vocab_size), vocab_dir / f"{lang}.txt")
            for lang in LANGUAGES}


def _source(pt, en):
    return pt


def _target(pt, en):
    return en


class Tokenizer(tf.Module):
    """One language's WordPiece tokenizer, saveable in a SavedModel.

    Args:
        vocab_path: a vocabulary file, one token a line, reserved tokens first.

    ``tokenize(strings [batch]) -> int64 RaggedTensor [batch, (tokens)]`` with
    [START] ... [END]; ``detokenize(ids) -> tf.string [batch]`` for dense
    (0-padded) or ragged ids; ``lookup(ids)`` maps ids to token strings.
    """

    def __init__(self, vocab_path: pathlib.Path | str, name: str | None = None):
        super().__init__(name=name)
        vocab_path = str(vocab_path)
        vocab = pathlib.Path(vocab_path).read_text(encoding="utf-8").splitlines()
        if vocab[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(f"{vocab_path} must start with {RESERVED_TOKENS}, "
                             f"found {vocab[:len(RESERVED_TOKENS)]}")
        self._tokenizer = tf_text.BertTokenizer(vocab_path, lower_case=False,
                                                unknown_token="[UNK]")
        self._vocab_path = tf.saved_model.Asset(vocab_path)
        self.vocab = tf.Variable(vocab, trainable=False, name="vocab")
        self._reserved_tokens = tf.constant(RESERVED_TOKENS)
        # Trace both id layouts now, so that a SavedModel keeps both.
        for spec in (_DENSE_IDS, _RAGGED_IDS):
            self.detokenize.get_concrete_function(spec)
            self.lookup.get_concrete_function(spec)

    @tf.function(input_signature=[_STRINGS])
    def tokenize(self, strings):
        """``[batch] tf.string -> [batch, (tokens)] int64``, with [START] and [END].

        Invalid UTF-8 is replaced (U+FFFD) before tokenizing; characters the
        vocabulary cannot spell become [UNK]; "" becomes [START, END].
        """
        strings = tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        ids = self._tokenizer.tokenize(strings).merge_dims(-2, -1)  # (batch, words, pieces) -> (batch, pieces)
        ids = tf.cast(ids, tf.int64)
        batch = ids.nrows()
        starts = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
        ends = tf.fill([batch, 1], tf.constant(END_ID, tf.int64))
        return tf.concat([starts, ids, ends], axis=1)

    @tf.function
    def detokenize(self, ids):
        """Token ids (dense with 0 padding, or ragged) -> ``[batch] tf.string``.

        Reads each row up to its first [END]; drops [PAD], [START], [END] and
        ids outside the vocabulary; keeps [UNK] visible.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=PAD_ID)
        ended = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1) > 0
        keep = ((ids > END_ID) | tf.equal(ids, UNK_ID)) & ~ended
        keep &= ids < tf.shape(self.vocab, out_type=tf.int64)[0]
        tokens = tf.gather(self.vocab, tf.ragged.boolean_mask(ids, keep))
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        text = tf.strings.regex_replace(text, r" ##", "")  # WordPieces back into words
        text = tf.strings.regex_replace(text, r"^##", "")
        text = tf.strings.regex_replace(text, r" ([.,?!;:])", r"\1")  # "tired ." -> "tired."
        text = tf.strings.regex_replace(text, r"(\S) ' (\S)", r"\1'\2")  # "didn ' t" -> "didn't"
        return text

    @tf.function
    def lookup(self, ids):
        """Token ids (dense or ragged) -> token strings of the same shape."""
        return tf.gather(self.vocab, ids)

    @tf.function(input_signature=[])
    def get_vocab_size(self):
        return tf.shape(self.vocab)[0]

    @tf.function(input_signature=[])
    def get_vocab_path(self):
        return self._vocab_path

    @tf.function(input_signature=[])
    def get_reserved_tokens(self):
        return self._reserved_tokens


class Tokenizers(tf.Module):
    """The pair the model needs: ``tokenizers.pt`` and ``tokenizers.en``."""

    def __init__(self, vocab_dir: pathlib.Path | str = VOCAB_DIR):
        super().__init__(name="tokenizers")
        vocab_dir = pathlib.Path(vocab_dir)
        missing = [lang for lang in LANGUAGES if not (vocab_dir / f"{lang}.txt").exists()]
        if missing:
            raise FileNotFoundError(
                f"no vocabulary for {missing} in {vocab_dir}; run "
                "`python -m tf_transformer prepare` to build it")
        self.pt = Tokenizer(vocab_dir / "pt.txt", name="pt")
        self.en = Tokenizer(vocab_dir / "en.txt", name="en")


def load_tokenizers(vocab_dir: pathlib.Path | str = VOCAB_DIR) -> Tokenizers:
    """Load the committed (or prepared) Portuguese and English tokenizers."""
    return Tokenizers(vocab_dir)
