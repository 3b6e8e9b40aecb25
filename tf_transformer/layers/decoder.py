"""The decoder: masked self-attention, cross-attention, feed-forward (paper section 3.1).

Built with ``cross_attention=False`` it has no cross-attention sub-layer and
reads no encoder output: the decoder-only stack of a GPT-style language model
(Radford et al. 2018), taught in notebook 9's "After the paper".
"""

from typing import NamedTuple

import keras
import tensorflow as tf

from tf_transformer.constants import PAD_ID
from tf_transformer.layers.attention import AttentionOutput, MultiHeadAttention, record_attention
from tf_transformer.layers.feedforward import FeedForward
from tf_transformer.layers.norm import LayerNormalization
from tf_transformer.layers.residual import ResidualLayer
from tf_transformer.layers.stack import LayerStack


class DecoderAttention(NamedTuple):
    """A decoder's two kinds of attention weights, as its ``call_with_attention`` returns them.

    A ``DecoderLayer`` gives one tensor of each; a ``Decoder`` one list of
    each, a tensor per layer.

    Attributes:
        self_attention: masked self-attention ``[batch, heads, T, T]``, zero
            above the diagonal (position t sees targets 0..t).
        cross_attention: attention to the encoder output ``[batch, heads, T, S]``;
            None in a decoder built with ``cross_attention=False``.
    """

    self_attention: tf.Tensor | list
    cross_attention: tf.Tensor | list | None


