"""Worked solutions to the exercises of notebook 3, "Positional encoding and multi-head attention".

Run from the notebooks folder: ``python solutions/03_positional_encoding_and_attention.py``.
Each cell works one exercise out, prints what it found and asserts it.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import course
from tf_transformer.layers import MultiHeadAttention, PositionalEmbedding, causal_mask, positional_encoding

FAST = course.fast_mode()
np.set_printoptions(precision=4, suppress=True)


# %% Exercise 1
# Pair i of PE[pos] is (sin(w pos), cos(w pos)) with w = 1 / 10000^(2i / d_model).
# The angle-sum formulas give, for a shift k:
#   sin(w (pos + k)) = sin(w pos) cos(w k) + cos(w pos) sin(w k)
#   cos(w (pos + k)) = cos(w pos) cos(w k) - sin(w pos) sin(w k)
# As a row vector times a matrix:
#   [sin(w(pos+k)), cos(w(pos+k))] = [sin(w pos), cos(w pos)] @ [[ cos(wk), -sin(wk)],
#                                                                [ sin(wk),  cos(wk)]]
# The matrix is a rotation by the angle w k. It depends on k and on the pair, never on
# pos. Put one such 2 x 2 block per pair on the diagonal of a d_model x d_model
# matrix M_k and PE[pos + k] = PE[pos] @ M_k for every pos: a fixed linear map.
#
# By hand for d_model = 4 and k = 1: w_0 = 1, w_1 = 1 / 10000^(2/4) = 1/100, so
#   M_1 = [[cos 1, -sin 1, 0,        0        ],
#          [sin 1,  cos 1, 0,        0        ],
#          [0,      0,     cos .01, -sin .01  ],
#          [0,      0,     sin .01,  cos .01  ]]
# and PE[0] = (sin 0, cos 0, sin 0, cos 0) = (0, 1, 0, 1) gives
#   PE[0] @ M_1 = (sin 1, cos 1, sin .01, cos .01) = PE[1].
# A rotation keeps lengths, so every row has the same norm, sqrt(d_model / 2); and
# PE[pos] . PE[pos + k] = sum over pairs of cos(w_i k): the notebook's similarity
# depends on the distance k alone.
def shift_matrix(k, depth):
    m = np.zeros((depth, depth))
    for i in range(depth // 2):
        w = 1 / 10000 ** (2 * i / depth)
        c, s = math.cos(w * k), math.sin(w * k)
        m[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
    return m


small = positional_encoding(2, 4).numpy()
m1 = shift_matrix(1, 4)
print("M_1 for d_model = 4:\n", m1)
print("PE[0] @ M_1 =", small[0] @ m1, " PE[1] =", small[1])
np.testing.assert_allclose(small[0], [0, 1, 0, 1])
np.testing.assert_allclose(
    small[0] @ m1, [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], atol=1e-7
)
np.testing.assert_allclose(small[0] @ m1, small[1], atol=1e-6)

length, depth = 64, 128
table = positional_encoding(length, depth).numpy().astype(np.float64)
for k in (1, 5, 20):
    m = shift_matrix(k, depth)
    np.testing.assert_allclose(table[:-k] @ m, table[k:], atol=1e-5)  # every pos at once
    np.testing.assert_allclose(m @ m.T, np.eye(depth), atol=1e-12)  # a rotation
    w = 1 / 10000 ** (np.arange(0, depth, 2) / depth)
    dots = np.einsum("pd,pd->p", table[:-k], table[k:])  # PE[pos] . PE[pos + k], for every pos
    np.testing.assert_allclose(dots, np.cos(w * k).sum(), atol=1e-4)
    print(f"k = {k:2d}: PE[pos + k] == PE[pos] @ M_k at {length - k} positions; dot product {dots[0]:.3f}")
np.testing.assert_allclose(np.linalg.norm(table, axis=1), math.sqrt(depth / 2), rtol=1e-5)

# %% Exercise 2
# Decoder self-attention over the target ids [2, 15, 27, 0]: three real tokens, one pad.
#   causal mask (key j <= query i)     padding mask (key is real)    AND
#   1 0 0 0                            1 1 1 0                       1 0 0 0
#   1 1 0 0                            1 1 1 0                       1 1 0 0
#   1 1 1 0                            1 1 1 0                       1 1 1 0
#   1 1 1 1                            1 1 1 0                       1 1 1 0
# If every score is equal, softmax spreads each row evenly over its allowed keys:
#   row 0: (1, 0, 0, 0); row 1: (1/2, 1/2, 0, 0); rows 2 and 3: (1/3, 1/3, 1/3, 0).
# Row 3 is the padding position's own query: it still gets an output (its allowed
# keys are the real ones), but no loss is ever computed there (notebook 5).
# A cached decoding step at index 2 has one query, at position 2, against a cache of
# 4 slots: causal_mask(1, 4, offset=2) = [[1, 1, 1, 0]]: slot 3 is still empty.
ids = tf.constant([[2, 15, 27, 0]])
by_hand_mask = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]], dtype=bool)
by_hand_weights = by_hand_mask / by_hand_mask.sum(axis=1, keepdims=True)
combined = tf.logical_and(tf.not_equal(ids, 0)[:, None, :], causal_mask(4, 4)[None])[0]
np.testing.assert_array_equal(combined, by_hand_mask)
np.testing.assert_array_equal(causal_mask(1, 4, offset=2), [[True, True, True, False]])

# Equal scores from the library's layer: with W^Q and b^Q zero every query is the
# zero vector, so q . k = 0 for every key, whatever the inputs.
keras.utils.set_random_seed(0)
mha = MultiHeadAttention(d_model=4, num_heads=1)
x = tf.random.normal((1, 4, 4))
mha(x)
mha.query_kernel.assign(tf.zeros((4, 4)))
weights = mha.call_with_attention(x, padding_mask=tf.not_equal(ids, 0), use_causal_mask=True).weights
print("combined mask:\n", combined.numpy().astype(int))
print("weights with equal scores:\n", weights.numpy()[0, 0])
np.testing.assert_allclose(weights.numpy()[0, 0], by_hand_weights, atol=1e-7)

# %% Exercise 3
# A query whose every key is masked (a batch row that is all padding). With -inf as
# the mask value, softmax computes exp(-inf - (-inf)) = exp(nan): the row is NaN, and
# one NaN in a batch spreads into the loss and every gradient. With -1e9 the row is
# finite. In float32, numbers near 1e9 are 64 apart, so score - 1e9 rounds to exactly
# -1e9 for any score of size below 32: every masked score becomes the same number, and
# a fully masked row comes out *uniform* over its keys. (In a row with at least one
# allowed key, exp(-1e9 - max) is exactly 0 in float32: the masked keys get nothing.)
row = tf.constant([[3.0, -1.0, 0.5, 2.0]])
with_inf = tf.nn.softmax(row + float("-inf"))
with_bias = tf.nn.softmax(row - 1e9)
print("all masked with -inf:", with_inf.numpy(), " with -1e9:", with_bias.numpy())
print("float32 spacing at 1e9:", np.spacing(np.float32(1e9)))
assert np.isnan(with_inf.numpy()).all()
np.testing.assert_array_equal(with_bias.numpy(), [[0.25, 0.25, 0.25, 0.25]])
assert np.spacing(np.float32(1e9)) == 64 and np.float32(-1e9) + np.float32(3.0) == np.float32(-1e9)

# The library's layer, one sentence real and one all padding:
keras.utils.set_random_seed(1)
mha = MultiHeadAttention(d_model=8, num_heads=2)
x = tf.random.normal((2, 5, 8))
padding = tf.constant([[True, True, True, False, False], [False] * 5])
mha(x)  # creates the weights
with tf.GradientTape() as tape:
    tape.watch(x)
    out, weights = mha.call_with_attention(x, padding_mask=padding)
    total = tf.reduce_sum(out)
grad = tape.gradient(total, x)
print("all-padding row, weights of one query:", weights.numpy()[1, 0, 0])
np.testing.assert_allclose(weights.numpy()[1], np.full((2, 5, 5), 0.2), atol=1e-7)  # uniform, no NaN
assert np.all(weights.numpy()[0, :, :, 3:] == 0)  # the real sentence gives its pads exactly nothing
assert np.isfinite(out.numpy()).all() and np.isfinite(grad.numpy()).all()


# %% Exercise 4
# How large are the token embedding and the positional encoding when they are added?
# Keras's Embedding starts uniform in [-0.05, 0.05]: variance 0.05^2 / 3 = 1/1200 per
# component, so a row has length about sqrt(d / 1200); times sqrt(d) (section 3.4),
# about d / sqrt(1200) = 0.0289 d. A positional row has length sqrt(d / 2) (exercise 1).
# Their ratio, 0.0289 d / sqrt(d / 2) = 0.0408 sqrt(d), grows with the width and
# reaches 1 near d = 600: at the paper's 512, token and position start on an equal
# footing; at a toy width of 8 the position is nine times larger, and without the
# scale it would be about 25 times larger at *every* width.
# What that does to the vectors: the cosine between the same token at two positions,
# against that between two different tokens at the same position. When the first is
# the larger, the vectors say "which token" louder than "where".
def cosine(a, b):
    return np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


widths = (8, 64, 512) if FAST else (8, 64, 512, 2048)
found = {}
for d in widths:
    keras.utils.set_random_seed(0)
    embedding = PositionalEmbedding(vocab_size=1000, d_model=d, max_length=64)
    vectors = embedding(tf.constant([[7] * 64, [9] * 64])).numpy()  # tokens 7 and 9 at every position
    rows = embedding.embedding.embeddings.numpy()
    ratio = np.linalg.norm(rows, axis=1).mean() * math.sqrt(d) / math.sqrt(d / 2)
    same_token = cosine(vectors[0, :1], vectors[0, 10:]).mean()  # token 7: position 0 vs 10..63
    same_position = cosine(vectors[0], vectors[1]).mean()  # tokens 7 and 9, each position
    found[d] = ratio, same_token, same_position
    print(
        f"d_model {d:4d}: |token| / |position| = {ratio:.3f} (by hand {0.0408 * math.sqrt(d):.3f}); "
        f"cosine, same token apart {same_token:.2f}, other token same place {same_position:.2f}"
    )
for d, (ratio, _, _) in found.items():
    assert abs(ratio / (0.0408 * math.sqrt(d)) - 1) < 0.05
assert found[8][2] > 0.95 > found[8][1]  # d = 8: the position decides, the token hardly shows
assert found[512][1] > found[512][2]  # d = 512: the token shows through
