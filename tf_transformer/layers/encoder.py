"""The encoder: a stack of self-attention + feed-forward layers (paper section 3.1)."""

import keras
import tensorflow as tf

from tf_transformer.constants import PAD_ID
from tf_transformer.layers.attention import AttentionOutput, MultiHeadAttention, record_attention
from tf_transformer.layers.feedforward import FeedForward
from tf_transformer.layers.norm import LayerNormalization
from tf_transformer.layers.residual import ResidualLayer
from tf_transformer.layers.stack import LayerStack


@keras.saving.register_keras_serializable(package="tf_transformer")
class EncoderLayer(ResidualLayer):
    """Self-attention, then a feed-forward network, each in a residual block.

    Args:
        d_model, num_heads, dff, key_dim: sizes (see ``TransformerConfig``).
        dropout_rate: residual and attention dropout.
        norm_first: pre-norm instead of the paper's post-norm.

    Call args:
        x: ``[batch, S, d_model]``.
        padding_mask: bool ``[batch, S]``, True at real tokens.

    Returns ``[batch, S, d_model]``; ``call_with_attention`` also returns the
    self-attention weights.

    Example:
        >>> layer = EncoderLayer(d_model=8, num_heads=2, dff=16)
        >>> layer(tf.zeros((1, 4, 8)), padding_mask=tf.constant([[1, 1, 1, 0]]) > 0).shape
        TensorShape([1, 4, 8])
        >>> layer.call_with_attention(tf.zeros((1, 4, 8))).weights.shape
        TensorShape([1, 2, 4, 4])
    """

    def __init__(self, d_model, num_heads, dff, dropout_rate=0.1, norm_first=False, key_dim=None, **kwargs):
        super().__init__(dropout_rate=dropout_rate, norm_first=norm_first, **kwargs)
        self.d_model, self.num_heads, self.dff, self.key_dim = d_model, num_heads, dff, key_dim
        heads = dict(dropout_rate=dropout_rate, key_dim=key_dim)
        self.self_attention = MultiHeadAttention(d_model, num_heads, **heads, name="self_attention")
        self.self_attention_norm = LayerNormalization(epsilon=1e-6, name="self_attention_norm")
        self.ffn = FeedForward(d_model, dff, name="ffn")
        self.ffn_norm = LayerNormalization(epsilon=1e-6, name="ffn_norm")

    @property
    def attention_norm(self):
        """``self_attention_norm`` under its name before the rename, which is its weight path.

        Keras saves and loads a layer under the first attribute, in sorted
        order, that holds it: this alias sorts first, so ``.weights.h5`` and
        ``.keras`` files keep ``.../attention_norm``, and files written before
        and after the rename load alike (``tests/core/test_serialization.py``).
        """
        return self.self_attention_norm

    def build(self, input_shape):
        for sublayer in (self.self_attention, self.self_attention_norm, self.ffn, self.ffn_norm):
            sublayer.build(input_shape)  # every sub-layer reads and writes [batch, S, d_model]

    def call(self, x, padding_mask=None, training=None):
        h = self.sublayer_input(x, self.self_attention_norm)
        y = self.self_attention(h, padding_mask=padding_mask, training=training)
        x = self.sublayer_output(x, y, self.self_attention_norm, training)
        h = self.sublayer_input(x, self.ffn_norm)
        return self.sublayer_output(x, self.ffn(h), self.ffn_norm, training)

    def call_with_attention(self, x, padding_mask=None, training=None):
        """``call`` (same arguments), plus the self-attention weights ``[batch, heads, S, S]``.

        Returns ``AttentionOutput(x, weights)``: ``call`` itself, run inside ``record_attention``.
        """
        with record_attention() as seen:
            x = self(x, padding_mask=padding_mask, training=training)
        return AttentionOutput(x, seen[self.self_attention])

    def get_config(self):
        sizes = dict(d_model=self.d_model, num_heads=self.num_heads, dff=self.dff, key_dim=self.key_dim)
        return {**super().get_config(), **sizes}


@keras.saving.register_keras_serializable(package="tf_transformer")
class Encoder(LayerStack):
    """Token ids -> contextual vectors: embedding, dropout, ``num_layers`` EncoderLayers.

    Args:
        num_layers, d_model, num_heads, dff, vocab_size, max_length,
        dropout_rate, norm_first, key_dim, positions: see ``TransformerConfig``.
        embedding: an existing ``PositionalEmbedding`` to share (weight tying);
            not part of ``get_config`` (see ``LayerStack``).

    Call args:
        token_ids: int ``[batch, S]``, 0 = padding.
        padding_mask: bool ``[batch, S]``; derived from ``token_ids != 0`` if None.

    Returns ``[batch, S, d_model]``; ``call_with_attention`` also returns every
    layer's self-attention weights.

    Example:
        >>> enc = Encoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=50)
        >>> enc(tf.constant([[5, 7, 9, 0]])).shape
        TensorShape([1, 4, 8])
        >>> [w.shape for w in enc.call_with_attention(tf.constant([[5, 7, 9, 0]])).weights]
        [TensorShape([1, 2, 4, 4]), TensorShape([1, 2, 4, 4])]
    """

    def __init__(self, *args, **kwargs):
        # The stack's arguments, as ``LayerStack`` takes them (they are its ``get_config``).
        super().__init__(*args, **kwargs)
        self.enc_layers = [
            EncoderLayer(
                self.d_model,
                self.num_heads,
                self.dff,
                self.dropout_rate,
                self.norm_first,
                self.key_dim,
                name=f"layer_{i}",
            )
            for i in range(self.num_layers)
        ]

    def build(self, input_shape):
        self.build_stack(input_shape, self.enc_layers)

    def call(self, token_ids, padding_mask=None, training=None):
        if padding_mask is None:
            padding_mask = tf.not_equal(token_ids, PAD_ID)  # (B, S)
        x = self.embed_tokens(token_ids, training=training)  # (B, S, d)
        for layer in self.enc_layers:
            x = layer(x, padding_mask=padding_mask, training=training)
        return self.normalize_output(x)

    def call_with_attention(self, token_ids, padding_mask=None, training=None):
        """``call`` (same arguments), plus every layer's self-attention weights.

        Returns ``AttentionOutput(x, weights)``: ``weights`` is a list with one
        ``[batch, heads, S, S]`` tensor per layer. ``call`` itself, run inside
        ``record_attention``.
        """
        with record_attention() as seen:
            x = self(token_ids, padding_mask=padding_mask, training=training)
        return AttentionOutput(x, [seen[layer.self_attention] for layer in self.enc_layers])
