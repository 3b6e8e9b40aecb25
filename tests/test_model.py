"""Whole-model properties: padding invariance, causality, cached decoding, weight tying."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import make_model, max_abs_diff, random_ids

VARIANTS = {
    "post_norm": {},
    "pre_norm": {"norm_first": True},
    "shared": {"share_embeddings": True, "target_vocab_size": 37},
}


def _pad(ids, extra):
    return np.pad(ids, ((0, 0), (0, extra)))


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_padding_never_changes_real_positions(variant, mode, rng):
    model = make_model(**VARIANTS[variant])
    forward = model if mode == "eager" else tf.function(lambda x: model(x, training=False),
                                                        reduce_retracing=True)
    cfg = model.config
    src = random_ids(rng, 3, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 3, 5, cfg.target_vocab_size)
    # Ragged real lengths inside the batch too: row 1 is shorter on both sides.
    src[1, 4:] = 0
    tgt[1, 3:] = 0
    base = forward((src, tgt)).numpy()
    for src_extra, tgt_extra in [(1, 0), (0, 1), (7, 0), (0, 9), (5, 4), (20, 20)]:
        out = forward((_pad(src, src_extra), _pad(tgt, tgt_extra))).numpy()
        real = tgt != 0
        diff = np.abs(out[:, :5][real] - base[real]).max()
        assert diff < 1e-5, f"padding {src_extra}/{tgt_extra} moved real logits by {diff}"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decoder_never_sees_the_future(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src = random_ids(rng, 2, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 2, 8, cfg.target_vocab_size)
    base = model((src, tgt)).numpy()
    for t in range(7):
        changed = tgt.copy()
        changed[:, t + 1:] = random_ids(rng, 2, 7 - t, cfg.target_vocab_size)
        out = model((src, changed)).numpy()
        assert np.abs(out[:, :t + 1] - base[:, :t + 1]).max() < 1e-5
        if (changed[:, t + 1:] != tgt[:, t + 1:]).any():
            assert np.abs(out[:, t + 1:] - base[:, t + 1:]).max() > 1e-4, "later positions must react"


def test_source_padding_mask_reaches_every_layer(rng):
    """The tutorial's bug under Keras 3: masks vanish after block one. Check a deep stack."""
    model = make_model(num_layers=4)
    src = random_ids(rng, 1, 5, 37)
    padded = _pad(src, 3)
    enc, _ = model.encode(src)
    enc_padded, _ = model.encode(padded)
    assert max_abs_diff(enc, enc_padded[:, :5]) < 1e-5
    # Non-zero garbage in the padded slots must not leak into real positions either.
    garbage_emb = padded.copy()
    garbage_emb[:, 5:] = 0
    tgt = random_ids(rng, 1, 4, 41)
    assert max_abs_diff(model((src, tgt)), model((garbage_emb, tgt))) < 1e-5


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
        logits, cache = model.decode(tgt[:, t:t + 1], context, context_mask, cache=cache, cache_index=t)
        steps.append(logits)
    assert max_abs_diff(tf.concat(steps, axis=1), full) < 1e-5


def test_cross_attention_weights_for_every_layer(rng):
    model = make_model(num_layers=3)
    src = random_ids(rng, 1, 6, 37)
    src[0, 4:] = 0
    tgt = random_ids(rng, 1, 4, 41)
    context, mask = model.encode(src)
    logits, weights = model.decode(tgt, context, mask, return_attention_weights=True)
    assert len(weights) == 3
    for w in weights:
        assert w.shape == (1, model.config.num_heads, 4, 6)
        np.testing.assert_allclose(tf.reduce_sum(w, -1), 1.0, atol=1e-6)
        assert float(tf.reduce_max(w[..., 4:])) == 0.0


def test_shared_embeddings_tie_one_matrix():
    model = make_model(share_embeddings=True, target_vocab_size=37)
    assert model.decoder.embedding is model.encoder.embedding
    assert model.final_layer is None
    unshared = make_model(target_vocab_size=37)
    d, v = model.config.d_model, 37
    assert unshared.count_params() - model.count_params() == v * d + (v * d + v)


def test_logits_are_float32_under_mixed_precision(rng):
    import keras
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = make_model()
        out = model((random_ids(rng, 2, 5, 37), random_ids(rng, 2, 4, 41)))
        assert out.dtype == tf.float32
        assert np.isfinite(out.numpy()).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")
