"""Every layer and the whole model survive get_config, .keras and .weights.h5 round trips."""

import collections

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model, max_abs_diff, random_ids

from tf_transformer import Transformer, TransformerConfig
from tf_transformer.layers import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    FeedForward,
    MultiHeadAttention,
    PositionalEmbedding,
)

LAYERS = [
    (lambda: PositionalEmbedding(vocab_size=20, d_model=8, max_length=10), lambda: tf.constant([[3, 4, 0]])),
    (
        lambda: MultiHeadAttention(d_model=8, num_heads=2, dropout_rate=0.1),
        lambda: tf.random.normal((2, 3, 8)),
    ),
    (lambda: FeedForward(d_model=8, dff=16), lambda: tf.random.normal((2, 3, 8))),
    (
        lambda: EncoderLayer(d_model=8, num_heads=2, dff=16, norm_first=True),
        lambda: tf.random.normal((2, 3, 8)),
    ),
    (
        lambda: Encoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=20, max_length=10),
        lambda: tf.constant([[3, 4, 0]]),
    ),
]


@pytest.mark.parametrize("make, inputs", LAYERS)
def test_layer_config_round_trip(make, inputs):
    keras.utils.set_random_seed(0)
    layer = make()
    x = inputs()
    out = layer(x)
    clone = layer.__class__.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    assert max_abs_diff(clone(x), out) == 0.0


def test_decoder_layers_round_trip():
    keras.utils.set_random_seed(0)
    x, ctx = tf.random.normal((2, 3, 8)), tf.random.normal((2, 4, 8))
    for layer, ids in [
        (DecoderLayer(d_model=8, num_heads=2, dff=16), x),
        (Decoder(num_layers=2, d_model=8, num_heads=2, dff=16, vocab_size=20), tf.constant([[2, 5, 0]])),
    ]:
        out = layer(ids, ctx)
        clone = layer.__class__.from_config(layer.get_config())
        clone(ids, ctx)
        clone.set_weights(layer.get_weights())
        assert max_abs_diff(clone(ids, ctx), out) == 0.0


@pytest.fixture
def batch(rng):
    src = random_ids(rng, 2, 6, 37)
    src[1, 4:] = 0
    return src, random_ids(rng, 2, 5, 41)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_first": True},
        {"share_embeddings": True, "target_vocab_size": 37},
        {"positions": "learned", "key_dim": 3, "tie_output": True},
        {"positions": "none"},
    ],
)
def test_keras_file_round_trip(tmp_path, batch, overrides):
    model = make_model(**overrides)
    src, tgt = batch
    tgt = np.minimum(tgt, model.config.target_vocab_size - 1)
    expected = model((src, tgt))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Transformer)
    assert loaded.config == model.config
    assert max_abs_diff(loaded((src, tgt)), expected) == 0.0


def test_weights_file_round_trip(tmp_path, batch):
    model = make_model()
    expected = model(batch)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    fresh = make_model(seed=99)
    assert max_abs_diff(fresh(batch), expected) > 1e-3
    fresh.load_weights(path)
    assert max_abs_diff(fresh(batch), expected) == 0.0


# Where a one-layer model's variables sit in a `.weights.h5` (and inside a `.keras`) file, with
# how many at each path. Keras finds a variable by the attribute names that lead to its layer,
# so renaming such an attribute would make every earlier checkpoint fail to load. The encoder
# layer's `self_attention_norm` keeps the path `attention_norm` it was saved under before it
# was renamed (see `EncoderLayer.attention_norm`).
WEIGHT_PATHS = {
    "encoder/embedding/embedding": 1,
    **{
        f"encoder/enc_layers/encoder_layer/{name}": count
        for name, count in [
            ("self_attention", 8),
            ("attention_norm", 2),
            ("ffn/inner", 2),
            ("ffn/outer", 2),
            ("ffn_norm", 2),
        ]
    },
    "decoder/embedding/embedding": 1,
    **{
        f"decoder/dec_layers/decoder_layer/{name}": count
        for name, count in [
            ("self_attention", 8),
            ("self_attention_norm", 2),
            ("cross_attention", 8),
            ("cross_attention_norm", 2),
            ("ffn/inner", 2),
            ("ffn/outer", 2),
            ("ffn_norm", 2),
        ]
    },
    "final_layer": 2,
}


def test_weight_paths_stay_the_same(tmp_path):
    path = tmp_path / "model.weights.h5"
    make_model(num_layers=1).save_weights(path)
    found = collections.Counter()
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: (
                found.update([name.rsplit("/vars/", 1)[0]]) if isinstance(item, h5py.Dataset) else None
            )
        )
    assert dict(found) == WEIGHT_PATHS


@pytest.mark.parametrize(
    "other", [{"num_layers": 3}, {"d_model": 48, "num_heads": 4}, {"target_vocab_size": 50}]
)
def test_weights_into_another_architecture_fail_clearly(tmp_path, other):
    path = tmp_path / "model.weights.h5"
    make_model().save_weights(path)
    with pytest.raises(ValueError, match="do not fit this Transformer.*run.json"):
        make_model(**other).load_weights(path)


def test_weights_need_the_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match="weights.h5"):
        make_model().save_weights(tmp_path / "model.h5")


def test_config_survives_in_model_config():
    model = make_model()
    clone = Transformer.from_config(model.get_config())
    assert clone.config == model.config
    assert isinstance(TransformerConfig.from_dict(model.get_config()["config"]), TransformerConfig)
