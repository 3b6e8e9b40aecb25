import math

import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.layers import PositionalEmbedding, positional_encoding


def test_matches_closed_form_at_sampled_positions():
    length, depth = 200, 64
    table = positional_encoding(length, depth).numpy()
    assert table.shape == (length, depth)
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, length, size=20):
        for i in rng.integers(0, depth // 2, size=8):
            angle = pos / 10000 ** (2 * i / depth)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_first_row_is_sin0_cos0_and_values_bounded():
    table = positional_encoding(10, 8).numpy()
    np.testing.assert_allclose(table[0], [0, 1] * 4, atol=1e-7)
    assert np.abs(table).max() <= 1.0


def test_odd_depth_is_rejected():
    with pytest.raises(ValueError, match="even depth"):
        positional_encoding(10, 7)


def test_embedding_is_scaled_and_shifted_by_start():
    emb = PositionalEmbedding(vocab_size=20, d_model=8, max_length=16)
    ids = tf.constant([[3, 4, 5, 6]])
    full = emb(ids)
    token = emb.embedding(ids) * math.sqrt(8)
    np.testing.assert_allclose(
        full - token, np.broadcast_to(positional_encoding(16, 8)[:4], (1, 4, 8)), atol=1e-6
    )
    # Embedding one token at start=t equals row t of the full pass (what a cached decoder needs).
    for t in range(4):
        np.testing.assert_allclose(emb(ids[:, t : t + 1], start=t), full[:, t : t + 1], atol=1e-6)


def test_too_long_input_fails_plainly():
    emb = PositionalEmbedding(vocab_size=20, d_model=8, max_length=4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_length=4"):
        emb(tf.ones((1, 5), tf.int32))
