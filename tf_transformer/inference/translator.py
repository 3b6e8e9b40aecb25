"""``Translator``: source-language strings in, target-language strings out, batched, in TensorFlow ops.

Strings go through the same steps in Python, in the CLI and in the exported
SavedModel, because all three call the functions defined here:

1. ``source_ids``: tokenize (the tokenizer first replaces invalid UTF-8
   bytes with U+FFFD), truncate to ``max_length`` tokens (keeping ``[START]`` and
   ``[END]``), pad. A sentence with no tokens at all becomes a row of padding,
   which the searches translate to nothing.
2. ``search.greedy_search`` or ``search.beam_search`` on the ids.
3. ``target_text``: cut each row at ``[END]``, detokenize.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tf_transformer.constants import END_ID, MIN_MAX_LENGTH, PAD_ID, START_ID
from tf_transformer.inference.search import beam_search, greedy_search

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")
BEAM_SIZE_SPEC = tf.TensorSpec([], tf.int32, name="beam_size")


@dataclasses.dataclass
class AttentionMap:
    """Cross-attention of one translated sentence, for plotting.

    Attributes:
        source_tokens: the S source tokens (``[START]`` ... ``[END]``).
        target_tokens: the T target tokens fed to the decoder (``[START]``
            then the translation); row t shows where the model looked when
            it predicted the token after ``target_tokens[t]``.
        weights: float32 ``[layers, heads, T, S]``; each row sums to 1.
        translation: the translated sentence.
    """

    source_tokens: list[str]
    target_tokens: list[str]
    weights: np.ndarray
    translation: str


class Translator:
    """Translate with a trained ``Transformer`` and its two tokenizers.

    Args:
        model: a built ``Transformer``.
        source_tokenizer, target_tokenizer: ``tokenize(strings)`` -> ragged ids with
            ``[START]``/``[END]``; ``detokenize(ids)`` -> strings;
            ``lookup(ids)`` -> ragged token strings.
        max_length: longest source, in tokens, and longest translation; at
            most (and by default) ``model.config.max_length``.
        alpha: beam search's length-penalty exponent.
        jit_compile: compile each decoding step with XLA: several times faster
            on a CPU, equal up to float32 rounding. Off by default, and off in
            the exported SavedModel, which must run in servers without XLA.

    Example:
        >>> run = load_run("runs/demo")  # doctest: +SKIP
        >>> translator = Translator(run.model, run.source_tokenizer, run.target_tokenizer)  # doctest: +SKIP
        >>> translator.translate(["Eu gosto de gatos.", ""], beam_size=4)  # doctest: +SKIP
        ['I like cats.', '']
    """

    def __init__(
        self, model, source_tokenizer, target_tokenizer, max_length=None, alpha=0.6, jit_compile=False
    ):
        limit = model.config.max_length
        if max_length is not None and not MIN_MAX_LENGTH <= max_length <= limit:
            raise ValueError(
                f"max_length must be between {MIN_MAX_LENGTH} and the model's "
                f"max_length ({limit}), got {max_length}."
            )
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_length = max_length or limit
        self.alpha = float(alpha)
        self.jit_compile = bool(jit_compile)
        # One graph each, traced once: any batch size, any beam size.
        self.greedy = tf.function(self._greedy, input_signature=[TEXT_SPEC])
        self.beam = tf.function(self._beam, input_signature=[TEXT_SPEC, BEAM_SIZE_SPEC])

    @classmethod
    def from_run(cls, run, alpha=0.6, jit_compile=False):
        """A translator for a loaded run (``load_run``): its model, tokenizers and length limit."""
        return cls(
            run.model,
            run.source_tokenizer,
            run.target_tokenizer,
            max_length=min(run.max_length, run.config.max_length),
            alpha=alpha,
            jit_compile=jit_compile,
        )

    # -- strings <-> ids (TensorFlow ops, so the SavedModel holds them too) ----------------

    def source_tokens(self, text):
        """Ragged int64 token ids of each sentence, ``[START]``/``[END]`` included, untruncated.

        The tokenizer replaces invalid UTF-8 bytes with U+FFFD first.
        """
        return self.source_tokenizer.tokenize(tf.convert_to_tensor(text, tf.string))

    def source_ids(self, text):
        """Strings ``[B]`` -> int32 ``[B, S]`` model input, truncated to ``max_length`` and padded."""
        tokens = self.source_tokens(text)
        body = tokens[:, 1:-1][:, : self.max_length - 2]  # the words, without [START]/[END]
        ids = tf.concat([tokens[:, :1], body, tokens[:, -1:]], axis=1)
        ids = ids * tf.cast(body.row_lengths() > 0, ids.dtype)[:, None]  # no words: all padding
        return tf.cast(ids.to_tensor(default_value=PAD_ID), tf.int32)

    def target_text(self, ids):
        """Generated ids ``[B, T]`` -> strings ``[B]`` (the tokenizer reads each row up to ``[END]``)."""
        return self.target_tokenizer.detokenize(tf.cast(ids, tf.int64))

    # -- the two searches, as strings -> strings --------------------------------------------

    def _greedy(self, text):
        return self.target_text(
            greedy_search(self.model, self.source_ids(text), self.max_length, self.jit_compile)
        )

    def _beam(self, text, beam_size):
        tf.debugging.assert_positive(beam_size, message="beam_size must be at least 1")
        ids, _ = beam_search(
            self.model, self.source_ids(text), beam_size, self.max_length, self.alpha, self.jit_compile
        )
        return self.target_text(ids)

    def __call__(self, text, beam_size=1):
        """Strings ``[B]`` -> translations ``[B]`` (``tf.string``)."""
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}.")
        text = tf.convert_to_tensor(text, tf.string)
        if beam_size == 1:
            return self.greedy(text)
        return self.beam(text, tf.constant(beam_size, tf.int32))

    def translate(self, sentences, beam_size=1, batch_size=64):
        """Python strings in, Python strings out; a single string gives a single string."""
        single = isinstance(sentences, (str, bytes))
        sentences = [sentences] if single else list(sentences)
        out = []
        for i in range(0, len(sentences), batch_size):
            batch = self(tf.constant(sentences[i : i + batch_size], tf.string), beam_size)
            out += [s.decode("utf-8", errors="replace") for s in batch.numpy()]
        return out[0] if single else out

    def source_lengths(self, sentences):
        """Token count of each sentence before truncation (compare with ``max_length``)."""
        return self.source_tokens(tf.constant(list(sentences), tf.string)).row_lengths().numpy().tolist()

    # -- attention, for plots ----------------------------------------------------------------

    def attention(self, sentence, beam_size=1):
        """Translate one sentence and return every layer's and head's cross-attention.

        The translation is fed back through the decoder in one teacher-forced
        pass that returns the attention weights (the cached search does not
        keep them).
        """
        source = self.source_ids(tf.constant([sentence]))  # (1, S)
        if beam_size == 1:
            generated = greedy_search(self.model, source, self.max_length)
        else:
            generated, _ = beam_search(self.model, source, beam_size, self.max_length, self.alpha)
        generated = generated[:, : self.max_length - 1]  # the decoder input keeps [START]
        ends = tf.equal(generated[0], END_ID)
        keep = tf.reduce_sum(tf.cast(tf.equal(tf.cumsum(tf.cast(ends, tf.int32)), 0), tf.int32))
        target = tf.concat([[[START_ID]], generated[:, :keep]], axis=1)  # [START] + words
        context, context_mask = self.model.encode(source, training=False)
        _, weights = self.model.decode_with_attention(target, context, context_mask, training=False)

        def tokens(tokenizer, ids):
            return [t.decode("utf-8", errors="replace") for t in tokenizer.lookup(ids).numpy()[0]]

        return AttentionMap(
            source_tokens=tokens(self.source_tokenizer, tf.cast(source, tf.int64)),
            target_tokens=tokens(self.target_tokenizer, tf.cast(target, tf.int64)),
            weights=np.stack([w.numpy()[0] for w in weights]),
            translation=self.target_text(generated).numpy()[0].decode("utf-8", errors="replace"),
        )
