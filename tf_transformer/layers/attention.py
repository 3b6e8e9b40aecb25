"""Multi-head attention (paper sections 3.2.1-3.2.2), written out in full.

We do not wrap ``keras.layers.MultiHeadAttention``: the course explains every
line, and the decoding loop needs a key/value cache that layer lacks. A test
copies weights from Keras's layer into this one and checks both agree.
"""

import math

import keras
import tensorflow as tf

from tf_transformer.layers.dropout import Dropout


def _dense(x, kernel, bias):
    """``x @ kernel + bias`` on ``[..., d_in]``, as one 2-D matmul."""
    shape = tf.shape(x)
    y = tf.nn.bias_add(tf.matmul(tf.reshape(x, (-1, kernel.shape[0])), kernel), bias)  # (B*T, d_out)
    return tf.reshape(y, tf.concat([shape[:-1], [kernel.shape[1]]], axis=0))


def causal_mask(query_length, key_length, offset=0):
    """Bool ``[query_length, key_length]``: query i may see key j iff j <= offset + i.

    ``offset`` is the absolute position of the first query; a cached decoder at
    step t has one query at position t and keys at positions 0 .. L-1.
    """
    query_pos = offset + tf.range(query_length)[:, None]  # (Tq, 1)
    key_pos = tf.range(key_length)[None, :]              # (1, Tk)
    return key_pos <= query_pos


