"""Tokenizers for the source and target sides, learned locally: WordPiece or SentencePiece.

Two kinds (``--tokenizer`` on ``prepare`` and ``train``):

- ``wordpiece``: :class:`Tokenizer`, below, the course's tokenizer and the
  embedded corpus's (its vocabularies ship with the package);
- ``sentencepiece``: :class:`~tf_transformer.data.sentencepiece_tokenizer.SentencePieceTokenizer`,
  the default for every other corpus, because it gives real text back exactly
  (``'%s'``, ``(%d minutes)``, any script); ``benchmarks/tokenizers.py`` measured both.

A vocabulary file says its kind: ``<language>.txt`` (WordPiece tokens, one a
line) or ``<language>.model`` (a SentencePiece model); :func:`make_tokenizer`
reads either.

The rest of this docstring is about WordPiece.

The vocabularies are learned from a corpus's training split with
``tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset`` (no
download). The embedded corpus ships its two (``data/vocab/pt.txt`` and
``en.txt``); ``prepare`` learns the others into the TFDS data dir (see
:func:`vocab_files`). The reserved tokens come first, so their ids never
move::

    [PAD] = 0, [UNK] = 1, [START] = 2, [END] = 3

Casing is kept ("O" and "o" are different tokens) because a translation
must come out cased.

:class:`Tokenizer` is a ``tf.Module`` whose methods are ``tf.function``s
with fixed signatures, so it can be saved inside a SavedModel and called
from the serving graph. Its detokenizer is all TensorFlow string ops: it
joins WordPieces, attaches punctuation ("tired ." -> "tired."), rejoins
contractions ("didn ' t" -> "didn't") and writes Chinese and Japanese
without spaces ("我 喜 欢 。" -> "我喜欢。"): the tokenizer splits every Han
character into a word of its own, and those scripts put no space between words.

Example (the embedded corpus, pt -> en):
    >>> tokenizers = load_tokenizers()
    >>> ids = tokenizers.target.tokenize(["The animal didn't cross the street."])
    >>> tokenizers.target.detokenize(ids).numpy()[0].decode()
    "The animal didn't cross the street."
    >>> tokenizers.en is tokenizers.target  # by language code, too
    True
"""

from __future__ import annotations

import pathlib
import re

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

from tf_transformer.constants import END_ID, PAD_ID, RESERVED_TOKENS, SIDES, SOURCE, START_ID, TARGET, UNK_ID
from tf_transformer.data import local
from tf_transformer.data import sentencepiece_tokenizer as sentencepiece
from tf_transformer.data._paths import cache_dir, embedded_vocab_dir
from tf_transformer.data.spec import DatasetSpec

WORDPIECE, SENTENCEPIECE = "wordpiece", "sentencepiece"
TOKENIZERS = (WORDPIECE, SENTENCEPIECE)
# A vocabulary file's suffix names its kind.
SUFFIXES = {WORDPIECE: ".txt", SENTENCEPIECE: sentencepiece.SUFFIX}

# The embedded corpus has ~1,800 Portuguese and ~700 English word forms: with
# this target every word that occurs in training becomes one token, and the
# character pieces remain for anything else.
EMBEDDED_VOCAB_SIZE = 4000
# Real corpora: measured, not the 8,000 TensorFlow's translation tutorial uses for TED talks. The
# real-text recipe on the pt_BR catalogs (21 thousand pairs), 10 minutes on 2 CPU cores, seed 0
# (benchmarks/results/real_text_sweep.md): SentencePiece 2,000 per side, test BLEU 29.25 greedy;
# 4,000, 32.61; 8,000, 25.37. A smaller vocabulary makes a smaller softmax (faster steps) and
# more examples of each piece; too small, and sentences grow long.
VOCAB_SIZE = 4000
BERT_TOKENIZER_PARAMS = {"lower_case": False}

# Characters written without spaces between words: CJK punctuation, kana, Han
# ideographs (the ranges tensorflow-text's BertTokenizer splits one by one) and
# full-width forms. RE2 syntax, for tf.strings.regex_replace.
_NO_SPACE_CHARS = (
    r"[\x{3001}-\x{30FF}\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}"
    r"\x{FF01}-\x{FFEF}\x{20000}-\x{2FA1F}]"
)