@keras.saving.register_keras_serializable(package="tf_transformer")
class DecoderLayer(ResidualLayer):
    """Causal self-attention, cross-attention to the encoder output, then a feed-forward net.

    The same three sub-layers run three ways, each with one return type:
    ``call`` (training, teacher forcing) returns ``x``; ``call_with_attention``
    also returns both attentions' weights (``DecoderAttention``);
    ``call_cached`` decodes token by token and returns ``(x, cache)``.

    Args:
        d_model, num_heads, dff, dropout_rate, norm_first, key_dim: as in ``EncoderLayer``.
        cross_attention: False leaves out sub-layer 2 (and its weights): a
            decoder-only layer, causal self-attention then the feed-forward net.

    Call args:
        x: ``[batch, T, d_model]``, the target so far.
        context: ``[batch, S, d_model]``, the encoder output; None (and
            required to be) without cross-attention.
        context_mask: bool ``[batch, S]``, True at real source tokens.
        target_mask: bool ``[batch, T]``, True at real target tokens.

    Returns ``[batch, T, d_model]``.

    Example:
        >>> layer = DecoderLayer(d_model=8, num_heads=2, dff=16)
        >>> layer(tf.zeros((1, 3, 8)), tf.zeros((1, 5, 8))).shape
        TensorShape([1, 3, 8])
        >>> _, weights = layer.call_with_attention(tf.zeros((1, 3, 8)), tf.zeros((1, 5, 8)))
        >>> weights.self_attention.shape, weights.cross_attention.shape
        (TensorShape([1, 2, 3, 3]), TensorShape([1, 2, 3, 5]))
        >>> DecoderLayer(d_model=8, num_heads=2, dff=16, cross_attention=False)(tf.zeros((1, 3, 8))).shape
        TensorShape([1, 3, 8])
    """

    def __init__(
        self,
        d_model,
        num_heads,
        dff,
        dropout_rate=0.1,
        norm_first=False,
        key_dim=None,
        cross_attention=True,
        **kwargs,
    ):
        super().__init__(dropout_rate=dropout_rate, norm_first=norm_first, **kwargs)
        self.d_model, self.num_heads, self.dff, self.key_dim = d_model, num_heads, dff, key_dim
        heads = dict(dropout_rate=dropout_rate, key_dim=key_dim)
        self.self_attention = MultiHeadAttention(d_model, num_heads, **heads, name="self_attention")
        self.self_attention_norm = LayerNormalization(epsilon=1e-6, name="self_attention_norm")
        # The attribute names are the weights' paths in saved files: keep them.
        self.cross_attention, self.cross_attention_norm = None, None
        if cross_attention:
            self.cross_attention = MultiHeadAttention(d_model, num_heads, **heads, name="cross_attention")
            self.cross_attention_norm = LayerNormalization(epsilon=1e-6, name="cross_attention_norm")
        self.ffn = FeedForward(d_model, dff, name="ffn")
        self.ffn_norm = LayerNormalization(epsilon=1e-6, name="ffn_norm")

    @property
    def has_cross_attention(self):
        """Whether sub-layer 2, attention to the encoder output, is there."""
        return self.cross_attention is not None

    def build(self, input_shape):
        sublayers = (
            self.self_attention,
            self.self_attention_norm,
            self.cross_attention,
            self.cross_attention_norm,
            self.ffn,
            self.ffn_norm,
        )
        for sublayer in sublayers:
            if sublayer is not None:  # [batch, T, d_model]: no weight depends on the source length
                sublayer.build(input_shape)

    def call(self, x, context=None, context_mask=None, target_mask=None, training=None):
        _check_context(self.has_cross_attention, context)
        x = self._masked_self_attention(x, target_mask, training)  # 1. t sees targets 0..t only
        if self.has_cross_attention:
            # 2. Cross-attention: queries from the target, keys and values from the source.
            h = self.sublayer_input(x, self.cross_attention_norm)
            y = self.cross_attention(h, context, padding_mask=context_mask, training=training)
            x = self.sublayer_output(x, y, self.cross_attention_norm, training)
        return self._feed_forward(x, training)  # 3. position-wise feed-forward

    def call_with_attention(self, x, context=None, context_mask=None, target_mask=None, training=None):
        """``call`` (same arguments), plus both attentions' weights.

        Returns ``AttentionOutput(x, DecoderAttention(self_attention, cross_attention))``,
        ``[batch, heads, T, T]`` and ``[batch, heads, T, S]`` (None without
        cross-attention): ``call`` itself, run inside ``record_attention``.
        """
        with record_attention() as seen:
            x = self(x, context, context_mask=context_mask, target_mask=target_mask, training=training)
        cross = seen[self.cross_attention] if self.has_cross_attention else None
        return AttentionOutput(x, DecoderAttention(seen[self.self_attention], cross))

    def call_cached(self, x, context_mask, cache, index):
        """The tokens at positions ``index ..`` (usually one), against the cache of the earlier ones.

        Args:
            x: ``[batch, T, d_model]``.
            context_mask: bool ``[batch, S]``.
            cache: ``{"self": (k, v), "cross": (k, v)}`` from ``Decoder.init_cache``
                or the previous step; the source itself is not needed, its keys
                and values are in ``cache["cross"]``. Without cross-attention
                there is no ``"cross"`` entry, and ``context_mask`` is None.
            index: int scalar, position of ``x[:, 0]``.

        Returns ``(x, cache)`` with the new self-attention keys and values in
        the cache. Decoding is inference, so no dropout.
        """
        h = self.sublayer_input(x, self.self_attention_norm)
        y, self_cache = self.self_attention.call_cached(h, cache["self"], index)
        x = self.sublayer_output(x, y, self.self_attention_norm, training=False)
        if not self.has_cross_attention:
            return self._feed_forward(x, training=False), {"self": self_cache}
        h = self.sublayer_input(x, self.cross_attention_norm)
        y = self.cross_attention(h, key_value=cache["cross"], padding_mask=context_mask, training=False)
        x = self.sublayer_output(x, y, self.cross_attention_norm, training=False)
        return self._feed_forward(x, training=False), {"self": self_cache, "cross": cache["cross"]}

    def _masked_self_attention(self, x, target_mask, training):
        """Sub-layer 1 over the whole target: position t sees targets 0..t only."""
        h = self.sublayer_input(x, self.self_attention_norm)
        y = self.self_attention(h, padding_mask=target_mask, use_causal_mask=True, training=training)
        return self.sublayer_output(x, y, self.self_attention_norm, training)

    def _feed_forward(self, x, training):
        """Sub-layer 3: the position-wise feed-forward network."""
        h = self.sublayer_input(x, self.ffn_norm)
        return self.sublayer_output(x, self.ffn(h), self.ffn_norm, training)

    def get_config(self):
        sizes = dict(d_model=self.d_model, num_heads=self.num_heads, dff=self.dff, key_dim=self.key_dim)
        return {**super().get_config(), **sizes, "cross_attention": self.has_cross_attention}


def _check_context(cross_attention, context):
    """A plain error instead of a failure deep inside attention when the context does not fit."""
    if cross_attention and context is None:
        raise ValueError("this decoder has cross-attention: pass the encoder output as `context`")
    if not cross_attention and context is not None:
        raise ValueError("this decoder was built with cross_attention=False: it takes no `context`")


