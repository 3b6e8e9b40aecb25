"""The Transformer: encoder, decoder and the pre-softmax projection (paper figure 1)."""

from typing import NamedTuple

import keras
import tensorflow as tf

from tf_transformer.config import TransformerConfig
from tf_transformer.constants import PAD_ID
from tf_transformer.layers import AttentionOutput, Decoder, Encoder, record_attention


class TransformerAttention(NamedTuple):
    """Every attention weight of one pass of a ``Transformer``: three lists, one tensor per layer.

    The three kinds are the ones ``tf_transformer.viz`` draws, under the same names.

    Attributes:
        encoder: the encoder's self-attention, ``[batch, heads, S, S]`` per encoder layer.
        decoder: the decoder's masked self-attention, ``[batch, heads, T, T]``
            per decoder layer, zero above the diagonal.
        cross: the decoder's attention to the encoder output, ``[batch, heads, T, S]``
            per decoder layer.

    Padding keys (id 0) get weight 0 in every kind, and every row sums to 1.
    """

    encoder: list
    decoder: list
    cross: list


@keras.saving.register_keras_serializable(package="tf_transformer")
class Transformer(keras.Model):
    """Encoder-decoder Transformer returning next-token logits.

    Padding masks are derived once from token id 0 and handed explicitly to
    every attention call; nothing relies on Keras's implicit ``_keras_mask``
    (which Keras 3 loses after the first residual block).

    Args:
        config: a ``TransformerConfig`` (or its dict form).

    Call args:
        inputs: ``(context_ids, target_ids)``, int ``[batch, S]`` and ``[batch, T]``.

    Returns float32 logits ``[batch, T, target_vocab_size]``; position t
    scores the token that follows ``target_ids[:, :t + 1]``.

    The same pass in parts, for decoding: ``encode`` the source once, then
    ``decode`` (every target position) or ``decode_cached`` (token by token,
    from ``init_cache``). ``call_with_attention`` is the whole pass again,
    plus every attention weight: the one source of them for plots, probes
    and the export.

    Example:
        >>> cfg = TransformerConfig.from_preset("tiny", input_vocab_size=50, target_vocab_size=60)
        >>> model = Transformer(cfg)
        >>> model((tf.constant([[2, 7, 3]]), tf.constant([[2, 9]]))).shape
        TensorShape([1, 2, 60])
        >>> logits, attention = model.call_with_attention((tf.constant([[2, 7, 3]]), tf.constant([[2, 9]])))
        >>> [w.shape for w in attention.cross]  # one per decoder layer: [batch, heads, T, S]
        [TensorShape([1, 4, 2, 3]), TensorShape([1, 4, 2, 3])]
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = TransformerConfig.from_dict(config)
        self.config = config
        c = config
        sizes = dict(
            num_layers=c.num_layers,
            d_model=c.d_model,
            num_heads=c.num_heads,
            dff=c.dff,
            max_length=c.max_length,
            dropout_rate=c.dropout_rate,
            norm_first=c.norm_first,
            key_dim=c.key_dim,
            positions=c.positions,
        )
        self.encoder = Encoder(vocab_size=c.input_vocab_size, name="encoder", **sizes)
        self.decoder = Decoder(
            vocab_size=c.target_vocab_size,
            name="decoder",
            embedding=self.encoder.embedding if c.share_embeddings else None,
            **sizes,
        )
        # Tied, the pre-softmax projection is the transposed target embedding (section 3.4).
        self.final_layer = (
            None if c.output_tied else keras.layers.Dense(c.target_vocab_size, name="final_layer")
        )

    def build(self, input_shape=None):
        # Every weight's shape follows from the config: each layer builds from shapes alone.
        self.encoder.build((None, None))
        self.decoder.build((None, None))
        if self.final_layer is not None:
            self.final_layer.build((None, None, self.config.d_model))

    def encode(self, context_ids, training=None):
        """``[batch, S]`` ids -> encoder output ``[batch, S, d_model]`` and its bool padding mask."""
        context_mask = tf.not_equal(context_ids, PAD_ID)
        return self.encoder(context_ids, padding_mask=context_mask, training=training), context_mask

    def decode(self, target_ids, context, context_mask, training=None):
        """Logits ``[batch, T, target_vocab_size]`` for ``target_ids`` given an encoded source."""
        x = self.decoder(target_ids, context, context_mask=context_mask, training=training)
        return self.project(x)

    def init_cache(self, context, length):
        """Decoding caches for up to ``length`` target tokens (see ``Decoder.init_cache``)."""
        return self.decoder.init_cache(context, length)

    def decode_cached(self, token_ids, context_mask, cache, index):
        """Logits for the tokens at positions ``index ..`` (usually one per row), and the new cache.

        Args:
            token_ids: int ``[batch, T]``.
            context_mask: bool ``[batch, S]``, from ``encode``.
            cache: from ``init_cache(context, length)`` or the previous step; it
                holds the source's keys and values, so the encoder output is
                not passed again.
            index: int scalar, position of ``token_ids[:, 0]``.

        Returns ``(logits, cache)``: float32 ``[batch, T, target_vocab_size]`` and
        the updated cache (see ``Decoder.call_cached``).
        """
        x, cache = self.decoder.call_cached(token_ids, context_mask, cache, index)
        return self.project(x), cache

    def project(self, x):
        """Decoder vectors -> float32 vocabulary logits."""
        logits = self.decoder.embedding.reverse(x) if self.final_layer is None else self.final_layer(x)
        return tf.cast(logits, tf.float32)  # the softmax and the loss stay float32 under mixed precision

    def call(self, inputs, training=None):
        context_ids, target_ids = inputs
        context, context_mask = self.encode(context_ids, training=training)
        return self.decode(target_ids, context, context_mask, training=training)

    def call_with_attention(self, inputs, training=None):
        """``call`` (same arguments), plus every attention weight of every layer.

        Args:
            inputs: ``(context_ids, target_ids)``, int ``[batch, S]`` and ``[batch, T]``.
            training: as in ``call``; pass False for plots (the weights are
                the softmax before attention dropout either way).

        Returns ``AttentionOutput(logits, TransformerAttention(encoder, decoder, cross))``:
        ``call`` itself, run inside ``record_attention``, so the weights are
        those of the very pass that made the logits.
        """
        with record_attention() as seen:
            logits = self(inputs, training=training)
        encoder, decoder = self.encoder.enc_layers, self.decoder.dec_layers
        return AttentionOutput(
            logits,
            TransformerAttention(
                encoder=[seen[layer.self_attention] for layer in encoder],
                decoder=[seen[layer.self_attention] for layer in decoder],
                cross=[seen[layer.cross_attention] for layer in decoder],
            ),
        )

    def load_weights(self, filepath, **kwargs):
        """Like ``keras.Model.load_weights``, with a clear error when the architecture differs."""
        if not self.built:
            self.build()
        try:
            return super().load_weights(filepath, **kwargs)
        except ValueError as err:
            raise ValueError(
                f"The weights in {filepath} do not fit this Transformer "
                f"({self.config}). Build the model from the config those weights were "
                f"trained with (a run directory keeps it in run.json). Keras said: {err}"
            ) from err

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(TransformerConfig.from_dict(config.pop("config")), **config)
