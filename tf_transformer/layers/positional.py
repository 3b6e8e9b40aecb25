"""Positional encoding (paper section 3.5) and the embedding that adds it."""

import math

import keras
import numpy as np
import tensorflow as tf

from tf_transformer.constants import POSITIONS


def positional_encoding(length, depth):
    """The paper's sinusoidal position table, float32 ``[length, depth]``.

    Row ``pos`` holds, for ``i = 0 .. depth/2 - 1``::

        PE[pos, 2i]     = sin(pos / 10000 ** (2i / depth))
        PE[pos, 2i + 1] = cos(pos / 10000 ** (2i / depth))

    The sines and cosines are *interleaved* (even columns sin, odd columns
    cos), exactly as the paper's equation writes them. TensorFlow's tutorial
    concatenates them instead (all sines, then all cosines); that is the same
    set of features in another column order, and a learned model does not
    care, but interleaving lets the formula above be checked column by column.
    Each sin/cos pair rotates at one frequency, so ``PE[pos + k]`` is a fixed
    linear function (a rotation per pair) of ``PE[pos]``: the property the
    paper cites for choosing sinusoids.

    Example:
        >>> positional_encoding(50, 16).shape
        TensorShape([50, 16])
    """
    if depth % 2:
        raise ValueError(f"positional_encoding needs an even depth, got {depth}.")
    positions = np.arange(length, dtype=np.float64)[:, None]  # (L, 1)
    inv_freq = 1.0 / 10000 ** (np.arange(0, depth, 2) / depth)  # (depth/2,)
    angles = positions * inv_freq[None, :]  # (L, depth/2)
    table = np.stack([np.sin(angles), np.cos(angles)], axis=-1)  # (L, depth/2, 2)
    return tf.constant(table.reshape(length, depth), dtype=tf.float32)  # (L, depth)


@keras.saving.register_keras_serializable(package="tf_transformer")
class PositionalEmbedding(keras.layers.Layer):
    """Token embedding times sqrt(d_model), plus the positional encoding.

    The scale (paper section 3.4) keeps the embeddings, initialised small, on
    the same footing as the unit-size sinusoids they are added to.

    Args:
        vocab_size: number of token ids (0 is padding).
        d_model: embedding width.
        max_length: rows of the positional table; longer inputs are an error.
        positions: what is added for the position: ``"sinusoidal"`` (the
            paper's fixed table), ``"learned"`` (a trained table of the same
            shape, initialised like the token embedding: the variant of the
            paper's Table 3, row E) or ``"none"`` (nothing: the model sees
            a bag of tokens, apart from the decoder's causal mask).

    Call args:
        token_ids: int ``[batch, seq]``.
        start: position of the first token (a cached decoder embeds the single
            token at step ``t`` with ``start=t``).

    Returns float ``[batch, seq, d_model]``.

    Example:
        >>> emb = PositionalEmbedding(vocab_size=100, d_model=8, max_length=16)
        >>> emb(tf.constant([[5, 6, 0]])).shape
        TensorShape([1, 3, 8])
    """

    def __init__(self, vocab_size, d_model, max_length=128, positions="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}, got {positions!r}.")
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_length = max_length
        self.positions = positions
        # No mask_zero: masks are derived from the ids and passed explicitly
        # (Keras 3 drops implicit masks inside attention and residual adds).
        self.embedding = keras.layers.Embedding(vocab_size, d_model, name="token_embedding")
        self.encoding = positional_encoding(max_length, d_model) if positions == "sinusoidal" else None
        self.position_embedding = (
            keras.layers.Embedding(max_length, d_model, name="position_embedding")
            if positions == "learned"
            else None
        )

    def build(self, input_shape):
        self.embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((None,))

    def call(self, token_ids, start=0):
        length = tf.shape(token_ids)[1]
        tf.debugging.assert_less_equal(
            start + length,
            self.max_length,
            message=f"sequence longer than max_length={self.max_length}; truncate it first",
        )
        x = self.embedding(token_ids) * math.sqrt(self.d_model)  # (B, T, d)
        if self.positions == "none":
            return x
        # A gather, not a slice with a tensor start: XLA can compile it.
        rows = start + tf.range(length)  # (T,)
        if self.positions == "learned":
            positions = self.position_embedding(rows)  # (T, d), trained
        else:
            positions = tf.gather(self.encoding, rows)  # (T, d), fixed
        return x + tf.cast(positions, x.dtype)[None]

    def reverse(self, x):
        """Project ``[..., d_model]`` back onto the vocabulary with the embedding matrix.

        Used for weight tying: the pre-softmax layer is the transposed embedding.
        """
        return tf.matmul(x, tf.cast(self.embedding.embeddings, x.dtype), transpose_b=True)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "max_length": self.max_length,
            "positions": self.positions,
        }