@keras.saving.register_keras_serializable(package="tf_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Scaled dot-product attention over ``num_heads`` heads.

    ``MultiHead(Q, K, V) = Concat(head_1..head_h) W^O`` with
    ``head_i = softmax(Q W_i^Q (K W_i^K)^T / sqrt(d_k)) V W_i^V``  (paper eq. 1).
    The h projections ``W_i^Q`` (each ``d_model x d_k``) sit side by side in one
    ``d_model x d_model`` matrix; splitting its output into h slices of width
    d_k = d_model / h gives the heads.

    Args:
        d_model: width of queries, keys, values and output.
        num_heads: number of heads h; must divide ``d_model``.
        dropout_rate: dropout on the attention weights.

    Call args:
        query: ``[batch, Tq, d_model]``.
        context: ``[batch, Tk, d_model]`` to attend to (cross-attention), or
            None for self-attention over ``query``.
        padding_mask: bool ``[batch, Tk]``, True at real (non-padding) keys.
        use_causal_mask: query i sees only keys j <= i (plus ``cache_index``).
        cache: keys and values ``(k, v)``, each ``[batch, heads, L, d_k]``.
            With ``cache_index`` it is a self-attention cache: the new keys and
            values are written at position ``cache_index`` and the updated
            cache is returned. Without it, it holds a context's precomputed
            keys and values (see ``project_key_value``), and ``context`` is
            not needed.
        cache_index: int scalar, position of the first query token.
        return_attention_weights: also return ``[batch, heads, Tq, Tk]``.

    Returns ``output`` ``[batch, Tq, d_model]``, followed by the attention
    weights if asked for, followed by the updated cache if ``cache_index``
    was given.

    Example:
        >>> mha = MultiHeadAttention(d_model=8, num_heads=2)
        >>> x = tf.random.normal((1, 3, 8))
        >>> out, w = mha(x, padding_mask=tf.constant([[True, True, False]]),
        ...              return_attention_weights=True)
        >>> out.shape, w.shape
        (TensorShape([1, 3, 8]), TensorShape([1, 2, 3, 3]))
    """

    def __init__(self, d_model, num_heads, dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads}).")
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout_rate = dropout_rate
        self.dropout = Dropout(dropout_rate)

    def build(self, input_shape):
        def weight(name, shape, init):
            return self.add_weight(name=name, shape=shape, initializer=init)

        d = self.d_model
        self.query_kernel = weight("query_kernel", (d, d), "glorot_uniform")   # W^Q
        self.query_bias = weight("query_bias", (d,), "zeros")
        self.key_kernel = weight("key_kernel", (d, d), "glorot_uniform")       # W^K
        self.key_bias = weight("key_bias", (d,), "zeros")
        self.value_kernel = weight("value_kernel", (d, d), "glorot_uniform")   # W^V
        self.value_bias = weight("value_bias", (d,), "zeros")
        self.output_kernel = weight("output_kernel", (d, d), "glorot_uniform")  # W^O
        self.output_bias = weight("output_bias", (d,), "zeros")

    def _split_heads(self, x):
        """``[B, T, d_model]`` -> ``[B, heads, T, d_k]``."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, (batch, length, self.num_heads, self.head_dim))  # (B, T, h, dk)
        return tf.transpose(x, (0, 2, 1, 3))                               # (B, h, T, dk)

    def _merge_heads(self, x):
        """``[B, heads, T, d_k]`` -> ``[B, T, d_model]``: the Concat in eq. 1."""
        x = tf.transpose(x, (0, 2, 1, 3))                                  # (B, T, h, dk)
        return tf.reshape(x, (tf.shape(x)[0], tf.shape(x)[1], self.d_model))

    def project_key_value(self, context):
        """Keys and values of ``context``, each ``[B, heads, Tk, d_k]``.

        A decoder computes these once per source sentence and passes them as a
        static ``cache`` to every decoding step.
        """
        kernel = tf.concat([self.key_kernel, self.value_kernel], axis=1)  # (d, 2d): one matmul
        bias = tf.concat([self.key_bias, self.value_bias], axis=0)
        key, value = tf.split(_dense(context, kernel, bias), 2, axis=-1)
        return self._split_heads(key), self._split_heads(value)

    def call(self, query, context=None, padding_mask=None, use_causal_mask=False,
             cache=None, cache_index=None, return_attention_weights=False, training=None):
        if context is None and cache is None:
            # Self-attention without a cache: Q, K and V in one fused matmul.
            kernel = tf.concat([self.query_kernel, self.key_kernel, self.value_kernel], axis=1)
            bias = tf.concat([self.query_bias, self.key_bias, self.value_bias], axis=0)
            q, k, v = tf.split(_dense(query, kernel, bias), 3, axis=-1)   # 3 x (B, T, d)
            k, v = self._split_heads(k), self._split_heads(v)
        else:
            q = _dense(query, self.query_kernel, self.query_bias)         # (B, Tq, d)
            if cache is not None and cache_index is None:
                k, v = cache                                              # precomputed context
            else:
                k, v = self.project_key_value(query if context is None else context)
                if cache_index is not None:                               # write step t into the cache
                    start = [0, 0, cache_index, 0]
                    k = keras.ops.slice_update(cache[0], start, tf.cast(k, cache[0].dtype))
                    v = keras.ops.slice_update(cache[1], start, tf.cast(v, cache[1].dtype))
        q = self._split_heads(q * (1.0 / math.sqrt(self.head_dim)))      # (B, h, Tq, dk), scaled

        # Scores in float32 so the mask value and softmax are safe under fp16/bf16.
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32)  # (B, h, Tq, Tk)
        # Masked keys get -1e9 added: exp() of it is 0. The bias is built at the mask's
        # small shape and broadcast in one add, whose gradient is free.
        bias = None
        if padding_mask is not None:
            bias = tf.where(tf.cast(padding_mask, tf.bool), 0.0, -1e9)[:, None, None, :]  # (B, 1, 1, Tk)
        if use_causal_mask:
            causal = causal_mask(tf.shape(q)[2], tf.shape(k)[2],
                                 0 if cache_index is None else cache_index)
            causal = tf.where(causal, 0.0, -1e9)[None, None]             # (1, 1, Tq, Tk)
            bias = causal if bias is None else tf.minimum(bias, causal)
        if bias is not None:
            scores += bias
        weights = tf.nn.softmax(scores, axis=-1)                         # rows sum to 1
        dropped = self.dropout(tf.cast(weights, v.dtype), training=training)
        heads = tf.matmul(dropped, v)                                    # (B, h, Tq, dk)
        output = _dense(self._merge_heads(heads), self.output_kernel, self.output_bias)  # (B, Tq, d)

        results = (output,)
        if return_attention_weights:
            results += (weights,)
        if cache_index is not None:
            results += ((k, v),)
        return results[0] if len(results) == 1 else results

    def init_cache(self, batch_size, length, dtype=None):
        """An empty self-attention cache for ``length`` decoding steps."""
        shape = (batch_size, self.num_heads, length, self.head_dim)
        zeros = tf.zeros(shape, dtype or self.compute_dtype)
        return zeros, zeros

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model,
                "num_heads": self.num_heads, "dropout_rate": self.dropout_rate}