_STRINGS = tf.TensorSpec([None], tf.string)
_DENSE_IDS = tf.TensorSpec([None, None], tf.int64)
_RAGGED_IDS = tf.RaggedTensorSpec([None, None], tf.int64)


# -------------------------------------------------------------- learning a vocabulary
def build_vocab(sentences: tf.data.Dataset, vocab_size: int = EMBEDDED_VOCAB_SIZE) -> list[str]:
    """Learn a WordPiece vocabulary from a dataset of ``tf.string`` scalars.

    Deterministic: the learner's output is sorted, so the same sentences give
    the same file in any order.

    Args:
        sentences: one side of a corpus (``pairs.map(lambda s, t: s)``).
        vocab_size: the learner's target size; it may end a little above or below.

    Returns:
        The tokens, reserved tokens first.
    """
    return bert_vocab.bert_vocab_from_dataset(
        sentences.batch(1000).prefetch(2),
        vocab_size=vocab_size,
        reserved_tokens=list(RESERVED_TOKENS),
        bert_tokenizer_params=BERT_TOKENIZER_PARAMS,
        # The learner keeps only the 1,000 most frequent characters by default: too
        # few for Chinese or Japanese, where each character is a word of its own.
        learn_params={"max_unique_chars": max(1000, vocab_size // 2)},
    )


def write_vocab(vocab: list[str], path: pathlib.Path | str) -> pathlib.Path:
    """Write one token a line; returns the path."""
    from tf_transformer import files

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic, with a temporary name of this process's own: never a half-written vocabulary, and
    # two processes writing the same one never write into each other's temporary file.
    files.write_text(path, "".join(token + "\n" for token in vocab))
    return path


def build_vocab_files(
    pairs: tf.data.Dataset,
    vocab_dir: pathlib.Path | str,
    *,
    languages: tuple[str, str] = SIDES,
    vocab_size: int = EMBEDDED_VOCAB_SIZE,
    tokenizer: str = WORDPIECE,
) -> dict[str, pathlib.Path]:
    """Learn both sides' vocabularies and write ``<vocab_dir>/<language>.txt`` (or ``.model``).

    Args:
        pairs: ``(source, target)`` string pairs (a training split).
        vocab_dir: where to write.
        languages: the file names' codes, ``(source, target)``.
        vocab_size: the learner's target size per side.
        tokenizer: ``"wordpiece"`` or ``"sentencepiece"``.

    Returns:
        ``{"source": path, "target": path}``.
    """
    vocab_dir = pathlib.Path(vocab_dir)
    sides = {
        SOURCE: pairs.map(lambda source, target: source),
        TARGET: pairs.map(lambda source, target: target),
    }
    files = {}
    for side, lang in zip(SIDES, languages):
        path = vocab_dir / f"{lang}{SUFFIXES[check_tokenizer(tokenizer)]}"
        if tokenizer == SENTENCEPIECE:
            text = (line.decode("utf-8") for line in sides[side].as_numpy_iterator())
            files[side] = sentencepiece.learn_model(text, path, vocab_size)
        else:
            files[side] = write_vocab(build_vocab(sides[side], vocab_size), path)
    return files


def check_tokenizer(tokenizer: str) -> str:
    """``tokenizer`` if it is a kind this package has; a ``ValueError`` that lists them if not."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
    return tokenizer


def default_tokenizer(spec: DatasetSpec | str) -> str:
    """WordPiece for the embedded corpus (its vocabularies ship with the package), SentencePiece
    for every other corpus (real text comes back exactly)."""
    return WORDPIECE if DatasetSpec.parse(spec).kind == "embedded" else SENTENCEPIECE


def tokenizer_kind(vocab_file: pathlib.Path | str) -> str:
    """The kind of tokenizer a vocabulary file is for, by its suffix."""
    return SENTENCEPIECE if pathlib.Path(vocab_file).suffix == SUFFIXES[SENTENCEPIECE] else WORDPIECE


def make_tokenizer(vocab_file: pathlib.Path | str, name: str | None = None):
    """A :class:`Tokenizer` for a ``.txt`` vocabulary, a ``SentencePieceTokenizer`` for a ``.model``."""
    if tokenizer_kind(vocab_file) == SENTENCEPIECE:
        return sentencepiece.SentencePieceTokenizer(vocab_file, name=name)
    return Tokenizer(vocab_file, name=name)


# ---------------------------------------------------------------- the tokenizer
class Tokenizer(tf.Module):
    """One language's WordPiece tokenizer, saveable in a SavedModel.

    Args:
        vocab_path: a vocabulary file, one token a line, reserved tokens first.
        name: the module's name (a language code reads well).

    ``tokenize(strings [batch]) -> int64 RaggedTensor [batch, (tokens)]`` with
    [START] ... [END]; ``detokenize(ids) -> tf.string [batch]`` for dense
    (0-padded) or ragged ids; ``lookup(ids)`` maps ids to token strings.

    Example:
        >>> tokenizer = Tokenizer(vocab_files("embedded")["source"], name="pt")
        >>> ids = tokenizer.tokenize(["O gato dorme."])
        >>> [token.decode() for token in tokenizer.lookup(ids)[0].numpy()]
        ['[START]', 'O', 'gato', 'dorme', '.', '[END]']
        >>> tokenizer.detokenize(ids).numpy()[0].decode()
        'O gato dorme.'
    """

    def __init__(self, vocab_path: pathlib.Path | str, name: str | None = None):
        super().__init__(name=name)
        vocab_path = str(vocab_path)
        vocab = pathlib.Path(vocab_path).read_text(encoding="utf-8").splitlines()
        if vocab[: len(RESERVED_TOKENS)] != list(RESERVED_TOKENS):
            raise ValueError(
                f"{vocab_path} must start with {list(RESERVED_TOKENS)}, found {vocab[: len(RESERVED_TOKENS)]}"
            )
        self._tokenizer = tf_text.BertTokenizer(
            vocab_path, lower_case=False, unknown_token=RESERVED_TOKENS[UNK_ID]
        )
        self._vocab_path = tf.saved_model.Asset(vocab_path)
        self.vocab = tf.Variable(vocab, trainable=False, name="vocab")
        self._reserved_tokens = tf.constant(RESERVED_TOKENS)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # A SavedModel keeps only the traces a function has: trace detokenize and lookup
        # for both id layouts when one is written (directly or inside an export), not
        # in __init__, where every cold start of `translate` would pay for them.
        if save_type == "savedmodel":
            for spec in (_DENSE_IDS, _RAGGED_IDS):
                self.detokenize.get_concrete_function(spec)
                self.lookup.get_concrete_function(spec)
        return super()._trackable_children(save_type, **kwargs)

    @tf.function(input_signature=[_STRINGS])
    def tokenize(self, strings):
        """``[batch] tf.string -> [batch, (tokens)] int64``, with [START] and [END].

        Invalid UTF-8 is replaced (U+FFFD) before tokenizing; characters the
        vocabulary cannot spell become [UNK]; "" becomes [START, END].
        """
        strings = tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        ids = self._tokenizer.tokenize(strings).merge_dims(
            -2, -1
        )  # (batch, words, pieces) -> (batch, pieces)
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
        # No space next to a Han character, kana or CJK punctuation: "我 喜 欢 。" -> "我喜欢。"
        text = tf.strings.regex_replace(text, f"({_NO_SPACE_CHARS}) ", r"\1")
        text = tf.strings.regex_replace(text, f" ({_NO_SPACE_CHARS})", r"\1")
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
    """The pair a model needs: ``.source`` and ``.target``, also reachable by language code.

    Args:
        source_vocab, target_vocab: the two vocabulary files.
        source_language, target_language: language codes (``"pt"``, ``"en"``),
            or the placeholders ``"source"`` / ``"target"``.

    Example:
        >>> tokenizers = load_tokenizers("embedded")
        >>> tokenizers.source_language, tokenizers.pt is tokenizers.source
        ('pt', True)
    """

    def __init__(
        self,
        source_vocab: pathlib.Path | str,
        target_vocab: pathlib.Path | str,
        *,
        source_language: str = SOURCE,
        target_language: str = TARGET,
    ):
        super().__init__(name="tokenizers")
        self.source_language, self.target_language = source_language, target_language
        self.source = make_tokenizer(source_vocab, name=_module_name(source_language, SOURCE))
        self.target = make_tokenizer(target_vocab, name=_module_name(target_language, TARGET))
        # `tokenizers.pt` reads better than `tokenizers.source` in a notebook; a code
        # that would shadow an attribute (or the other side's) is left out.
        for language, tokenizer in ((source_language, self.source), (target_language, self.target)):
            if language.isidentifier() and source_language != target_language and not hasattr(self, language):
                setattr(self, language, tokenizer)


def _module_name(language: str, side: str) -> str:
    return language if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", language) else side


# ------------------------------------------------------- where vocabularies live
def vocab_dir(spec: DatasetSpec | str = "embedded", *, data_dir=None) -> pathlib.Path:
    """Where ``prepare`` writes the vocabularies it learns for ``spec``.

    Always under the TFDS data dir: ``<data_dir>/tf_transformer/...``; a
    local corpus keeps them beside its prepared files (so a changed file
    needs new ones).
    """
    spec = DatasetSpec.parse(spec)
    if spec.is_local:
        return local.prepared_path(spec, data_dir) / "vocab"
    if spec.kind == "embedded":
        return cache_dir(data_dir) / "embedded" / "vocab"
    return cache_dir(data_dir) / "tfds" / re.sub(r"[^A-Za-z0-9._-]+", "_", spec.name) / "vocab"


def vocab_files(
    spec: DatasetSpec | str = "embedded", *, data_dir=None, tokenizer: str | None = None
) -> dict[str, pathlib.Path]:
    """The vocabulary files of ``spec``'s source and target sides.

    Learned ones (``prepare`` wrote them into :func:`vocab_dir`) come first;
    the embedded corpus's WordPiece falls back to the ones it ships with.
    ``reverse`` swaps the two. ``tokenizer``: which kind (default:
    :func:`default_tokenizer`).

    Returns:
        ``{"source": Path, "target": Path}``.

    Raises:
        FileNotFoundError: none learned yet (the message says how to learn them).
    """
    spec = DatasetSpec.parse(spec)
    tokenizer = check_tokenizer(tokenizer or default_tokenizer(spec))
    learned = vocab_dir(spec, data_dir=data_dir)
    names = [f"{lang}{SUFFIXES[tokenizer]}" for lang in spec.corpus_languages]
    if not all((learned / n).is_file() for n in names):
        if spec.kind != "embedded" or tokenizer != WORDPIECE:
            flags = "".join(
                f" --{flag.replace('_', '-')} {getattr(spec, flag)}"
                for flag in ("source_column", "target_column")
                if spec.kind == "tsv"
            )
            if tokenizer != default_tokenizer(spec):
                flags += f" --tokenizer {tokenizer}"
            data = f" --data-dir {data_dir}" if data_dir else ""
            raise FileNotFoundError(
                f"no {tokenizer} vocabularies for {spec.name} in {learned}; run "
                f"`tf-transformer prepare --dataset {spec.name}{flags}{data}` first"
            )
        learned = embedded_vocab_dir()
    paths = [learned / n for n in names]
    if spec.reverse:
        paths.reverse()
    return dict(zip(SIDES, paths))


def load_tokenizers(
    spec: DatasetSpec | str = "embedded", *, data_dir=None, tokenizer: str | None = None
) -> Tokenizers:
    """The source and target tokenizers of ``spec`` (see :func:`vocab_files`).

    Example:
        >>> en_to_pt = load_tokenizers(DatasetSpec.parse("embedded", reverse=True))
        >>> en_to_pt.source_language, en_to_pt.target_language
        ('en', 'pt')
    """
    spec = DatasetSpec.parse(spec)
    files = vocab_files(spec, data_dir=data_dir, tokenizer=tokenizer)
    source_language, target_language = spec.languages
    return Tokenizers(
        files[SOURCE], files[TARGET], source_language=source_language, target_language=target_language
    )
