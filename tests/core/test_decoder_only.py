"""A decoder built with ``cross_attention=False``: the decoder-only stack of a language model.

It must be causal, decode step by step exactly as it runs at once, survive a config round trip,
and leave the default (encoder-decoder) decoder and its weight paths exactly as they were.
"""

import keras
import pytest
import tensorflow as tf
from helpers.models import max_abs_diff, random_ids

from tf_transformer.layers import Decoder, DecoderLayer

SIZES = dict(num_layers=2, d_model=16, num_heads=2, dff=32, vocab_size=29, max_length=16, dropout_rate=0.0)
VARIANTS = {"post_norm": {}, "pre_norm": {"norm_first": True}, "learned_positions": {"positions": "learned"}}


def make_lm(**overrides):
    """A built decoder-only stack with fixed random weights (dropout off)."""
    keras.utils.set_random_seed(0)
    decoder = Decoder(**{**SIZES, **overrides}, cross_attention=False)
    decoder.build((None, None))
    return decoder


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decoder_only_never_sees_the_future(variant, rng):
    decoder = make_lm(**VARIANTS[variant])
    ids = random_ids(rng, 2, 10, SIZES["vocab_size"])
    out = decoder(ids)
    changed = ids.copy()
    changed[:, 6:] = (changed[:, 6:] % (SIZES["vocab_size"] - 1)) + 1  # every later token differs
    moved = decoder(changed)
    assert max_abs_diff(moved[:, :6], out[:, :6]) < 1e-6
    assert max_abs_diff(moved[:, 6:], out[:, 6:]) > 1e-3, "a changed token must change its own output"
    _, weights = decoder.call_with_attention(ids)
    assert weights.cross_attention is None
    assert len(weights.self_attention) == SIZES["num_layers"]
    for w in weights.self_attention:  # [batch, heads, T, T], nothing above the diagonal
        assert float(tf.reduce_max(tf.linalg.band_part(w, 0, -1) - tf.linalg.band_part(w, 0, 0))) == 0.0


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decoder_only_cached_decoding_equals_full_forward(variant, rng):
    decoder = make_lm(**VARIANTS[variant])
    ids = random_ids(rng, 2, 9, SIZES["vocab_size"])
    full = decoder(ids)
    cache = decoder.init_cache(None, length=12, batch_size=2)
    assert all(set(layer_cache) == {"self"} for layer_cache in cache)
    steps = []
    for t in range(9):
        x, cache = decoder.call_cached(ids[:, t : t + 1], None, cache, t)
        steps.append(x)
    scale = float(tf.reduce_max(tf.abs(full)))
    assert max_abs_diff(tf.concat(steps, axis=1), full) <= 1e-5 * scale


def test_decoder_only_config_round_trip(rng):
    decoder = make_lm(norm_first=True)
    ids = random_ids(rng, 2, 5, SIZES["vocab_size"])
    config = decoder.get_config()
    assert config["cross_attention"] is False
    clone = Decoder.from_config(config)
    clone.build((None, None))
    clone.set_weights(decoder.get_weights())
    assert clone.get_config() == config
    assert max_abs_diff(clone(ids), decoder(ids)) == 0.0
    layer = decoder.dec_layers[0]
    assert DecoderLayer.from_config(layer.get_config()).get_config() == layer.get_config()


def test_decoder_only_asks_plainly_for_what_it_needs():
    decoder = make_lm()
    with pytest.raises(ValueError, match="cross_attention=False"):
        decoder(tf.constant([[2, 3]]), tf.zeros((1, 4, SIZES["d_model"])))
    with pytest.raises(ValueError, match="batch_size"):
        decoder.init_cache(None, length=4)
    with pytest.raises(ValueError, match="context"):
        Decoder(**SIZES)(tf.constant([[2, 3]]))


def _weight_paths(layer):
    return sorted(v.path for v in layer.weights)


def test_the_default_decoder_keeps_its_weights_and_the_decoder_only_one_drops_cross_attention():
    default = Decoder(**SIZES, name="decoder")
    default.build((None, None))
    explicit = Decoder(**SIZES, name="decoder", cross_attention=True)
    explicit.build((None, None))
    lm = Decoder(**SIZES, name="decoder", cross_attention=False)
    lm.build((None, None))
    paths = _weight_paths(default)
    assert _weight_paths(explicit) == paths
    assert default.get_config()["cross_attention"] is True
    # Per layer: self-attention 8, its norm 2, cross-attention 8, its norm 2, feed-forward 4, norm 2.
    assert len(paths) == 1 + SIZES["num_layers"] * 26
    assert sum("cross_attention" in p for p in paths) == SIZES["num_layers"] * 10
    lm_paths = _weight_paths(lm)
    assert lm_paths == [p for p in paths if "cross_attention" not in p]
    assert lm.count_params() < default.count_params()
