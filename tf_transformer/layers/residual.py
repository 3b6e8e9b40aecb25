"""Residual connection with layer normalisation around every sub-layer.

Paper section 3.1: each sub-layer's output is ``LayerNorm(x + Sublayer(x))``,
with dropout on ``Sublayer(x)`` before the sum (section 5.4). This is
*post-norm*. *Pre-norm* (``x + Sublayer(LayerNorm(x))``, plus one final norm
after the stack) keeps an unnormalised path from input to output and trains
deep stacks more stably; ``norm_first=True`` selects it.
"""

import keras

from tf_transformer.layers.dropout import Dropout
from tf_transformer.layers.positional import PositionalEmbedding


class ResidualLayer(keras.layers.Layer):
    """Base class for encoder and decoder layers: the two halves of a residual sub-layer.

    A subclass wraps each sub-layer ``f`` with a norm of its own::

        h = self.sublayer_input(x, norm)          # what f reads
        x = self.sublayer_output(x, f(h), norm)   # residual sum (and norm)
    """

    def __init__(self, dropout_rate=0.1, norm_first=False, **kwargs):
        super().__init__(**kwargs)
        self.dropout_rate = dropout_rate
        self.norm_first = norm_first
        self.dropout = Dropout(dropout_rate)

    def sublayer_input(self, x, norm):
        return norm(x) if self.norm_first else x

    def sublayer_output(self, x, y, norm, training=None):
        y = self.dropout(y, training=training)
        return x + y if self.norm_first else norm(x + y)

    def get_config(self):
        return {**super().get_config(), "dropout_rate": self.dropout_rate,
                "norm_first": self.norm_first}


class LayerStack(keras.layers.Layer):
    """What ``Encoder`` and ``Decoder`` share: sizes, the embedding, its dropout, the final norm.

    Pre-norm leaves the last residual sum unnormalised, so a pre-norm stack
    ends with one more ``LayerNormalization`` (``final_norm``); post-norm needs none.
    ``embedding`` may be an existing ``PositionalEmbedding`` (weight tying); it
    is not part of ``get_config``: the model that owns the shared embedding
    passes it again when it is rebuilt.
    """

    def __init__(self, num_layers, d_model, num_heads, dff, vocab_size, max_length=128,
                 dropout_rate=0.1, norm_first=False, embedding=None, **kwargs):
        super().__init__(**kwargs)
        self.num_layers, self.d_model, self.num_heads, self.dff = num_layers, d_model, num_heads, dff
        self.vocab_size, self.max_length = vocab_size, max_length
        self.dropout_rate, self.norm_first = dropout_rate, norm_first
        self.embedding = embedding or PositionalEmbedding(vocab_size, d_model, max_length,
                                                          name="embedding")
        self.dropout = Dropout(dropout_rate)
        self.final_norm = (keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
                           if norm_first else None)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "d_model": self.d_model,
                "num_heads": self.num_heads, "dff": self.dff, "vocab_size": self.vocab_size,
                "max_length": self.max_length, "dropout_rate": self.dropout_rate,
                "norm_first": self.norm_first}
