"""What the encoder and decoder stacks share: sizes, the embedding and its dropout, the final norm."""

import keras

from tf_transformer.layers.dropout import Dropout
from tf_transformer.layers.norm import LayerNormalization
from tf_transformer.layers.positional import PositionalEmbedding


class LayerStack(keras.layers.Layer):
    """Base class of ``Encoder`` and ``Decoder``: token ids in, ``num_layers`` layers, vectors out.

    The input is the embedding (with its positions) and dropout on it (paper
    section 5.4). Pre-norm leaves the last residual sum unnormalised, so a
    pre-norm stack ends with one more ``LayerNormalization`` (``final_norm``);
    post-norm needs none.

    Args:
        num_layers, d_model, num_heads, dff, vocab_size, max_length,
        dropout_rate, norm_first, key_dim, positions: see ``TransformerConfig``.
        embedding: an existing ``PositionalEmbedding`` to use instead of a new
            one (weight tying). Not part of ``get_config``: the model that owns
            the shared embedding passes it again when it is rebuilt.
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        vocab_size,
        max_length=128,
        dropout_rate=0.1,
        norm_first=False,
        embedding=None,
        key_dim=None,
        positions="sinusoidal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers, self.d_model, self.num_heads, self.dff = num_layers, d_model, num_heads, dff
        self.vocab_size, self.max_length = vocab_size, max_length
        self.dropout_rate, self.norm_first = dropout_rate, norm_first
        self.key_dim, self.positions = key_dim, positions
        self.embedding = embedding or PositionalEmbedding(
            vocab_size, d_model, max_length, positions, name="embedding"
        )
        self.dropout = Dropout(dropout_rate)
        self.final_norm = LayerNormalization(epsilon=1e-6, name="final_norm") if norm_first else None

    def build_stack(self, input_shape, layers):
        """Create every weight from ``input_shape`` (``[batch, length]`` ids), without a forward pass.

        The subclasses' ``build`` passes its list of layers. Building from
        shapes, not by running ``call`` once, keeps a cold start short: Keras
        builds a layer that has no ``build`` of its own by tracing its ``call``
        in a scratch graph, again at every level of nesting.
        """
        if not self.embedding.built:  # (a shared embedding is built once)
            self.embedding.build(input_shape)
        vectors = (*input_shape, self.d_model)
        for layer in layers:
            layer.build(vectors)
        if self.final_norm is not None:
            self.final_norm.build(vectors)

    def embed_tokens(self, token_ids, start=0, training=None):
        """``[B, T]`` ids at positions ``start ..`` -> ``[B, T, d_model]`` input to the first layer."""
        x = self.embedding(token_ids, start=start)
        return x if training is False else self.dropout(x, training=training)

    def normalize_output(self, x):
        """The last layer's output, through ``final_norm`` in a pre-norm stack."""
        return x if self.final_norm is None else self.final_norm(x)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "dropout_rate": self.dropout_rate,
            "norm_first": self.norm_first,
            "key_dim": self.key_dim,
            "positions": self.positions,
        }
