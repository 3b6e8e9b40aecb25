"""Tiny models with fixed random weights, and the comparisons the model tests make."""

from __future__ import annotations

import keras
import tensorflow as tf

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)
from tf_transformer import Transformer, TransformerConfig


def make_model(**overrides):
    """A tiny Transformer with fixed random weights (dropout off unless overridden)."""
    keras.utils.set_random_seed(overrides.pop("seed", 0))
    fields = dict(input_vocab_size=37, target_vocab_size=41, dropout_rate=0.0, max_length=32)
    model = Transformer(TransformerConfig.from_preset("tiny", **{**fields, **overrides}))
    model.build()
    return model


def random_ids(rng, batch, length, vocab):
    """Ids in 1..vocab-1: no padding inside the real part of a sequence."""
    return rng.integers(1, vocab, size=(batch, length)).astype("int32")


def max_abs_diff(a, b):
    return float(tf.reduce_max(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))
