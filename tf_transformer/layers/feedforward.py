"""The position-wise feed-forward network (paper section 3.3, eq. 2)."""

import keras


@keras.saving.register_keras_serializable(package="tf_transformer")
class FeedForward(keras.layers.Layer):
    """``FFN(x) = max(0, x W1 + b1) W2 + b2``, applied to every position alike.

    Args:
        d_model: input and output width.
        dff: inner width (d_ff; 4 x d_model in the paper).

    Example:
        >>> FeedForward(d_model=8, dff=32)(keras.ops.ones((2, 5, 8))).shape
        TensorShape([2, 5, 8])
    """

    def __init__(self, d_model, dff, **kwargs):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.dff = dff
        self.inner = keras.layers.Dense(dff, activation="relu", name="inner")  # W1, b1
        self.outer = keras.layers.Dense(d_model, name="outer")  # W2, b2

    def build(self, input_shape):
        self.inner.build(input_shape)
        self.outer.build((*input_shape[:-1], self.dff))

    def call(self, x):
        return self.outer(self.inner(x))

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "dff": self.dff}
