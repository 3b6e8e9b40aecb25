"""The decoder: masked self-attention, cross-attention, feed-forward (paper section 3.1)."""

import keras
import tensorflow as tf

from tf_transformer.layers.attention import MultiHeadAttention
from tf_transformer.layers.feedforward import FeedForward
from tf_transformer.layers.residual import LayerStack, ResidualLayer


@keras.saving.register_keras_serializable(package="tf_transformer")
class DecoderLayer(ResidualLayer):
    """Causal self-attention, cross-attention to the encoder output, then a feed-forward net.

    Args:
        d_model, num_heads, dff, dropout_rate, norm_first: as in ``EncoderLayer``.

    Call args:
        x: ``[batch, T, d_model]``, the target so far.
        context: ``[batch, S, d_model]``, the encoder output.
        context_mask: bool ``[batch, S]``, True at real source tokens.
        target_mask: bool ``[batch, T]``, True at real target tokens.
        cache: ``{"self": (k, v), "cross": (k, v)}`` for incremental decoding
            (see ``Decoder``); then ``x`` holds the tokens from ``cache_index`` on.
        cache_index: int scalar, position of ``x``'s first token.
        return_attention_weights: also return the cross-attention weights
            ``[batch, heads, T, S]``.

    Returns ``x``, then the weights if asked for, then the new cache if given one.

    Example:
        >>> layer = DecoderLayer(d_model=8, num_heads=2, dff=16)
        >>> layer(tf.zeros((1, 3, 8)), tf.zeros((1, 5, 8))).shape
        TensorShape([1, 3, 8])
    """

    def __init__(self, d_model, num_heads, dff, dropout_rate=0.1, norm_first=False, **kwargs):
        super().__init__(dropout_rate=dropout_rate, norm_first=norm_first, **kwargs)
        self.d_model, self.num_heads, self.dff = d_model, num_heads, dff
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout_rate, name="self_attention")
        self.self_attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="self_attention_norm")
        self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout_rate, name="cross_attention")
        self.cross_attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="cross_attention_norm")
        self.ffn = FeedForward(d_model, dff, name="ffn")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")

    def call(self, x, context, context_mask=None, target_mask=None, cache=None, cache_index=None,
             return_attention_weights=False, training=None):
        # 1. Masked self-attention: position t sees targets 0..t only.
        h = self.sublayer_input(x, self.self_attention_norm)
        if cache is None:
            y = self.self_attention(h, padding_mask=target_mask, use_causal_mask=True, training=training)
        else:
            y, self_cache = self.self_attention(h, use_causal_mask=True, cache=cache["self"],
                                                cache_index=cache_index, training=training)
        x = self.sublayer_output(x, y, self.self_attention_norm, training)

        # 2. Cross-attention: queries from the target, keys and values from the source.
        h = self.sublayer_input(x, self.cross_attention_norm)
        y, weights = self.cross_attention(
            h, context, padding_mask=context_mask, training=training, return_attention_weights=True,
            cache=None if cache is None else cache["cross"])
        x = self.sublayer_output(x, y, self.cross_attention_norm, training)

        # 3. Position-wise feed-forward.
        h = self.sublayer_input(x, self.ffn_norm)
        x = self.sublayer_output(x, self.ffn(h), self.ffn_norm, training)

        results = (x,)
        if return_attention_weights:
            results += (weights,)
        if cache is not None:
            results += ({"self": self_cache, "cross": cache["cross"]},)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model,
                "num_heads": self.num_heads, "dff": self.dff}


@keras.saving.register_keras_serializable(package="tf_transformer")
class Decoder(LayerStack):
    """Target ids + encoder output -> ``[batch, T, d_model]`` vectors for the next-token projection.

    Args:
        num_layers, d_model, num_heads, dff, vocab_size, max_length,
        dropout_rate, norm_first: see ``TransformerConfig``.
        embedding: an existing ``PositionalEmbedding`` to share (weight tying);
            not part of ``get_config`` (see ``Encoder``).

    Call args:
        token_ids: int ``[batch, T]``, 0 = padding.
        context, context_mask: the encoder output and its padding mask.
        cache: a list with one ``{"self": (k, v), "cross": (k, v)}`` per layer,
            from ``init_cache``. Then ``token_ids`` are the tokens at positions
            ``cache_index ..``, and the updated cache is returned.
        cache_index: int scalar, position of ``token_ids[:, 0]``.
        return_attention_weights: also return a list of every layer's
            cross-attention weights, each ``[batch, heads, T, S]``.

    Example:
        >>> dec = Decoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=50)
        >>> dec(tf.constant([[2, 9, 4]]), tf.zeros((1, 5, 8))).shape
        TensorShape([1, 3, 8])
    """

    def __init__(self, num_layers, d_model, num_heads, dff, vocab_size, max_length=128,
                 dropout_rate=0.1, norm_first=False, embedding=None, **kwargs):
        super().__init__(num_layers, d_model, num_heads, dff, vocab_size, max_length,
                         dropout_rate, norm_first, embedding, **kwargs)
        self.dec_layers = [DecoderLayer(d_model, num_heads, dff, dropout_rate, norm_first,
                                        name=f"layer_{i}") for i in range(num_layers)]

    def init_cache(self, context, length):
        """Per-layer caches for decoding up to ``length`` tokens against ``context``.

        The cross-attention keys and values depend only on the source, so they
        are computed here once instead of at every step.
        """
        batch = tf.shape(context)[0]
        return [{"self": layer.self_attention.init_cache(batch, length, context.dtype),
                 "cross": layer.cross_attention.project_key_value(context)}
                for layer in self.dec_layers]

    def call(self, token_ids, context, context_mask=None, cache=None, cache_index=None,
             return_attention_weights=False, training=None):
        if context_mask is None:
            context_mask = tf.ones(tf.shape(context)[:2], tf.bool)
        # With a cache the earlier tokens are not in token_ids; decoding never pads them.
        target_mask = tf.not_equal(token_ids, 0) if cache is None else None     # (B, T)
        start = 0 if cache_index is None else cache_index
        x = self.dropout(self.embedding(token_ids, start=start), training=training)  # (B, T, d)
        all_weights, new_cache = [], []
        for i, layer in enumerate(self.dec_layers):
            out = layer(x, context, context_mask=context_mask, target_mask=target_mask,
                        cache=None if cache is None else cache[i], cache_index=cache_index,
                        return_attention_weights=True, training=training)
            x, weights = out[0], out[1]
            all_weights.append(weights)
            if cache is not None:
                new_cache.append(out[2])
        if self.final_norm is not None:
            x = self.final_norm(x)

        results = (x,)
        if return_attention_weights:
            results += (all_weights,)
        if cache is not None:
            results += (new_cache,)
        return results[0] if len(results) == 1 else results
