"""Whole-model properties: padding invariance, causality, cached decoding, weight tying.

Tolerances: where two computations of the same logits differ only in the
order of float32 sums (padding lengthens the reductions; a cached step
multiplies one row instead of many), they agree to a few units of 1e-7 times
the logits' size. ``assert_close`` bounds the difference relative to that
size, since the logits of the variants range from about 0.5 to 3.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model, max_abs_diff, random_ids

from tf_transformer.layers import AttentionOutput

VARIANTS = {
    "post_norm": {},
    "pre_norm": {"norm_first": True},
    "shared": {"share_embeddings": True, "target_vocab_size": 37},
    "tied_output": {"tie_output": True},
    "key_dim_3": {"key_dim": 3},
    "learned_positions": {"positions": "learned"},
    "no_positions": {"positions": "none"},
}


def _pad(ids, extra):
    return np.pad(ids, ((0, 0), (0, extra)))


def assert_close(actual, expected, rtol=1e-5, what="logits"):
    """``max |actual - expected| <= rtol * max |expected|``: float32 reassociation, measured at
    under 1e-6 of the largest logit, with a margin of ten."""
    scale = float(tf.reduce_max(tf.abs(expected)))
    diff = max_abs_diff(actual, expected)
    assert diff <= rtol * scale, f"{what} moved by {diff} (largest |value| {scale})"


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_padding_never_changes_real_positions(variant, mode, rng):
    model = make_model(**VARIANTS[variant])
    forward = (
        model if mode == "eager" else tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    )
    cfg = model.config
    src = random_ids(rng, 3, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 3, 5, cfg.target_vocab_size)
    # Ragged real lengths inside the batch too: row 1 is shorter on both sides.
    src[1, 4:] = 0
    tgt[1, 3:] = 0
    base = forward((src, tgt)).numpy()
    real = tgt != 0
    for src_extra, tgt_extra in [(1, 0), (0, 1), (7, 0), (0, 9), (5, 4), (20, 20)]:
        out = forward((_pad(src, src_extra), _pad(tgt, tgt_extra))).numpy()
        # Padded keys add exact zeros, but to longer sums, added in another order.
        assert_close(out[:, :5][real], base[real], what=f"padding {src_extra}/{tgt_extra}: real logits")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decoder_never_sees_the_future(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src = random_ids(rng, 2, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 2, 8, cfg.target_vocab_size)
    base = model((src, tgt)).numpy()
    for t in range(7):
        changed = tgt.copy()
        changed[:, t + 1 :] = random_ids(rng, 2, 7 - t, cfg.target_vocab_size)
        out = model((src, changed)).numpy()
        # Exact: the shapes are the same, and a future key's weight is exp(-1e9 - max) = 0.0,
        # so every earlier position adds the same numbers in the same order.
        np.testing.assert_array_equal(out[:, : t + 1], base[:, : t + 1])
        if (changed[:, t + 1 :] != tgt[:, t + 1 :]).any():
            # Another token moves its logits by O(0.1): far above rounding, far below that.
            assert np.abs(out[:, t + 1 :] - base[:, t + 1 :]).max() > 1e-4, "later positions must react"


def test_source_padding_mask_reaches_every_layer(rng):
    """The tutorial's bug under Keras 3: masks vanish after block one. Check a deep stack."""
    model = make_model(num_layers=4)
    src = random_ids(rng, 1, 5, 37)
    padded = _pad(src, 3)
    enc, _ = model.encode(src)
    enc_padded, mask = model.encode(padded)
    # Encoder outputs are layer-normalised (O(1)); the padded pass sums over 8 keys, not 5.
    assert max_abs_diff(enc, enc_padded[:, :5]) < 1e-5
    # Non-zero garbage in the padded slots must not leak into real positions either: the
    # mask, not the id 0, hides them, in every encoder layer and in the decoder's cross-attention.
    garbage = np.concatenate([src, random_ids(rng, 1, 3, 37)], axis=1)
    enc_garbage = model.encoder(garbage, padding_mask=mask)
    assert max_abs_diff(enc_garbage[:, :5], enc) < 1e-5  # as above
    assert max_abs_diff(enc_garbage[:, 5:], enc_padded[:, 5:]) > 1e-2, "the garbage must differ"
    tgt = random_ids(rng, 1, 4, 41)
    logits = model.decode(tgt, enc, tf.ones((1, 5), tf.bool))
    assert_close(model.decode(tgt, enc_garbage, mask), logits)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cached_decoding_equals_full_forward(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src = random_ids(rng, 2, 6, cfg.input_vocab_size)
    src[1, 3:] = 0
    tgt = random_ids(rng, 2, 9, cfg.target_vocab_size)
    full = model((src, tgt))
    context, context_mask = model.encode(src)
    cache = model.init_cache(context, length=12)
    steps = []
    for t in range(9):
        logits, cache = model.decode_cached(tgt[:, t : t + 1], context_mask, cache, t)
        steps.append(logits)
    # One row at a time against all rows at once: the same sums in another order.
    assert_close(tf.concat(steps, axis=1), full)


def test_cross_attention_weights_only_when_asked(rng):
    model = make_model(num_layers=3)
    src = random_ids(rng, 1, 6, 37)
    src[0, 4:] = 0
    tgt = random_ids(rng, 1, 4, 41)
    context, mask = model.encode(src)
    # The plain and cached paths return logits (and the cache) only: no weights to carry.
    logits = model.decode(tgt, context, mask)
    assert isinstance(logits, tf.Tensor)
    step = model.decode_cached(tgt[:, :1], mask, model.init_cache(context, 4), 0)
    assert len(step) == 2 and isinstance(step[1], list)
    # The weights path returns them, one per layer, with the same logits.
    result = model.decode_with_attention(tgt, context, mask)
    assert isinstance(result, AttentionOutput)
    assert max_abs_diff(result.output, logits) == 0.0  # exact: the same ops on the same numbers
    assert len(result.weights) == 3
    for w in result.weights:
        assert w.shape == (1, model.config.num_heads, 4, 6)
        np.testing.assert_allclose(tf.reduce_sum(w, -1), 1.0, atol=1e-6)  # a float32 sum of 4 terms: ulps
        assert float(tf.reduce_max(w[..., 4:])) == 0.0  # exact: exp(-1e9 - max) underflows to 0.0


def test_shared_embeddings_tie_one_matrix():
    model = make_model(share_embeddings=True, target_vocab_size=37)
    assert model.decoder.embedding is model.encoder.embedding
    assert model.final_layer is None
    unshared = make_model(target_vocab_size=37)
    d, v = model.config.d_model, 37
    assert unshared.count_params() - model.count_params() == v * d + (v * d + v)


def test_tied_output_projects_with_the_target_embedding():
    model = make_model(tie_output=True)
    assert model.final_layer is None and model.config.output_tied
    assert model.decoder.embedding is not model.encoder.embedding  # two vocabularies, two tables
    d, v = model.config.d_model, model.config.target_vocab_size
    assert make_model().count_params() - model.count_params() == v * d + v  # the Dense kernel and bias


@pytest.mark.parametrize(
    "positions, equivariant", [("none", True), ("sinusoidal", False), ("learned", False)]
)
def test_without_positions_the_encoder_cannot_tell_word_order(positions, equivariant, rng):
    """With nothing added for position, self-attention is permutation-equivariant: permuting the
    source permutes the encoder's output rows and changes nothing else (why section 3.5 exists)."""
    model = make_model(positions=positions)
    if positions == "learned":  # a freshly initialised table is tiny: make its rows clearly differ
        table = model.encoder.embedding.position_embedding.embeddings
        table.assign(tf.random.stateless_normal(table.shape, seed=(1, 2)))
    src = random_ids(rng, 2, 6, model.config.input_vocab_size)
    order = np.array([3, 0, 5, 1, 4, 2])
    context, _ = model.encode(src)
    permuted, _ = model.encode(src[:, order])
    diff = max_abs_diff(permuted, tf.gather(context, order, axis=1))
    if equivariant:
        assert_close(permuted, tf.gather(context, order, axis=1), what="permuted encoder output")
    else:
        assert diff > 1e-2, f"the encoder ignored word order ({positions} positions; moved {diff})"


def test_learned_positions_are_trained():
    model = make_model(positions="learned")
    table = model.encoder.embedding.position_embedding.embeddings
    assert tuple(table.shape) == (model.config.max_length, model.config.d_model)
    src, tgt = tf.constant([[5, 6, 7, 0]]), tf.constant([[2, 8, 9]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model((src, tgt), training=True) ** 2)
    grad = tf.convert_to_tensor(tape.gradient(loss, table))
    used = tf.reduce_any(grad != 0, axis=1).numpy()
    assert used[:3].all() and not used[4:].any()  # the real tokens' rows learn; rows past the input do not


def test_mixed_precision_logits_are_float32_in_every_decoding_path(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = make_model()
        src, tgt = random_ids(rng, 2, 5, 37), random_ids(rng, 2, 4, 41)
        out = model((src, tgt))
        assert out.dtype == tf.float32
        assert np.isfinite(out.numpy()).all()
        # The cached and weights paths run outside Keras's __call__ (no autocast): they must cope.
        context, mask = model.encode(src)
        logits, _ = model.decode_cached(tgt[:, :1], mask, model.init_cache(context, 4), 0)
        assert logits.dtype == tf.float32 and np.isfinite(logits.numpy()).all()
        assert model.decode_with_attention(tgt, context, mask).output.dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
