"""The Annotated Transformer's first sanity check: learn to copy random sequences.

It proves the whole model (masks, attention, residuals, the decoder's shift)
can learn; a broken mask or a leaked future shows up here as failure to learn
or as suspiciously perfect accuracy on step one.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig
from tf_transformer.constants import END_ID, RESERVED_TOKENS, START_ID

pytestmark = pytest.mark.slow  # a training

VOCAB, LENGTH = 16, 8


def _copy_batch(rng, size):
    body = rng.integers(len(RESERVED_TOKENS), VOCAB, size=(size, LENGTH))  # words only
    seq = np.concatenate([np.full((size, 1), START_ID), body, np.full((size, 1), END_ID)], axis=1)
    return (seq, seq[:, :-1]), seq[:, 1:]


def test_tiny_preset_learns_to_copy():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = Transformer(
        TransformerConfig.from_preset("tiny", input_vocab_size=VOCAB, target_vocab_size=VOCAB, max_length=16)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["sparse_categorical_accuracy"],
        jit_compile=False,  # explicit: Keras's "auto" decides by what ran earlier in the process
    )
    (src, tgt_in), tgt_out = _copy_batch(rng, 4096)
    first = model.evaluate((src, tgt_in), tgt_out, verbose=0, return_dict=True)
    assert first["sparse_categorical_accuracy"] < 0.2, "an untrained model cannot already copy"
    model.fit((src, tgt_in), tgt_out, batch_size=64, epochs=6, verbose=0)
    (src, tgt_in), tgt_out = _copy_batch(rng, 512)  # fresh sequences: copying, not memorising
    logits = model((tf.constant(src), tf.constant(tgt_in)), training=False)
    accuracy = float(np.mean(np.argmax(logits, -1) == tgt_out))
    assert accuracy > 0.95, f"copy accuracy {accuracy:.3f}"
