"""Dropout (paper section 5.4) with a cheaper random mask.

Dropout zeroes each element with probability ``rate`` and scales the rest by
``1 / (1 - rate)``, so the expected value is unchanged. The Transformer
drops ~12 million elements per 2,048-token training step (attention weights,
sub-layer outputs, embeddings), and on a CPU drawing their random numbers
costs more time than any layer but the matmuls.

Keras's dropout draws one 32-bit float per element and builds the output in
three passes (compare, scale, select), whose gradient is two more. This one
draws 16 random bits per element (one 32-bit Philox number serves two
elements), keeps an element when its bits are ``>= round(rate * 2**16)``, and
multiplies by one precomputed ``{0, scale}`` mask (one pass forward, one
backward). The drop probability is ``rate`` rounded to a multiple of 2**-16
(0.1 -> 0.100006), and the scale uses that exact probability, so the output
stays unbiased. An odd last dimension falls back to 32 bits per element.
"""

import keras
import tensorflow as tf


def dropout_mask(shape, rate, seed, dtype=tf.float32, last_dim=None):
    """A ``{0, 1 / keep}`` mask of ``shape`` that keeps each element with probability ``keep``.

    Args:
        shape: int32 tensor or list, the mask's shape.
        rate: drop probability in [0, 1).
        seed: int32/int64 ``[2]``, a stateless seed.
        last_dim: the static size of the last dimension, if known; an even
            one lets two elements share one 32-bit random number.

    Returns ``(mask, keep)``: the mask, and the exact keep probability used.
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    seed = tf.cast(seed, tf.int64)
    if last_dim is not None and last_dim % 2 == 0:
        levels = 2**16
        half = tf.concat([shape[:-1], [last_dim // 2]], axis=0)
        bits = tf.random.stateless_uniform(half, seed, minval=None, maxval=None, dtype=tf.uint32)
        bits = tf.reshape(tf.bitcast(bits, tf.uint16), shape)  # two 16-bit draws per number
        threshold = min(round(rate * levels), levels - 1)
        keep_bits = tf.constant(threshold, tf.uint16)
    else:
        levels = 2**32
        bits = tf.random.stateless_uniform(shape, seed, minval=None, maxval=None, dtype=tf.uint32)
        threshold = min(round(rate * levels), levels - 1)
        keep_bits = tf.constant(threshold, tf.uint32)
    keep = 1.0 - threshold / levels
    mask = tf.where(bits >= keep_bits, tf.constant(1.0 / keep, dtype), tf.constant(0.0, dtype))
    return mask, keep


@keras.saving.register_keras_serializable(package="tf_transformer")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` with the 16-bit mask above (same arguments, seeds and config).

    Example:
        >>> x = keras.ops.ones((1000, 100))
        >>> y = Dropout(0.1, seed=1)(x, training=True)
        >>> round(float(keras.ops.mean(y == 0)), 2), round(float(keras.ops.mean(y)), 1)
        (0.1, 1.0)
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is not None or self.rate >= 1:
            return super().call(inputs, training=training)
        mask, _ = dropout_mask(
            tf.shape(inputs),
            self.rate,
            self.seed_generator.next(),
            dtype=inputs.dtype,
            last_dim=inputs.shape[-1],
        )
        return inputs * mask
