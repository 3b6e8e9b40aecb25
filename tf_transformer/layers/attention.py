"""Multi-head attention (paper sections 3.2.1-3.2.2), written out in full.

We do not wrap ``keras.layers.MultiHeadAttention``: the course explains every
line, and the decoding loop needs a key/value cache that layer lacks. A test
copies weights from Keras's layer into this one and checks both agree.
"""

import contextlib
import contextvars
import math
from typing import NamedTuple

import keras
import tensorflow as tf

from tf_transformer.layers.dropout import Dropout


def _dense(x, kernel, bias):
    """``x @ kernel + bias`` on ``[..., d_in]``, as one 2-D matmul, in ``x``'s dtype.

    The cast matters under mixed precision in the methods that Keras does not
    call for us (``call_cached``, ``call_with_attention``, ``project_key_value``):
    outside a layer's ``__call__`` the variables are not autocast. In float32 it
    is a no-op.
    """
    kernel, bias = tf.cast(kernel, x.dtype), tf.cast(bias, x.dtype)
    shape = tf.shape(x)
    y = tf.nn.bias_add(tf.matmul(tf.reshape(x, (-1, kernel.shape[0])), kernel), bias)  # (B*T, d_out)
    return tf.reshape(y, tf.concat([shape[:-1], [kernel.shape[1]]], axis=0))


def causal_mask(query_length, key_length, offset=0):
    """Bool ``[query_length, key_length]``: query i may see key j iff j <= offset + i.

    ``offset`` is the absolute position of the first query; a cached decoder at
    step t has one query at position t and keys at positions 0 .. L-1.
    """
    query_pos = offset + tf.range(query_length)[:, None]  # (Tq, 1)
    key_pos = tf.range(key_length)[None, :]  # (1, Tk)
    return key_pos <= query_pos


class AttentionOutput(NamedTuple):
    """What every ``call_with_attention`` returns: the plain call's output, and the weights that made it.

    Attributes:
        output: what the plain call returns.
        weights: the attention weights behind it, each ``[batch, heads, Tq, Tk]``:
            one tensor from ``MultiHeadAttention`` and ``EncoderLayer``, a list
            (one per layer) from ``Encoder``, a ``DecoderAttention`` from
            ``DecoderLayer`` and ``Decoder``, a ``TransformerAttention`` from
            ``Transformer``.
    """

    output: tf.Tensor
    weights: tf.Tensor | list | tuple


# The dicts of the open record_attention() blocks, innermost last.
_RECORDS: contextvars.ContextVar[tuple[dict, ...]] = contextvars.ContextVar("attention_records", default=())


@contextlib.contextmanager
def record_attention():
    """Keep the weights of every ``MultiHeadAttention`` that runs its ``call`` inside the block.

    Yields a dict that fills as the block runs: attention layer -> its latest
    weights ``[batch, heads, Tq, Tk]``. Every ``call_with_attention`` above
    ``MultiHeadAttention`` is the plain call run inside this block, so the
    weights it returns are those of the very pass that made its output.

    The layers' Python must run inside the block: a ``tf.function`` traced
    outside it does not record when called again.

    Example:
        >>> mha = MultiHeadAttention(d_model=8, num_heads=2)
        >>> with record_attention() as seen:
        ...     out = mha(tf.random.normal((1, 3, 8)))
        >>> seen[mha].shape
        TensorShape([1, 2, 3, 3])
    """
    record = {}
    token = _RECORDS.set((*_RECORDS.get(), record))
    try:
        yield record
    finally:
        _RECORDS.reset(token)


