"""Our Dropout: the drop rate, an unbiased output, seeds, its gradient, and where the model uses it."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model

from tf_transformer.layers import Dropout, dropout_mask


@pytest.mark.parametrize("last_dim", [64, 63])  # 16-bit draws, and the 32-bit fallback
@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_drop_rate_and_mean(rate, last_dim):
    n = 4000 * last_dim
    mask, keep = dropout_mask((4000, last_dim), rate, tf.constant([3, 4]), last_dim=last_dim)
    mask = mask.numpy()
    # The drop threshold is rate rounded to a multiple of 2**-16 (1.5e-5): 1e-4 bounds that.
    assert abs(keep - (1 - rate)) < 1e-4
    assert set(np.unique(mask)) == {0.0, np.float32(1 / keep)}
    dropped = float(np.mean(mask == 0))
    # binomial standard error ~ sqrt(rate (1 - rate) / n) ~ 0.0002-0.0003 here; allow 5 of them
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    # Unbiased: E[mask] = 1; the sample mean's standard error is below 0.002 here (5 of them).
    assert abs(float(np.mean(mask)) - 1.0) < 0.01


def test_neighbours_are_independent():
    """Two elements share one 32-bit draw; their drops must not be correlated."""
    mask, _ = dropout_mask((20000, 2), 0.5, tf.constant([7, 8]), last_dim=2)
    a, b = (mask.numpy() == 0).T
    both = float(np.mean(a & b))
    # Sampling bounds, not rounding: standard errors ~0.003 (both) and ~0.007 (r) at n = 20,000.
    assert abs(both - 0.25) < 0.015
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02


def test_same_seed_same_mask_and_fresh_masks_per_call():
    x = tf.ones((8, 32))
    keras.utils.set_random_seed(5)
    first = Dropout(0.5)
    a1, a2 = first(x, training=True), first(x, training=True)
    keras.utils.set_random_seed(5)
    second = Dropout(0.5)
    b1 = second(x, training=True)
    # Exact: the same seed gives the same integer draws, and x * mask is one multiply.
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    assert not np.array_equal(a1.numpy(), a2.numpy())


def test_identity_outside_training_and_at_rate_zero():
    x = tf.random.normal((4, 6))
    np.testing.assert_array_equal(Dropout(0.5)(x, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x.numpy())


def test_gradient_is_the_mask():
    x = tf.random.normal((16, 32))
    layer = Dropout(0.25, seed=1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    grad = tape.gradient(y, x).numpy()
    y = y.numpy()
    kept = y != 0
    # 0.25 is a multiple of 2**-16, so keep is exactly 0.75; the scale float32(1 / 0.75) and
    # one multiply by it are each within 6e-8 relative: rtol 1e-5 holds on any CPU.
    np.testing.assert_allclose(grad[kept], 1 / 0.75, rtol=1e-5)
    assert np.all(grad[~kept] == 0)
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / 0.75, rtol=1e-5)


def test_serialises_as_our_layer():
    layer = Dropout(0.2, seed=3)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is Dropout and clone.rate == 0.2 and clone.seed == 3


def test_model_uses_it_everywhere():
    """Every dropout in the Transformer (embeddings, residuals, attention weights) is ours."""
    model = make_model(dropout_rate=0.1)
    found = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    assert found and all(type(layer) is Dropout for layer in found)
