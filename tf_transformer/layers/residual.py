"""Residual connection with layer normalisation around every sub-layer.

Paper section 3.1: each sub-layer's output is ``LayerNorm(x + Sublayer(x))``,
with dropout on ``Sublayer(x)`` before the sum (section 5.4). This is
*post-norm*. *Pre-norm* (``x + Sublayer(LayerNorm(x))``, plus one final norm
after the stack) keeps an unnormalised path from input to output and trains
deep stacks more stably; ``norm_first=True`` selects it.
"""

import keras

from tf_transformer.layers.dropout import Dropout


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
        if training is not False:  # (False, as decoding passes: dropout is the identity; skip its call)
            y = self.dropout(y, training=training)
        return x + y if self.norm_first else norm(x + y)

    def get_config(self):
        return {**super().get_config(), "dropout_rate": self.dropout_rate, "norm_first": self.norm_first}
