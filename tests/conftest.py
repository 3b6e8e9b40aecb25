"""Shared fixtures. Importing tf_transformer first keeps TensorFlow's start-up noise out."""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig

# Modules whose tests start subprocesses, train, build a wheel or execute notebooks:
# `make test-fast` (pytest -m "not slow") leaves them out; `make test` and CI run them.
SLOW_MODULES = {
    "test_notebooks",
    "test_exercises",
    "test_training_distributed",
    "test_training_run",
    "test_training_reliability",
    "test_export_reliability",
    "test_inference_export",
    "test_wheel",
    "test_copy_task",
    "test_end_to_end",
    "test_serving",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, training, wheels or notebooks")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def tiny_model():
    return make_model()


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    keras.backend.clear_session()


def max_abs_diff(a, b):
    return float(tf.reduce_max(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))
