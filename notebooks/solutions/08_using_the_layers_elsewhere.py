"""Worked solutions to the exercises of notebook 8, Using the layers in your own models.

Run from the notebooks folder: ``python solutions/08_using_the_layers_elsewhere.py``.
Every answer is worked out, printed and checked with an assert.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import re

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import course
from tf_transformer.data import PAD_ID, load_dataset, load_tokenizers
from tf_transformer.layers import Encoder

FAST = course.fast_mode()
keras.utils.set_random_seed(0)
tokenizers = load_tokenizers()
VOCAB = int(tokenizers.pt.get_vocab_size())


class NegationClassifier(keras.Model):
    """The notebook's classifier; ``pooling="plain"`` averages over padding too (exercise 2)."""

    def __init__(self, vocab_size, pooling="masked", **kwargs):
        super().__init__(**kwargs)
        self.pooling = pooling
        self.encoder = Encoder(
            num_layers=2,
            d_model=64,
            num_heads=4,
            dff=128,
            vocab_size=vocab_size,
            max_length=128,
            dropout_rate=0.1,
        )
        self.head = keras.layers.Dense(1)

    def pooled(self, ids, training=None):
        mask = tf.not_equal(ids, PAD_ID)  # (B, S)
        vectors = self.encoder(ids, padding_mask=mask, training=training)  # (B, S, 64)
        if self.pooling == "plain":
            return tf.reduce_mean(vectors, axis=1), vectors
        weights = tf.cast(mask, vectors.dtype)[..., None]
        return tf.reduce_sum(vectors * weights, 1) / tf.reduce_sum(weights, 1), vectors

    def call(self, ids, training=None):
        return self.head(self.pooled(ids, training)[0])[:, 0]


# %% Exercise 1
# The token embedding: one 64-vector per Portuguese token.
d, dff = 64, 128
embedding = VOCAB * d
# One encoder layer:
# - attention: four 64 x 64 projections (query, key, value, output), each with a bias;
# - two layer norms (after attention, after the feed-forward network), gamma and beta;
# - feed-forward: 64 -> 128 -> 64, with biases.
attention = 4 * (d * d + d)
norms = 2 * (2 * d)
ffn = (d * dff + dff) + (dff * d + d)
layer = attention + norms + ffn
# The positional encoding is a fixed table (no weights), and this post-norm
# encoder has no final norm (the pre-norm one would add 2 * 64). The head: 64 + 1.
head = d + 1
total = embedding + 2 * layer + head
print(f"embedding {VOCAB} x {d} = {embedding:,}")
print(f"one layer: attention {attention:,} + norms {norms} + feed-forward {ffn:,} = {layer:,}")
print(f"total: {embedding:,} + 2 x {layer:,} + head {head} = {total:,}")
classifier = NegationClassifier(VOCAB)
classifier(tf.constant([[2, 5, 3]]))  # builds the weights
assert VOCAB == 2024 and layer == 33_472
assert classifier.count_params() == total == 196_545
print(f"two thirds of it ({embedding / total:.0%}) is the embedding table")

# %% Exercise 2
# A plain mean over all S positions: the padding positions' vectors count too.
# And they are not zero: the encoder computes a vector for every position (a
# padding position cannot be attended to, but it still attends to the real
# tokens), so adding padding pulls the mean towards those vectors.
plain = NegationClassifier(VOCAB, pooling="plain")
ids = tokenizers.pt.tokenize(tf.constant(["O animal não atravessou a rua."])).to_tensor()  # no padding
padded = tf.pad(ids, [[0, 0], [0, 17]])
n, p = int(ids.shape[1]), 17
masked_change = float(tf.reduce_max(tf.abs(classifier(ids) - classifier(padded))))
plain_change = float(tf.reduce_max(tf.abs(plain(ids) - plain(padded))))
print(
    f"\nlogit change after 17 padding tokens: masked mean {masked_change:.1e}, plain mean {plain_change:.1e}"
)
assert masked_change < 1e-4 and plain_change > 100 * max(masked_change, 1e-6)
# By how much: with m_real the mean of the n real vectors and m_pad that of the p
# padding vectors, the plain mean of the padded row is (n m_real + p m_pad) / (n + p),
# so it moves by p / (n + p) * (m_pad - m_real): here 17/(n + 17) of the way from
# the sentence's mean towards the padding's.
before, _ = plain.pooled(ids)
after, vectors = plain.pooled(padded)
m_real, m_pad = tf.reduce_mean(vectors[:, :n], axis=1), tf.reduce_mean(vectors[:, n:], axis=1)
predicted_move = p / (n + p) * (m_pad - m_real)
gap = float(tf.reduce_max(tf.abs((after - before) - predicted_move)))
print(
    f"n = {n} real tokens: the pooled vector moves {p}/{n + p} = {p / (n + p):.2f} "
    f"of the way to the padding's mean"
)
print(f"  (formula against the model: largest difference {gap:.1e})")
assert gap < 1e-4
assert float(tf.reduce_max(tf.abs(m_pad - m_real))) > 1e-3  # the padding vectors really differ

# %% Exercise 3
# Take the clue away: delete the tokens não and Não, keep the labels, train the
# same classifier on both versions of the same sentences and compare.
NEGATION = re.compile(r"\bnot\b|n't\b")
NAO = [int(tokenizers.pt.tokenize(tf.constant([w])).to_tensor().numpy()[0, 1]) for w in ("não", "Não")]


def labelled(split, size):
    pairs = list(load_dataset("embedded", split).take(size).as_numpy_iterator())
    ids = tokenizers.pt.tokenize(tf.constant([pt for pt, _ in pairs]))  # ragged: (N, None)
    labels = np.array([bool(NEGATION.search(en.decode())) for _, en in pairs], dtype="float32")
    return ids, labels


def without_nao(ids):
    keep = tf.logical_not(tf.reduce_any(tf.equal(ids[..., None], NAO), axis=-1))
    return tf.ragged.boolean_mask(ids, keep)


def trained_accuracy(train_ids, train_labels, test_ids, test_labels, epochs):
    keras.utils.set_random_seed(0)
    model = NegationClassifier(VOCAB)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    model.fit(train_ids.to_tensor(), train_labels, batch_size=64, epochs=epochs, verbose=0)
    return model.evaluate(test_ids.to_tensor(), test_labels, verbose=0, return_dict=True)["binary_accuracy"]


size, epochs = (3000, 2) if FAST else (20000, 3)
train_ids, train_labels = labelled("train", size)
test_ids, test_labels = labelled("test", 500 if FAST else 1000)
majority = max(test_labels.mean(), 1 - test_labels.mean())
with_clue = trained_accuracy(train_ids, train_labels, test_ids, test_labels, epochs)
no_clue = trained_accuracy(without_nao(train_ids), train_labels, without_nao(test_ids), test_labels, epochs)
print(f"\ntest accuracy with não: {with_clue:.3f}; without it: {no_clue:.3f}; majority class: {majority:.3f}")
assert int(tf.reduce_sum(tf.cast(tf.equal(without_nao(test_ids).flat_values[:, None], NAO), tf.int32))) == 0
assert no_clue < with_clue - 0.1
assert no_clue - majority < (with_clue - majority) / 2  # most of the way down to the majority line
# Without its clue the accuracy falls most of the way to the majority line.
# What is left above that line comes from other regularities of the corpus
# generator's sentences that go with negation (the exercise shows that they
# exist, not which they are: the notebook's deletion test, run on this
# model, would be the way to find them).
