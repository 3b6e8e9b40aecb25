"""The Transformer: encoder, decoder and the pre-softmax projection (paper figure 1)."""

import keras
import tensorflow as tf

from tf_transformer.config import TransformerConfig
from tf_transformer.layers import Decoder, Encoder


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

    Example:
        >>> cfg = TransformerConfig.from_preset("tiny", input_vocab_size=50, target_vocab_size=60)
        >>> model = Transformer(cfg)
        >>> model((tf.constant([[2, 7, 3]]), tf.constant([[2, 9]]))).shape
        TensorShape([1, 2, 60])
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = TransformerConfig.from_dict(config)
        self.config = config
        c = config
        sizes = dict(num_layers=c.num_layers, d_model=c.d_model, num_heads=c.num_heads, dff=c.dff,
                     max_length=c.max_length, dropout_rate=c.dropout_rate, norm_first=c.norm_first)
        self.encoder = Encoder(vocab_size=c.input_vocab_size, name="encoder", **sizes)
        self.decoder = Decoder(vocab_size=c.target_vocab_size, name="decoder",
                               embedding=self.encoder.embedding if c.share_embeddings else None,
                               **sizes)
        # With sharing, the pre-softmax projection is the transposed embedding (section 3.4).
        self.final_layer = (None if c.share_embeddings
                            else keras.layers.Dense(c.target_vocab_size, name="final_layer"))

    def build(self, input_shape=None):
        # Every weight's shape follows from the config: one dummy pass creates them all.
        ids = tf.constant([[2, 3]], tf.int32)
        self.call((ids, ids))

    def encode(self, context_ids, training=None):
        """``[batch, S]`` ids -> encoder output ``[batch, S, d_model]`` and its bool padding mask."""
        context_mask = tf.not_equal(context_ids, 0)
        return self.encoder(context_ids, padding_mask=context_mask, training=training), context_mask

    def decode(self, target_ids, context, context_mask, cache=None, cache_index=None,
               return_attention_weights=False, training=None):
        """Logits for ``target_ids`` given an encoded source; see ``Decoder`` for the cache."""
        out = self.decoder(target_ids, context, context_mask=context_mask, cache=cache,
                           cache_index=cache_index, return_attention_weights=return_attention_weights,
                           training=training)
        x, rest = (out, ()) if not isinstance(out, tuple) else (out[0], out[1:])
        logits = self.project(x)
        return logits if not rest else (logits, *rest)

    def project(self, x):
        """Decoder vectors -> float32 vocabulary logits."""
        logits = self.decoder.embedding.reverse(x) if self.final_layer is None else self.final_layer(x)
        return tf.cast(logits, tf.float32)  # the softmax and the loss stay float32 under mixed precision

    def init_cache(self, context, length):
        """Decoding caches for up to ``length`` target tokens (see ``Decoder.init_cache``)."""
        return self.decoder.init_cache(context, length)

    def call(self, inputs, training=None):
        context_ids, target_ids = inputs
        context, context_mask = self.encode(context_ids, training=training)
        return self.decode(target_ids, context, context_mask, training=training)

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
