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
from tf_transformer.inference.search import (
    beam_search,
    beam_size_problem,
    check_beam_size,
    greedy_search,
    max_hypotheses,
)

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
        jit_compile: compile each decoding step with XLA, equal up to float32
            rounding; whether it is faster depends on the machine and the batch
            (``benchmarks/decode_speed.py`` measures it: on a 2-core CPU it was
            not). Off by default, and off in the exported SavedModel, which must
            run in servers without XLA.

    Beam search holds ``beam_size`` hypotheses per sentence, each with its own
    decoder caches: at most ``max_hypotheses`` of them at once (a memory
    budget, see ``search.max_hypotheses``). ``translate`` and calls with a
    known number of sentences split the sentences to stay under it; a
    ``beam_size`` over it on its own raises ``ValueError``, and so does a
    ``beam_size`` below 1. The exported ``beam_search`` signature checks the
    same in its graph.

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
        self.max_hypotheses = max_hypotheses(model.config, self.max_length)
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
        # Checked before anything is sized by it (beam_search checks again, harmlessly): a bad
        # beam_size fails with its own message, not with whatever op meets it first.
        beam_size = check_beam_size(beam_size, tf.shape(text)[0], self.max_hypotheses)
        ids, _ = beam_search(
            self.model, self.source_ids(text), beam_size, self.max_length, self.alpha, self.jit_compile
        )
        return self.target_text(ids)

    def validate_beam_size(self, beam_size: int) -> int:
        """``beam_size`` if it can work (``1 <= beam_size <= max_hypotheses``), else ``ValueError``."""
        if problem := beam_size_problem(beam_size, self.max_hypotheses):
            raise ValueError(problem)
        return beam_size

    def sentences_per_call(self, beam_size: int) -> int:
        """Most sentences one beam search of ``beam_size`` may take (``max_hypotheses // beam_size``)."""
        return self.max_hypotheses // self.validate_beam_size(beam_size)

    def __call__(self, text, beam_size=1):
        """Strings ``[B]`` -> translations ``[B]`` (``tf.string``).

        With beam search, more than ``sentences_per_call(beam_size)`` sentences
        are translated in several calls.
        """
        step = self.sentences_per_call(beam_size)
        text = tf.convert_to_tensor(text, tf.string)
        if beam_size == 1:
            return self.greedy(text)
        size = tf.constant(beam_size, tf.int32)
        count = text.shape[0]
        if count is None or count <= step:  # (an unknown count: the graph checks it)
            return self.beam(text, size)
        return tf.concat([self.beam(text[i : i + step], size) for i in range(0, count, step)], axis=0)

    def translate(self, sentences, beam_size=1, batch_size=64):
        """Python strings in, Python strings out; a single string gives a single string.

        Sentences go in batches of ``batch_size``, fewer where beam search
        needs it (``sentences_per_call``), longest first: sentences of about
        the same length share a batch, so a batch pads less and its search
        stops sooner (it runs until its longest translation ends). The
        translations come back in the order of ``sentences``.
        """
        single = isinstance(sentences, (str, bytes))
        sentences = [sentences] if single else list(sentences)
        batch_size = max(1, min(batch_size, self.sentences_per_call(beam_size)))
        order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))  # stable
        out = [""] * len(sentences)
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            batch = self(tf.constant([sentences[r] for r in rows], tf.string), beam_size)
            for r, text in zip(rows, batch.numpy()):
                out[r] = text.decode("utf-8", errors="replace")
        return out[0] if single else out

    def source_lengths(self, sentences):
        """Token count of each sentence before truncation (compare with ``max_length``)."""
        return self.source_tokens(tf.constant(list(sentences), tf.string)).row_lengths().numpy().tolist()

    # -- attention, for plots ----------------------------------------------------------------

    def attention(self, sentence, beam_size=1):
        """Translate one sentence and return every layer's and head's cross-attention.

        The translation is fed back through the model in one teacher-forced
        pass, ``Transformer.call_with_attention`` (the cached search does not
        keep the weights).
        """
        self.validate_beam_size(beam_size)
        source = self.source_ids(tf.constant([sentence]))  # (1, S)
        if beam_size == 1:
            generated = greedy_search(self.model, source, self.max_length)
        else:
            generated, _ = beam_search(self.model, source, beam_size, self.max_length, self.alpha)
        generated = generated[:, : self.max_length - 1]  # the decoder input keeps [START]
        ends = tf.equal(generated[0], END_ID)
        keep = tf.reduce_sum(tf.cast(tf.equal(tf.cumsum(tf.cast(ends, tf.int32)), 0), tf.int32))
        target = tf.concat([[[START_ID]], generated[:, :keep]], axis=1)  # [START] + words
        _, attention = self.model.call_with_attention((source, target), training=False)

        def tokens(tokenizer, ids):
            return [t.decode("utf-8", errors="replace") for t in tokenizer.lookup(ids).numpy()[0]]

        return AttentionMap(
            source_tokens=tokens(self.source_tokenizer, tf.cast(source, tf.int64)),
            target_tokens=tokens(self.target_tokenizer, tf.cast(target, tf.int64)),
            weights=np.stack([w.numpy()[0] for w in attention.cross]),
            translation=self.target_text(generated).numpy()[0].decode("utf-8", errors="replace"),
        )
