"""Our LayerNormalization: Keras's output, the hand-written gradient equal to automatic differentiation."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model, max_abs_diff, random_ids

from tf_transformer.layers import LayerNormalization
from tf_transformer.layers.norm import _layer_norm, keras_gradient


def norms_with_equal_weights(policy="float32", **kwargs):
    ours = LayerNormalization(epsilon=1e-6, dtype=policy, **kwargs)
    theirs = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy, **kwargs)
    for layer in (ours, theirs):
        layer.build((4, 5, 16))
        for i, weight in enumerate(layer.weights):  # gamma and beta away from 1 and 0
            weight.assign(tf.random.stateless_normal(weight.shape, [7, i]))
    return ours, theirs


def output_and_gradients(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]


@pytest.mark.parametrize(
    "policy, dtype, tolerance",
    # bf16 rounds its output and dx to 8 bits of mantissa: one step at these sizes (|y| < 8) is 0.03.
    [("float32", tf.float32, 2e-5), ("mixed_bfloat16", tf.bfloat16, 0.07)],
)
def test_output_and_every_gradient_equal_keras_layer_norm(policy, dtype, tolerance):
    ours, theirs = norms_with_equal_weights(policy)
    x = tf.cast(tf.random.stateless_normal((4, 5, 16), [1, 2]) * 3 + 1, dtype)  # not already normal
    upstream = tf.random.stateless_normal((4, 5, 16), [3, 4])
    mine, keras_ = output_and_gradients(ours, x, upstream), output_and_gradients(theirs, x, upstream)
    for a, b in zip(mine, keras_, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert max_abs_diff(a, b) < tolerance
    # gamma's and beta's gradients are summed in float32 from float32 x_hat: tight in both.
    assert max(max_abs_diff(a, b) for a, b in zip(mine[2:], keras_[2:])) < 1e-3


def test_the_gradient_is_the_derivative_numerically():
    """Central differences of the float64 function agree with the hand-written backward pass."""
    x = tf.random.stateless_normal((3, 6), [5, 6], dtype=tf.float64) * 2
    gamma = tf.random.stateless_normal((6,), [7, 8], dtype=tf.float64)
    beta = tf.random.stateless_normal((6,), [9, 10], dtype=tf.float64)
    theoretical, numerical = tf.test.compute_gradient(
        lambda x, g, b: _layer_norm(x, g, b, 1e-6), [x, gamma, beta]
    )
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(center=False), dict(scale=False), dict(axis=1)])
def test_other_settings_run_keras_own_code(kwargs):
    ours, theirs = norms_with_equal_weights(**kwargs)
    x = tf.random.stateless_normal((4, 5, 16), [1, 2])
    upstream = tf.random.stateless_normal((4, 5, 16), [3, 4])
    for a, b in zip(
        output_and_gradients(ours, x, upstream), output_and_gradients(theirs, x, upstream), strict=True
    ):
        assert max_abs_diff(a, b) == 0.0


def test_weights_and_config_interchange_with_keras_layer_norm():
    ours, theirs = norms_with_equal_weights()
    assert [w.path.split("/")[-1] for w in ours.weights] == [w.path.split("/")[-1] for w in theirs.weights]
    clone = keras.layers.LayerNormalization.from_config(ours.get_config())
    assert clone.epsilon == 1e-6
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(restored) is LayerNormalization


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_whole_models_gradients_are_those_of_keras_layer_norm(norm_first):
    """The tiny model with our norms, then with Keras's ``call`` in them: same loss, same gradients."""
    rng = np.random.default_rng(0)
    context, target = random_ids(rng, 3, 7, 37), random_ids(rng, 3, 6, 41)
    context[0, 5:] = 0  # padding, so the masks matter

    def loss_and_gradients(model):
        with tf.GradientTape() as tape:
            logits = model((context, target), training=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(target, logits))
        gradients = tape.gradient(loss, model.trainable_weights)
        return [loss, *map(tf.convert_to_tensor, gradients)]  # (the embeddings' are sparse)

    ours = loss_and_gradients(make_model(norm_first=norm_first))
    with keras_gradient():
        theirs = loss_and_gradients(make_model(norm_first=norm_first))
    assert LayerNormalization.call is not keras.layers.LayerNormalization.call  # (the block put ours back)
    assert len(ours) == len(theirs) > 20
    for a, b in zip(ours, theirs, strict=True):
        assert max_abs_diff(a, b) < 1e-5 * max(1.0, float(tf.reduce_max(tf.abs(b))))
    # Two computations, not one run twice: their rounding differs somewhere.
    assert max(max_abs_diff(a, b) for a, b in zip(ours, theirs, strict=True)) > 0
