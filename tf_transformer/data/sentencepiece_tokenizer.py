"""SentencePiece tokenizers: real text back exactly, in any script.

WordPiece (:mod:`~tf_transformer.data.tokenizer`) splits text at spaces and
punctuation and forgets where the spaces were; its detokenizer guesses them
back with rules that fit the embedded corpus and nothing else (``'%s'`` comes
back as ``'% s'``). SentencePiece (Kudo and Richardson, 2018) treats the
space as a character of its own (``▁``), so the pieces hold the whole text:
``detokenize(tokenize(x)) == x`` by construction (for text that does not start
with a space: the prepared corpora never do). With **byte fallback**, a
character the vocabulary lacks is spelled as its UTF-8 bytes (``<0xE2>``...)
instead of ``[UNK]``, so even an emoji or an unseen Han character comes back.
The vocabulary is a **unigram** language model over pieces (the model the
SentencePiece paper recommends; BPE is the other choice it offers):
``benchmarks/tokenizers.py`` measured the three side by side.

The vocabulary is learned with the ``sentencepiece`` package (no download);
the model file (``<language>.model``) is all a tokenizer needs, and TensorFlow
Text's ``SentencepieceTokenizer`` runs it inside the graph, so an exported
SavedModel carries it and loads with ``import tensorflow_text`` alone. Text
is kept as it is written (no Unicode normalisation, no case folding). The
reserved tokens keep their ids, as in WordPiece: ``[PAD]`` 0, ``[UNK]`` 1,
``[START]`` 2, ``[END]`` 3.

Example:
    >>> import tempfile
    >>> path = learn_model(["Arquivo não encontrado: %s", "(%d minutos restantes)"] * 50,
    ...                    pathlib.Path(tempfile.mkdtemp()) / "pt.model", vocab_size=300)
    >>> tokenizer = SentencePieceTokenizer(path, name="pt")
    >>> text = "Não encontrado: '%s' (%d minutos)"
    >>> tokenizer.detokenize(tokenizer.tokenize([text])).numpy()[0].decode() == text
    True
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import pathlib
import tempfile
from collections.abc import Iterable

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.constants import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID

SUFFIX = ".model"
# What SentencePiece recommends for scripts with many characters (Chinese, Japanese): the
# rarest 0.05% of characters are left to byte fallback rather than given pieces of their own.
CHARACTER_COVERAGE = 0.9995
# Sentences the learner reads at most (a random sample of them, when there are more).
MAX_SENTENCES = 500_000
# The text as written (no NFKC, no case folding) takes SentencePiece's "identity" rule, whose
# empty table makes TensorFlow Text's copy of the library print "precompiled_charsmap is empty"
# on stderr every time it loads a model. One mapping of a Unicode noncharacter (U+FDD0, which
# text never holds) to another gives the same text back, and a table that is not empty.
NORMALIZATION_RULE = "FDD0\tFDD1\n"

_STRINGS = tf.TensorSpec([None], tf.string)
_DENSE_IDS = tf.TensorSpec([None, None], tf.int64)
_RAGGED_IDS = tf.RaggedTensorSpec([None, None], tf.int64)


def learn_model(
    sentences: Iterable[str], path: pathlib.Path | str, vocab_size: int = 8000, model_type: str = "unigram"
) -> pathlib.Path:
    """Learn a SentencePiece model (``unigram``, or ``bpe``) from ``sentences``; write it to ``path``.

    ``vocab_size`` is a target: a small corpus gets fewer pieces, and one with many
    characters more (every character, the 256 bytes and the reserved tokens must fit).
    Deterministic: one thread; the learner samples sentences only past :data:`MAX_SENTENCES`.
    """
    import sentencepiece  # only learning needs it; the tokenizer runs in TensorFlow Text

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sentences = list(itertools.islice(sentences, MAX_SENTENCES))
    characters = len(set().union(*map(set, sentences))) if sentences else 0
    options = dict(
        vocab_size=max(vocab_size, characters + 256 + len(RESERVED_TOKENS) + 1),
        hard_vocab_limit=False,
        model_type=model_type,
        character_coverage=CHARACTER_COVERAGE,
        byte_fallback=True,
        remove_extra_whitespaces=False,
        split_digits=True,
        input_sentence_size=MAX_SENTENCES,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=1_000_000,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=START_ID,
        eos_id=END_ID,
        pad_piece=RESERVED_TOKENS[PAD_ID],
        unk_piece=RESERVED_TOKENS[UNK_ID],
        bos_piece=RESERVED_TOKENS[START_ID],
        eos_piece=RESERVED_TOKENS[END_ID],
        num_threads=1,
        minloglevel=2,
    )
    model = io.BytesIO()
    with tempfile.TemporaryDirectory() as scratch:
        rule = pathlib.Path(scratch) / "rule.tsv"  # the text as written (see NORMALIZATION_RULE)
        rule.write_text(NORMALIZATION_RULE, encoding="utf-8")
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, normalization_rule_tsv=str(rule), **options
        )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(model.getvalue())
    tmp.replace(path)  # never a half-written model
    return path


class SentencePieceTokenizer(tf.Module):
    """One language's SentencePiece tokenizer, saveable in a SavedModel; the same methods as
    :class:`~tf_transformer.data.tokenizer.Tokenizer` (WordPiece).

    Args:
        model_path: a model written by :func:`learn_model` (``<language>.model``).
        name: the module's name.

    ``tokenize(strings [batch]) -> int64 RaggedTensor [batch, (tokens)]`` with
    [START] ... [END]; ``detokenize(ids) -> tf.string [batch]`` for dense
    (0-padded) or ragged ids, up to the first [END]; ``lookup(ids)`` maps ids
    to pieces (``▁`` marks a space before the piece).
    """

    def __init__(self, model_path: pathlib.Path | str, name: str | None = None):
        super().__init__(name=name)
        model_path = str(model_path)
        self._model = pathlib.Path(model_path).read_bytes()
        # The op that holds the model keeps it under its node's name, in every graph alike: a
        # name of the model's own, or two tokenizers' graphs would read one model.
        self._scope = "sentencepiece_" + hashlib.sha256(self._model).hexdigest()[:16]
        reader = tf_text.SentencepieceTokenizer(model=self._model, name=self._scope)
        size = int(reader.vocab_size())
        pieces = [p.decode("utf-8") for p in reader.id_to_string(tf.range(size)).numpy()]
        first = pieces[: len(RESERVED_TOKENS)]
        if first != list(RESERVED_TOKENS):
            raise ValueError(f"{model_path} must start with {list(RESERVED_TOKENS)}, found {first}")
        self._vocab_path = tf.saved_model.Asset(model_path)
        self.vocab = tf.Variable(pieces, trainable=False, name="vocab")
        self._reserved_tokens = tf.constant(RESERVED_TOKENS)

    def _pieces(self):
        """TensorFlow Text's tokenizer for the model, made inside each traced function.

        Its model lives in a kernel of its own ("kernel-owned", in TensorFlow Text's words),
        which ``keras.backend.clear_session()`` throws away with every cached kernel: one
        made once, eagerly, would fail after that with a NotFoundError. Made in the graph,
        it is made again whenever its kernel is.
        """
        return tf_text.SentencepieceTokenizer(model=self._model, name=self._scope)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # As WordPiece's: trace both id layouts when a SavedModel is written, not at every start.
        if save_type == "savedmodel":
            for spec in (_DENSE_IDS, _RAGGED_IDS):
                self.detokenize.get_concrete_function(spec)
                self.lookup.get_concrete_function(spec)
        return super()._trackable_children(save_type, **kwargs)

    @tf.function(input_signature=[_STRINGS])
    def tokenize(self, strings):
        """``[batch] tf.string -> [batch, (tokens)] int64``, with [START] and [END]; invalid
        UTF-8 is replaced (U+FFFD) first; "" becomes [START, END]."""
        strings = tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        ids = tf.cast(self._pieces().tokenize(strings), tf.int64)
        batch = ids.nrows()
        starts = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
        ends = tf.fill([batch, 1], tf.constant(END_ID, tf.int64))
        return tf.concat([starts, ids, ends], axis=1)

    @tf.function
    def detokenize(self, ids):
        """Token ids (dense with 0 padding, or ragged) -> ``[batch] tf.string``.

        Reads each row up to its first [END]; drops [PAD], [START], [END] and ids
        outside the vocabulary; [UNK] (which byte fallback leaves for ids the model
        never writes) comes back as SentencePiece spells it.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=PAD_ID)
        ended = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1) > 0
        keep = ((ids > END_ID) | tf.equal(ids, UNK_ID)) & ~ended
        keep &= ids < tf.shape(self.vocab, out_type=tf.int64)[0]
        kept = tf.ragged.boolean_mask(ids, keep)
        return self._pieces().detokenize(tf.cast(kept, tf.int32))

    @tf.function
    def lookup(self, ids):
        """Token ids (dense or ragged) -> pieces of the same shape."""
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
