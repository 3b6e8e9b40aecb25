"""Layer normalisation (Ba et al., 2016) with its gradient written out.

``LayerNorm(x) = gamma * (x - mean) / sqrt(var + eps) + beta``, the mean and
variance taken over each position's ``d_model`` features. The forward pass
is Keras's; what differs is the backward pass. Left to automatic
differentiation, TensorFlow differentiates every op of the forward pass one
by one (broadcasts, tiles, the variance's own mean), about twenty passes
over the activations. Written by hand it is the textbook result: with
``x_hat = (x - mean) * r`` (``r = 1 / sqrt(var + eps)``), ``g = dy * gamma``
and ``N = d_model``,

    dx = r * (g - mean(g) - x_hat * mean(g * x_hat))
    dgamma = sum over positions of dy * x_hat,   dbeta = sum of dy

seven passes and four sums. The layer norms are a tenth of a training
step's op time on a CPU (``benchmarks/profile_step.py``); see
docs/performance.md for what this saves.
"""

import contextlib

import keras
import tensorflow as tf


def _layer_norm(x, gamma, beta, epsilon):
    """Normalise ``x`` over its last axis, in float32 at least; returns ``x``'s dtype."""
    dtype = x.dtype
    compute = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype

    @tf.custom_gradient
    def norm(x, gamma, beta):
        x = tf.cast(x, compute)
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        r = tf.math.rsqrt(var + epsilon)
        x_hat = (x - mean) * r
        y = x_hat * tf.cast(gamma, compute) + tf.cast(beta, compute)

        def grad(dy):
            with tf.name_scope("layer_norm_grad"):  # (else its ops carry no layer's name)
                dy = tf.cast(dy, compute)
                rows = tf.reshape(dy, (-1, dy.shape[-1]))
                dbeta = tf.reduce_sum(rows, axis=0)
                dgamma = tf.reduce_sum(tf.reshape(dy * x_hat, (-1, dy.shape[-1])), axis=0)
                g = dy * tf.cast(gamma, compute)
                g_mean = tf.reduce_mean(g, axis=-1, keepdims=True)
                gx_mean = tf.reduce_mean(g * x_hat, axis=-1, keepdims=True)
                dx = (g - g_mean - x_hat * gx_mean) * r
                return tf.cast(dx, dtype), tf.cast(dgamma, gamma.dtype), tf.cast(dbeta, beta.dtype)

        return tf.cast(y, dtype), grad

    return norm(x, gamma, beta)


@keras.saving.register_keras_serializable(package="tf_transformer")
class LayerNormalization(keras.layers.LayerNormalization):
    """``keras.layers.LayerNormalization`` with the hand-written gradient above.

    Same arguments, weights (``gamma``, ``beta``) and config as Keras's: a
    file saved with either loads into the other. Any setting but the
    Transformer's (the last axis, both ``gamma`` and ``beta``, no RMS
    scaling) runs Keras's own code.

    Example:
        >>> x = tf.random.normal((2, 3, 8))
        >>> ours, theirs = LayerNormalization(epsilon=1e-6), keras.layers.LayerNormalization(epsilon=1e-6)
        >>> bool(tf.reduce_max(tf.abs(ours(x) - theirs(x))) < 1e-5)
        True
    """

    def call(self, inputs):
        axis = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        rank = len(inputs.shape)
        if self.rms_scaling or not (self.center and self.scale) or [a % rank for a in axis] != [rank - 1]:
            return super().call(inputs)
        gamma, beta = (
            tf.convert_to_tensor(self.gamma),
            tf.convert_to_tensor(self.beta),
        )  # values, not variables
        return tf.cast(_layer_norm(inputs, gamma, beta, self.epsilon), self.compute_dtype)


@contextlib.contextmanager
def keras_gradient():
    """Inside the block, ``LayerNormalization`` runs Keras's own ``call``: its gradient left to autodiff.

    A model traced inside the block keeps Keras's norm afterwards. For
    comparing the two in one process: ``tests/core/test_norm.py`` and
    ``benchmarks/train_throughput.py --keras-norm``.
    """
    ours = LayerNormalization.call
    LayerNormalization.call = keras.layers.LayerNormalization.call
    try:
        yield
    finally:
        LayerNormalization.call = ours