@keras.saving.register_keras_serializable(package="tf_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Scaled dot-product attention over ``num_heads`` heads.

    ``MultiHead(Q, K, V) = Concat(head_1..head_h) W^O`` with
    ``head_i = softmax(Q W_i^Q (K W_i^K)^T / sqrt(d_k)) V W_i^V``  (paper eq. 1).
    The h projections ``W_i^Q`` (each ``d_model x d_k``) sit side by side in one
    ``d_model x h·d_k`` matrix; splitting its output into h slices of width
    d_k gives the heads. The paper takes d_k = d_v = d_model / h, so every
    matrix is ``d_model x d_model``; ``key_dim`` sets d_k (queries and keys)
    apart from it, as Table 3's rows B do, and d_v stays d_model / h.

    Three ways to run it, each with one return type:

    - ``call`` (``layer(query, ...)``): the output ``[batch, Tq, d_model]``.
    - ``call_with_attention``: ``AttentionOutput(output, weights)``, the
      weights ``[batch, heads, Tq, Tk]``, for plots and tests. ``call`` also
      leaves them in an open ``record_attention()``: that is how the layers
      built on this one return theirs.
    - ``call_cached``: causal self-attention one decoding step at a time,
      returning ``(output, cache)``.

    Args:
        d_model: width of queries, keys, values and output.
        num_heads: number of heads h; must divide ``d_model``.
        dropout_rate: dropout on the attention weights.
        key_dim: d_k, the width of each head's queries and keys; None means
            d_model / num_heads.

    Call args:
        query: ``[batch, Tq, d_model]``.
        context: ``[batch, Tk, d_model]`` to attend to (cross-attention), or
            None for self-attention over ``query``.
        padding_mask: bool ``[batch, Tk]``, True at real (non-padding) keys.
        use_causal_mask: query i sees only keys j <= i.
        key_value: the context's keys and values, precomputed once by
            ``project_key_value``, in place of ``context`` (a decoder's
            cross-attention while it decodes token by token).

    Example:
        >>> mha = MultiHeadAttention(d_model=8, num_heads=2)
        >>> x = tf.random.normal((1, 3, 8))
        >>> mha(x).shape
        TensorShape([1, 3, 8])
        >>> out, w = mha.call_with_attention(x, padding_mask=tf.constant([[True, True, False]]))
        >>> w.shape
        TensorShape([1, 2, 3, 3])
    """

    def __init__(self, d_model, num_heads, dropout_rate=0.0, key_dim=None, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads}).")
        self.d_model = d_model
        self.num_heads = num_heads
        self.value_dim = d_model // num_heads  # d_v: the heads' outputs concatenate to d_model
        self.key_dim = key_dim or self.value_dim  # d_k
        self.dropout_rate = dropout_rate
        self.dropout = Dropout(dropout_rate)

    def build(self, input_shape):
        def weight(name, shape, init):
            return self.add_weight(name=name, shape=shape, initializer=init)

        d, dk = self.d_model, self.num_heads * self.key_dim  # dk == d unless key_dim is set
        self.query_kernel = weight("query_kernel", (d, dk), "glorot_uniform")  # W^Q
        self.query_bias = weight("query_bias", (dk,), "zeros")
        self.key_kernel = weight("key_kernel", (d, dk), "glorot_uniform")  # W^K
        self.key_bias = weight("key_bias", (dk,), "zeros")
        self.value_kernel = weight("value_kernel", (d, d), "glorot_uniform")  # W^V
        self.value_bias = weight("value_bias", (d,), "zeros")
        self.output_kernel = weight("output_kernel", (d, d), "glorot_uniform")  # W^O
        self.output_bias = weight("output_bias", (d,), "zeros")

    @property
    def _widths(self):
        """Widths of the concatenated Q, K and V projections: h·d_k, h·d_k, h·d_v."""
        return [self.num_heads * self.key_dim] * 2 + [self.d_model]

    def _split_heads(self, x, depth):
        """``[B, T, h·depth]`` -> ``[B, heads, T, depth]`` (depth: d_k for Q and K, d_v for V)."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, (batch, length, self.num_heads, depth))  # (B, T, h, dk)
        return tf.transpose(x, (0, 2, 1, 3))  # (B, h, T, dk)

    def _merge_heads(self, x):
        """``[B, heads, T, d_v]`` -> ``[B, T, d_model]``: the Concat in eq. 1."""
        x = tf.transpose(x, (0, 2, 1, 3))  # (B, T, h, dk)
        return tf.reshape(x, (tf.shape(x)[0], tf.shape(x)[1], self.d_model))

    def project_key_value(self, context):
        """Keys ``[B, heads, Tk, d_k]`` and values ``[B, heads, Tk, d_v]`` of ``context``.

        A decoder computes these once per source sentence and passes them as
        ``key_value`` to every decoding step.
        """
        kernel = tf.concat([self.key_kernel, self.value_kernel], axis=1)  # (d, h·dk + d): one matmul
        bias = tf.concat([self.key_bias, self.value_bias], axis=0)
        key, value = tf.split(_dense(context, kernel, bias), self._widths[1:], axis=-1)
        return self._split_heads(key, self.key_dim), self._split_heads(value, self.value_dim)

    def call(
        self, query, context=None, padding_mask=None, use_causal_mask=False, key_value=None, training=None
    ):
        # The weights are the softmax the output is made from: dropping them costs nothing.
        output, weights = self.call_with_attention(
            query, context, padding_mask, use_causal_mask, key_value, training
        )
        for record in _RECORDS.get():  # inside record_attention(): a caller wants the weights too
            record[self] = weights
        return output

    def call_with_attention(
        self, query, context=None, padding_mask=None, use_causal_mask=False, key_value=None, training=None
    ):
        """``call`` (same arguments), plus the attention weights (on a built layer).

        Returns ``AttentionOutput(output, weights)``, ``weights`` ``[batch, heads, Tq, Tk]``.
        """
        if context is None and key_value is None:
            # Self-attention: Q, K and V in one fused matmul.
            kernel = tf.concat([self.query_kernel, self.key_kernel, self.value_kernel], axis=1)
            bias = tf.concat([self.query_bias, self.key_bias, self.value_bias], axis=0)
            q, k, v = tf.split(_dense(query, kernel, bias), self._widths, axis=-1)  # h·dk, h·dk, d wide
            k, v = self._split_heads(k, self.key_dim), self._split_heads(v, self.value_dim)
        else:
            q = _dense(query, self.query_kernel, self.query_bias)  # (B, Tq, d)
            k, v = self.project_key_value(context) if key_value is None else key_value
        return self._attend(q, k, v, padding_mask, use_causal_mask, training=training)

    def call_cached(self, query, cache, index):
        """Causal self-attention of the tokens at positions ``index ..`` over all earlier ones.

        Args:
            query: ``[batch, Tq, d_model]``, usually the one newest token.
            cache: keys and values ``(k, v)``, ``[batch, heads, L, d_k or d_v]``,
                from ``init_cache`` or the previous step; positions ``< index``
                are filled.
            index: int scalar, position of ``query[:, 0]``.

        Returns ``(output, cache)``: output ``[batch, Tq, d_model]``, and the
        cache with the new keys and values written at ``index ..``. Decoding
        is inference, so no dropout.
        """
        q = _dense(query, self.query_kernel, self.query_bias)  # (B, Tq, d)
        k, v = self.project_key_value(query)  # (B, h, Tq, dk) each
        start = [0, 0, index, 0]
        k = keras.ops.slice_update(cache[0], start, tf.cast(k, cache[0].dtype))  # (B, h, L, dk)
        v = keras.ops.slice_update(cache[1], start, tf.cast(v, cache[1].dtype))
        output, _ = self._attend(q, k, v, use_causal_mask=True, offset=index, training=False)
        return output, (k, v)

    def _attend(self, q, k, v, padding_mask=None, use_causal_mask=False, offset=0, training=None):
        """Eq. 1 from the projected queries ``[B, Tq, d]`` and the keys and values ``[B, h, Tk, dk]``.

        ``offset`` is the position of the first query (a cached step's ``index``).
        Returns ``AttentionOutput(output [B, Tq, d], weights [B, h, Tq, Tk])``.
        """
        q = self._split_heads(q * (1.0 / math.sqrt(self.key_dim)), self.key_dim)  # (B, h, Tq, dk), scaled

        # Scores in float32 so the mask value and softmax are safe under fp16/bf16.
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32)  # (B, h, Tq, Tk)
        # Masked keys get -1e9 added: exp() of it is 0. The bias is built at the mask's
        # small shape and broadcast in one add, whose gradient is free.
        bias = None
        if padding_mask is not None:
            bias = tf.where(tf.cast(padding_mask, tf.bool), 0.0, -1e9)[:, None, None, :]  # (B, 1, 1, Tk)
        if use_causal_mask:
            causal = causal_mask(tf.shape(q)[2], tf.shape(k)[2], offset)
            causal = tf.where(causal, 0.0, -1e9)[None, None]  # (1, 1, Tq, Tk)
            bias = causal if bias is None else tf.minimum(bias, causal)
        if bias is not None:
            scores += bias
        weights = tf.nn.softmax(scores, axis=-1)  # rows sum to 1
        dropped = tf.cast(weights, v.dtype)
        if training is not False:  # (decoding passes False: dropout is the identity; skip its call)
            dropped = self.dropout(dropped, training=training)
        heads = tf.matmul(dropped, v)  # (B, h, Tq, dk)
        output = _dense(self._merge_heads(heads), self.output_kernel, self.output_bias)  # (B, Tq, d)
        return AttentionOutput(output, weights)

    def init_cache(self, batch_size, length, dtype=None):
        """An empty self-attention cache for ``length`` decoding steps (see ``call_cached``)."""
        dtype = dtype or self.compute_dtype
        return tuple(
            tf.zeros((batch_size, self.num_heads, length, depth), dtype)
            for depth in (self.key_dim, self.value_dim)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dropout_rate": self.dropout_rate,
            "key_dim": self.key_dim,
        }
