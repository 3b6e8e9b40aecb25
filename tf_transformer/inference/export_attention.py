"""The export's ``attention`` signature: sentences in, tokens and cross-attention weights out.

``tf-transformer serve`` draws it on its page at ``GET /``. It is the graph
twin of ``Translator.attention``: that method returns NumPy arrays (so it
cannot be traced into a SavedModel) and takes one sentence; this function is
TensorFlow ops only and takes a batch. Both translate greedily, feed
``[START]`` plus the translation back through the model in one
teacher-forced pass, and read the weights from
``Transformer.call_with_attention``; ``tests/serving/test_serving.py`` checks that
they agree.

Signature ``attention``: ``text`` (``tf.string [B]``) ->

- ``source_tokens``: ``tf.string [B, S]``, ``[START]`` ... ``[END]``, ``""`` after the end;
- ``target_tokens``: ``tf.string [B, T]``, ``[START]`` then the translation's
  tokens (no ``[END]``), ``""`` after the end; row t of the weights shows where
  the model looked when it predicted the token after ``target_tokens[t]``;
- ``weights``: ``float32 [B, layers, heads, T, S]``, each real row sums to 1,
  padding rows and columns are 0;
- ``translation``: ``tf.string [B]``, the greedy translation (``serving_default``'s).

In a batch, S and T are the longest row's; a client reading one sentence of a
batch drops the ``""`` tokens and the matching rows and columns.
"""

from __future__ import annotations

import tensorflow as tf

from tf_transformer.constants import END_ID, PAD_ID, START_ID
from tf_transformer.inference.search import greedy_search
from tf_transformer.inference.translator import TEXT_SPEC

ATTENTION_SIGNATURE = "attention"


def attention_outputs(translator, text):
    """Tokens, cross-attention weights and translation of each sentence, in TensorFlow ops.

    Args:
        translator: a ``Translator`` (its model, tokenizers and ``max_length``).
        text: ``tf.string [B]``.

    Returns a dict of tensors, as described in the module docstring.

    Example:
        >>> translator = Translator.from_run(load_run("runs/demo"))  # doctest: +SKIP
        >>> out = attention_outputs(translator, tf.constant(["O gato dorme."]))  # doctest: +SKIP
        >>> out["weights"].shape   # (1, layers, heads, T, S)  # doctest: +SKIP
    """
    model, max_length = translator.model, translator.max_length
    source = translator.source_ids(text)  # (B, S)
    generated = greedy_search(model, source, max_length)[:, : max_length - 1]  # (B, T - 1), room for [START]
    # The words are the tokens before each row's first [END].
    words = tf.equal(tf.cumsum(tf.cast(tf.equal(generated, END_ID), tf.int32), axis=1), 0)
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(words, tf.int32), axis=1)), 0)  # 0: empty batch
    words, body = words[:, :longest], generated[:, :longest]
    start = tf.fill([tf.shape(source)[0], 1], START_ID)
    target = tf.concat([start, tf.where(words, body, PAD_ID)], axis=1)  # (B, T)
    _, attention = model.call_with_attention((source, target), training=False)
    weights = tf.cast(tf.stack(attention.cross, axis=1), tf.float32)  # (B, layers, heads, T, S)
    # Padding gets no weight at all, so that a batch reads like separate sentences.
    real_source, real_target = tf.not_equal(source, PAD_ID), tf.not_equal(target, PAD_ID)
    real = tf.logical_and(real_target[:, :, None], real_source[:, None, :])  # (B, T, S)
    weights *= tf.cast(real, tf.float32)[:, None, None]

    def tokens(tokenizer, ids, real):
        return tf.where(real, tokenizer.lookup(tf.cast(ids, tf.int64)), "")

    return {
        "source_tokens": tokens(translator.source_tokenizer, source, real_source),
        "target_tokens": tokens(translator.target_tokenizer, target, real_target),
        "weights": weights,
        "translation": translator.target_text(generated),
    }


def add_attention_endpoint(archive, translator) -> None:
    """Add the ``attention`` signature for ``translator`` to a ``keras.export.ExportArchive``."""
    archive.add_endpoint(
        ATTENTION_SIGNATURE, lambda text: attention_outputs(translator, text), input_signature=[TEXT_SPEC]
    )