@keras.saving.register_keras_serializable(package="tf_transformer")
class Decoder(LayerStack):
    """Target ids + encoder output -> ``[batch, T, d_model]`` vectors for the next-token projection.

    Like ``DecoderLayer`` it runs three ways: ``call``, ``call_with_attention``
    (plus every layer's self- and cross-attention weights) and ``call_cached``
    (token by token, with the cache from ``init_cache``).

    Args:
        num_layers, d_model, num_heads, dff, vocab_size, max_length,
        dropout_rate, norm_first, key_dim, positions: see ``TransformerConfig``.
        embedding: an existing ``PositionalEmbedding`` to share (weight tying);
            not part of ``get_config`` (see ``LayerStack``).
        cross_attention: False builds a decoder-only stack (a GPT-style
            language model's body): causal self-attention and feed-forward
            layers, no encoder output.

    Call args:
        token_ids: int ``[batch, T]``, 0 = padding.
        context: ``[batch, S, d_model]``, the encoder output; None without
            cross-attention.
        context_mask: bool ``[batch, S]``, True at real source tokens; None
            means all are real.

    Returns ``[batch, T, d_model]``.

    Example:
        >>> dec = Decoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=50)
        >>> dec(tf.constant([[2, 9, 4]]), tf.zeros((1, 5, 8))).shape
        TensorShape([1, 3, 8])
        >>> lm = Decoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=50, cross_attention=False)
        >>> lm(tf.constant([[2, 9, 4]])).shape
        TensorShape([1, 3, 8])
    """

    def __init__(self, *args, cross_attention=True, **kwargs):
        # The stack's arguments, as ``LayerStack`` takes them (they are its ``get_config``), and
        # whether each layer attends to an encoder's output.
        super().__init__(*args, **kwargs)
        self.cross_attention = cross_attention
        self.dec_layers = [
            DecoderLayer(
                self.d_model,
                self.num_heads,
                self.dff,
                self.dropout_rate,
                self.norm_first,
                self.key_dim,
                cross_attention,
                name=f"layer_{i}",
            )
            for i in range(self.num_layers)
        ]

    def build(self, input_shape):
        self.build_stack(input_shape, self.dec_layers)

    def call(self, token_ids, context=None, context_mask=None, training=None):
        _check_context(self.cross_attention, context)
        target_mask = tf.not_equal(token_ids, PAD_ID)  # (B, T)
        x = self.embed_tokens(token_ids, training=training)  # (B, T, d)
        for layer in self.dec_layers:
            x = layer(x, context, context_mask=context_mask, target_mask=target_mask, training=training)
        return self.normalize_output(x)

    def call_with_attention(self, token_ids, context=None, context_mask=None, training=None):
        """``call`` (same arguments), plus every layer's self- and cross-attention weights.

        Returns ``AttentionOutput(x, DecoderAttention(self_attention, cross_attention))``:
        two lists with one tensor per layer, ``[batch, heads, T, T]`` and
        ``[batch, heads, T, S]`` (None without cross-attention). ``call``
        itself, run inside ``record_attention``.
        """
        with record_attention() as seen:
            x = self(token_ids, context, context_mask=context_mask, training=training)
        cross = [seen[layer.cross_attention] for layer in self.dec_layers] if self.cross_attention else None
        return AttentionOutput(
            x, DecoderAttention([seen[layer.self_attention] for layer in self.dec_layers], cross)
        )

    def init_cache(self, context, length, batch_size=None):
        """Per-layer caches for decoding up to ``length`` tokens against ``context``.

        The cross-attention keys and values depend only on the source, so they
        are computed here once instead of at every step. The self-attention
        keys and values start empty, preallocated at their full length so that
        every step has the same shapes (a ``tf.while_loop`` can carry them).
        Without cross-attention pass ``context=None`` and ``batch_size``; each
        layer's cache is then ``{"self": (k, v)}`` alone.
        """
        _check_context(self.cross_attention, context)
        if not self.cross_attention:
            if batch_size is None:
                raise ValueError("a decoder without cross-attention needs `batch_size` to size its cache")
            return [
                {"self": layer.self_attention.init_cache(batch_size, length)} for layer in self.dec_layers
            ]
        batch = tf.shape(context)[0]
        return [
            {
                "self": layer.self_attention.init_cache(batch, length, context.dtype),
                "cross": layer.cross_attention.project_key_value(context),
            }
            for layer in self.dec_layers
        ]

    def call_cached(self, token_ids, context_mask, cache, index):
        """Decode the tokens at positions ``index ..`` (usually one per row) against the cache.

        Args:
            token_ids: int ``[batch, T]``; decoding never pads them.
            context_mask: bool ``[batch, S]``; None without cross-attention.
            cache: the list ``init_cache`` made (or the previous step returned),
                one ``{"self": (k, v), "cross": (k, v)}`` per layer (no
                ``"cross"`` without cross-attention).
            index: int scalar, position of ``token_ids[:, 0]``.

        Returns ``(x, cache)``: ``[batch, T, d_model]`` and the updated cache.
        """
        x = self.embed_tokens(token_ids, start=index, training=False)  # (B, T, d)
        new_cache = []
        for layer, layer_cache in zip(self.dec_layers, cache):
            x, layer_cache = layer.call_cached(x, context_mask, layer_cache, index)
            new_cache.append(layer_cache)
        return self.normalize_output(x), new_cache

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}
