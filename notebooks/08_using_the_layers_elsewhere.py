# %% [markdown]
# # 8. Using the layers in your own models
#
# **What you will learn:** the course's layers are a library, not notebook
# code. We import `Encoder` into a brand-new model, a Portuguese sentence
# classifier, train it on the embedded corpus, and look inside it.
#
# The task: given a Portuguese sentence, is it negated? The label comes from
# the English side of each pair (does the translation say *not* or *n't*?),
# so the classifier must learn that *não* matters, wherever it sits.

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import os
import re

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tf_transformer.data import PAD_ID, load_dataset, load_tokenizers
from tf_transformer.layers import Encoder

FAST = os.environ.get("TF_TRANSFORMER_FAST") == "1"
TRAIN_SIZE, EPOCHS = (2000, 1) if FAST else (20000, 3)
keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data: Portuguese ids and a label from the English side

# %%
tokenizers = load_tokenizers()
NEGATION = re.compile(r"\bnot\b|n't\b")


def labelled(split, size=None):
    pairs = load_dataset("embedded", split)
    if size:
        pairs = pairs.take(size)
    pt, en = zip(*[(p.decode(), e.decode()) for p, e in pairs.as_numpy_iterator()])
    ids = tokenizers.pt.tokenize(tf.constant(pt)).to_tensor(default_value=PAD_ID)  # (N, S), 0-padded
    labels = np.array([bool(NEGATION.search(e)) for e in en], dtype="float32")
    return pt, ids, labels


train_pt, train_ids, train_labels = labelled("train", TRAIN_SIZE)
test_pt, test_ids, test_labels = labelled("test")
print("train ids", train_ids.shape, " negated share:", train_labels.mean().round(3))
for sentence, label in list(zip(train_pt, train_labels))[:4]:
    print(int(label), sentence)

# %% [markdown]
# ## A new model from the library's `Encoder`
#
# The encoder turns ids into one vector per token. A classifier needs one
# vector per sentence: we average the token vectors, counting real tokens
# only (the same padding discipline as the translation model), then a
# single dense unit gives the logit.


# %%
class NegationClassifier(keras.Model):
    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
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

    def call(self, ids, training=None):
        mask = tf.not_equal(ids, PAD_ID)  # (B, S)
        vectors = self.encoder(ids, padding_mask=mask, training=training)  # (B, S, 64)
        weights = tf.cast(mask, vectors.dtype)[..., None]  # (B, S, 1)
        pooled = tf.reduce_sum(vectors * weights, 1) / tf.reduce_sum(weights, 1)  # (B, 64)
        return self.head(pooled)[:, 0]  # (B,) logits


classifier = NegationClassifier(int(tokenizers.pt.get_vocab_size()))
classifier.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
)
history = classifier.fit(
    train_ids, train_labels, batch_size=64, epochs=EPOCHS, validation_split=0.1, verbose=2
)

# %%
result = classifier.evaluate(test_ids, test_labels, verbose=0, return_dict=True)
print(
    f"test accuracy: {result['binary_accuracy']:.3f} "
    f"(always answering the majority class would give {max(test_labels.mean(), 1 - test_labels.mean()):.3f})"
)

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.history["binary_accuracy"], marker="o", label="train")
ax.plot(history.history["val_binary_accuracy"], marker="o", label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.set_title("negation classifier")
ax.legend()
plt.show()

# %% [markdown]
# ## Padding invariance carries over
#
# Because the `Encoder` takes its padding mask explicitly and the pooling
# counts real tokens only, extra padding changes nothing in the new model
# either.

# %%
sample = test_ids[:8]
padded = tf.pad(sample, [[0, 0], [0, 17]])
diff = float(tf.reduce_max(tf.abs(classifier(sample) - classifier(padded))))
print(f"max change in logits after adding 17 padding tokens: {diff:.2e}")
assert diff < 1e-4

# %% [markdown]
# ## What did it learn?
#
# Ask the trained classifier about sentences with and without *não*.

# %%
probes = [
    "O animal atravessou a rua.",
    "O animal não atravessou a rua.",
    "Eu não como o pão.",
    "Eu como o pão.",
]
probe_ids = tokenizers.pt.tokenize(tf.constant(probes)).to_tensor()
for sentence, p in zip(probes, tf.sigmoid(classifier(probe_ids)).numpy()):
    print(f"P(negated) = {p:.3f}   {sentence}")

# %% [markdown]
# ## What we built
#
# A model the course never defined, assembled from the library's `Encoder`
# with a few lines of our own: masked mean pooling and a dense head. It
# trains on the embedded corpus, beats the majority baseline, and inherits
# the padding invariance of the layers. This is how you use
# `tf_transformer.layers` in your own notebooks:
#
# ```python
# import tf_transformer
# from tf_transformer.layers import Encoder, Decoder, MultiHeadAttention, PositionalEmbedding
# ```
